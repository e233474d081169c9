"""Transcript mode (TRANSCRIPT_MODE=true): one record per conversation, per capture day, per mailbox.

Two steps:

- ``stage_item`` (called by convert_item instead of rendering): the validated, mapped item is
  noted under ``mime/staged/{capture day}/{conversation key}/{item key}.json`` (item id, raw blob,
  report day, the mailboxes it maps to, each mapped participant's keys) and its day is marked in
  the checkpoints table (``TranscriptDays``). Tracking stage ``staged``.
- ``build_transcripts`` (after the items queue has drained: ``python -m shared run``, or the
  ``build_transcripts`` timer): for every *complete* capture day D with items not yet in a
  transcript (the pull watermark is at or past D+1 00:00 UTC, and no item pulled since D is
  still waiting for conversion), for each conversation and each mailbox, renders the transcript
  of the items of D that mailbox took part in (``render_transcript``), stores it under
  ``mime/transcripts/{D}/{conversation key}/{archive id}.eml``, and queues one DeliveryMessage
  per mailbox whose ``item_id`` is the transcript's archive id. The deliverer's ledger and
  ``find_copy`` then give exactly-once, as for per-item records.

Idempotent: the archive id is a function of (conversation, day, the mailbox's item ids), so
building again queues copies the deliverer skips, and tracking copy rows are created once. An
item staged after its day was built (a re-send with a new id, a redriven poison message) goes
into a supplementary transcript of the same day holding only the items no transcript held yet.

Tracking: each item keeps its row in its own report day (``staged``, then ``converted`` with the
archive id of its transcript); each transcript copy is one copy row, in the report day of the
latest item it holds, so the report's invariant is unchanged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from shared import names
from shared.domain.items import Item, Participant, as_entered, capture_day, parse_item
from shared.domain.mapping_rule import ItemMapping
from shared.domain.phones import participant_keys
from shared.domain.record import RenderOptions
from shared.domain.record.transcript import TRANSCRIPT_CLASS, render_transcript, transcript_archive_id
from shared.pipeline.convert import BlobAttachments, ConvertOutcome, entry_point
from shared.pipeline.messages import DeliveryMessage, ItemMessage, item_key

log = logging.getLogger(__name__)

STAGED = "staged"
TRANSCRIPTS = "transcripts"
ITEM_TYPE = "transcript"


def staged_blob(day: str, conversation_id: str, item_id: str) -> str:
    return f"{STAGED}/{day}/{item_key(conversation_id)}/{item_key(item_id)}.json"


# --------------------------------------------------------------------------- stage
def stage_item(item: Item, item_mapping: ItemMapping, message: ItemMessage, *, blobs, tracking, days) -> ConvertOutcome:
    """Note a mapped item for its day's transcripts (instead of rendering it on its own)."""
    key = item_key(item.id)
    day = capture_day(item.captured_at)
    name = staged_blob(day, item.conversation.id, item.id)
    existing = blobs.get_if_exists(names.MIME, name)
    if existing is not None:
        previous = json.loads(existing)
        if previous.get("built"):  # a redelivered message: the item is in a transcript already
            tracking.item(message.report_date, key, item_id=item.id, stage="converted", item_type=item.type,
                          copies=len(previous["mailboxes"]), transcript=", ".join(sorted(set(previous["built"].values()))))
            return ConvertOutcome("converted", copies=len(previous["mailboxes"]))
    sources: dict[str, str] = {}
    for pm in item_mapping.participants:
        if pm.mailbox and pm.mailbox not in sources:
            sources[pm.mailbox] = pm.keys[0] if pm.keys else ""
    entry = {
        "item_id": item.id, "raw_blob": message.raw_blob, "report_date": message.report_date, "day": day,
        "entry_point": item.source,  # convert set it from the queue message (as_entered): the build re-reads raw/
        "conversation_id": item.conversation.id, "mailboxes": item_mapping.mailboxes, "sources": sources,
        "people": [{"keys": pm.keys, "mailbox": pm.mailbox} for pm in item_mapping.participants if pm.mailbox],
    }
    blobs.put(names.MIME, name, json.dumps(entry, ensure_ascii=False, indent=1).encode("utf-8", "surrogatepass"),
              content_type="application/json")
    days.staged(day)  # after the blob: a build that sees the mark sees the item
    tracking.item(message.report_date, key, item_id=item.id, stage=STAGED, item_type=item.type,
                  copies=len(item_mapping.mailboxes), reason=f"in the transcripts of {day}, built once that day is complete")
    return ConvertOutcome(STAGED, copies=len(item_mapping.mailboxes))


# --------------------------------------------------------------------------- plan (pure)
@dataclass(frozen=True, order=True)
class Planned:
    """One transcript to render: a conversation's items of a day, for the mailboxes that took part in all of them."""

    conversation_id: str
    item_ids: tuple[str, ...]  # sorted
    mailboxes: tuple[str, ...]  # sorted


def plan_transcripts(entries: list[dict]) -> list[Planned]:
    """Group staged entries: per conversation, per mailbox, the items that mailbox took part in;
    mailboxes with the same items share one rendering."""
    per: dict[tuple[str, str], set[str]] = {}
    for e in entries:
        for mailbox in e["mailboxes"]:
            per.setdefault((e["conversation_id"], mailbox), set()).add(e["item_id"])
    shared: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (conv, mailbox), ids in per.items():
        shared.setdefault((conv, tuple(sorted(ids))), []).append(mailbox)
    return sorted(Planned(conv, ids, tuple(sorted(mbs))) for (conv, ids), mbs in shared.items())


def mailbox_lookup(entries: list[dict], region: str) -> Callable[[Participant], str | None]:
    """A participant's mailbox, from what convert recorded for each mapped participant."""
    by_key: dict[str, str] = {}
    for e in entries:
        for person in e["people"]:
            for k in person["keys"]:
                by_key.setdefault(k, person["mailbox"])

    def mailbox_of(participant: Participant) -> str | None:
        for k in participant_keys(participant, region):
            if k in by_key:
                return by_key[k]
        return None

    return mailbox_of


def day_is_complete(day: str, *, watermark: datetime | None, today: date, pulled_waiting: Callable[[str], bool]) -> bool:
    """Every item captured on ``day`` has been pulled and converted (or staged)."""
    start = date.fromisoformat(day)
    if watermark is None or watermark < datetime.combine(start + timedelta(days=1), time(0), tzinfo=timezone.utc):
        return False
    d = start
    while d <= today:
        if pulled_waiting(d.isoformat()):
            return False
        d += timedelta(days=1)
    return True


# --------------------------------------------------------------------------- build
@dataclass
class BuildResult:
    days: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # days with staged items, not complete yet
    transcripts: int = 0
    copies: int = 0


def _staged_item(blobs, entry: dict):
    """A staged item as parsed from raw/, shown as its entry point stored it (as convert shows an item on
    its own; an entry staged before entries kept the entry point is judged by its raw blob); a changed
    re-send keeps the id it was archived under (``{id}.resent-...``)."""
    item = parse_item(blobs.get(names.RAW, entry["raw_blob"]))
    source, trust_owner = entry_point(entry.get("entry_point"), entry["raw_blob"])
    item = as_entered(item, source, trust_owner=trust_owner)
    return item if item.id == entry["item_id"] else item.model_copy(update={"id": entry["item_id"]})


def build_transcripts(*, blobs, queues, tracking, days, checkpoints, region: str, options: RenderOptions,
                      now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                      traceparent: Callable[[], str | None] = lambda: None) -> BuildResult:
    result = BuildResult()
    watermark = checkpoints.watermark()
    today = now().date()
    for day, staged_at in days.unbuilt():
        if not day_is_complete(day, watermark=watermark, today=today,
                               pulled_waiting=lambda d: tracking.any_item_in_stage(d, "pulled")):
            result.waiting.append(day)
            continue
        made, copies = build_day(day, blobs=blobs, queues=queues, tracking=tracking, region=region, options=options,
                                 traceparent=traceparent())
        days.built(day, staged_at)
        result.days.append(day)
        result.transcripts += made
        result.copies += copies
        log.info("transcripts of %s: %d rendered, %d copies queued", day, made, copies)
    return result


def manifest_blob(day: str) -> str:
    return f"{TRANSCRIPTS}/{day}/build-in-progress.json"


def build_day(day: str, *, blobs, queues, tracking, region: str, options: RenderOptions,
              traceparent: str | None = None) -> tuple[int, int]:
    """Render and queue the transcripts of ``day``'s staged items that no transcript holds yet.

    Crash-safe: the set of items a build takes is written down (the manifest) before anything is
    queued, and removed only after every item is marked built. A build that finds a manifest
    repeats exactly that set, whatever was marked before the crash, so it renders the same
    transcripts with the same archive ids (the deliverer skips what landed) instead of a second,
    partial transcript of the items that were not marked yet.
    """
    names_by_id: dict[str, str] = {}
    staged: dict[str, dict] = {}
    for name in blobs.list(names.MIME, prefix=f"{STAGED}/{day}/"):
        entry = json.loads(blobs.get(names.MIME, name))
        staged[entry["item_id"]] = entry
        names_by_id[entry["item_id"]] = name
    manifest = blobs.get_if_exists(names.MIME, manifest_blob(day))
    if manifest is not None:
        taken = json.loads(manifest)["item_ids"]
        entries = [{k: v for k, v in staged[i].items() if k != "built"} for i in taken if i in staged]
    else:
        entries = [e for e in staged.values() if not e.get("built")]
        if entries:
            blobs.put(names.MIME, manifest_blob(day), json.dumps({"item_ids": sorted(e["item_id"] for e in entries)}).encode(),
                      content_type="application/json")
    if not entries:
        return 0, 0
    by_id = {e["item_id"]: e for e in entries}
    items = {e["item_id"]: _staged_item(blobs, e) for e in entries}
    mailbox_of = mailbox_lookup(entries, region)
    built: dict[str, dict[str, str]] = {i: {} for i in by_id}
    made = copies = 0
    for plan in plan_transcripts(entries):
        chosen = [items[i] for i in plan.item_ids]
        conversation = max(chosen, key=lambda i: (i.sent_at.astimezone(timezone.utc), i.id)).conversation
        record = render_transcript(conversation, day, chosen, mailbox_of=mailbox_of, attachments=BlobAttachments(blobs),
                                   options=options)
        archive_id = transcript_archive_id(plan.conversation_id, day, list(plan.item_ids))
        mime_blob = f"{TRANSCRIPTS}/{day}/{item_key(plan.conversation_id)}/{archive_id}.eml"
        blobs.put(names.MIME, mime_blob, record.eml, content_type="message/rfc822",
                  metadata={"item_class": record.item_class, "partial": str(record.partial).lower(),
                            "items": str(len(plan.item_ids))})
        made += 1
        report_date = max(by_id[i]["report_date"] for i in plan.item_ids)
        for mailbox in plan.mailboxes:
            source = next((by_id[i]["sources"].get(mailbox, "") for i in plan.item_ids if by_id[i]["sources"].get(mailbox)), "")
            tracking.copy_pending(report_date, item_key(archive_id), mailbox, item_id=archive_id, source=source,
                                  item_type=ITEM_TYPE)
            queues.send(names.DELIVERIES_QUEUE, DeliveryMessage(
                item_id=archive_id, item_type=ITEM_TYPE, mailbox=mailbox, mime_blob=mime_blob, item_class=TRANSCRIPT_CLASS,
                partial=record.partial, report_date=report_date, source=source, traceparent=traceparent).model_dump())
            copies += 1
            for i in plan.item_ids:
                built[i][mailbox] = archive_id
    for item_id, transcripts in built.items():
        entry = by_id[item_id]
        tracking.item(entry["report_date"], item_key(item_id), item_id=item_id, stage="converted",
                      transcript=", ".join(sorted(set(transcripts.values()))), reason="")
        blobs.put(names.MIME, names_by_id[item_id],
                  json.dumps({**entry, "built": transcripts}, ensure_ascii=False, indent=1).encode("utf-8", "surrogatepass"),
                  content_type="application/json")
    blobs.delete(names.MIME, manifest_blob(day))
    return made, copies
