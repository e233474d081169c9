"""normalise_webhook: one stored webhook body -> items on the ``items`` queue, as the pull would have queued them.

For each body (``webhooks/{day}/{sha256}.json``, a pointer on the ``webhooks`` queue):

1. ``normalise_payload`` (pure, ``shared.domain.whatsapp``) turns it into contract items, media refs, statuses,
   call events, contact names, capture gaps and unknown changes.
2. Contact names go to ``whatsappstate`` first and fill in the display name of participants that have none.
3. Each item: an edit or revoke whose original is archived gets the original's content (``original_text``,
   and a revoked message's files); stored raw exactly like a pulled item (``raw/{capture day}/{key}.json``);
   each of its media files fetched from Meta (WHATSAPP_ACCESS_TOKEN), sha256-checked and stored by hash in
   ``attachments/`` as the pull stores feed attachments (``complete_attachment`` then fills in hash and size,
   which a webhook may not declare); a file that cannot be had leaves the record partial, naming it and why
   (``mark_media_unavailable``, and ``corrupt_attachments`` on the tracking row as for the feed); tracked;
   queued on ``items``. The wamid is the item id and ``whatsappstate`` remembers it was queued:
   Meta's retries and history re-sends are queued once (and the ledger would skip them anyway).
4. Call events are paired with the open calls kept in ``whatsappstate`` (``pair_calls``): a finished call is
   an item; the upkeep closes calls left open too long (``wacid#unfinished``; a later end is still ``wacid``).
5. Statuses (delivered/read/failed), capture gaps and unknown changes become ``wa|...`` rows of the day's
   tracking partition, for the report; a capture gap also logs a warning and a telemetry event at once.
6. The body is marked ``normalised``. Every step is idempotent, so a crash anywhere means a retry, never a loss.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from shared import names
from shared.domain.items import WHATSAPP_CLOUD_API, ItemRejected, capture_day, parse_item
from shared.domain.masking import mask_number
from shared.domain.whatsapp import (CallEvent, MediaMismatch, MediaRef, complete_attachment, mark_media_unavailable,
                                    normalise_payload, pair_calls)
from shared.pipeline.messages import ItemMessage, item_key
from shared.pipeline.ports import FeedError
from shared.pipeline import attachment_store
from shared.pipeline.pull import _store_raw  # the pull's own raw-item store
from shared.pipeline.webhook_intake import WebhookMessage

log = logging.getLogger(__name__)

RUN_ID = "whatsapp-webhook"  # the run id of items that came by webhook (tracking rows, item messages)
SOURCE = WHATSAPP_CLOUD_API
CALL_CLOSE_AFTER = timedelta(hours=4)  # a connect with no terminate after this is archived as it stands
SWEEP_DAYS = 30  # how far back the sweep looks for bodies never normalised (queue messages expire after 7 days)


@dataclass
class WhatsAppPorts:
    bodies: Any  # adapters.storage.webhook_bodies.WebhookBodies
    blobs: Any
    queues: Any
    tracking: Any
    state: Any  # adapters.storage.whatsapp_state.WhatsAppState
    media: Any  # adapters.whatsapp_media.WhatsAppMedia
    max_dequeue_count: int = 5
    traceparent: Callable[[], str | None] = lambda: None
    telemetry: Any = None  # shared.telemetry (count, capture_gap)


@dataclass
class BodyOutcome:
    items: int = 0
    duplicates: int = 0
    media_fetched: int = 0
    media_unavailable: int = 0
    statuses: int = 0
    calls: int = 0
    gaps: int = 0
    unknown: int = 0


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def on_message(ports: WhatsAppPorts, body: bytes | str, dequeue_count: int) -> str:
    message = WebhookMessage.model_validate_json(body)
    try:
        outcome = normalise_body(message.blob, ports, received_hint=message.received_at)
    except Exception:
        if dequeue_count >= ports.max_dequeue_count:  # going to poison: the sweep must not re-queue it forever
            try:
                ports.bodies.mark(message.blob, "failed", datetime.fromisoformat(message.received_at))
            except Exception:  # noqa: BLE001 - the message still reaches the poison queue
                log.exception("could not mark webhook body %s failed", message.blob)
        raise
    return "already" if outcome is None else "normalised"


def normalise_body(name: str, ports: WhatsAppPorts, *, received_hint: str | None = None) -> BodyOutcome | None:
    raw, meta = ports.bodies.get(name)
    if meta.get("state") == "normalised":
        return None
    received_at = datetime.fromisoformat(meta.get("received_at") or received_hint or datetime.now(timezone.utc).isoformat())
    report_date = _today()
    out = BodyOutcome()
    body_key = hashlib.sha256(raw).hexdigest()[:16]
    try:
        result = normalise_payload(raw, received_at=received_at)
    except Exception as exc:  # noqa: BLE001 - the normaliser is pure and does not raise; if it ever does, keep and count
        log.error("webhook body %s: the normaliser raised %s; kept and counted as unknown", name, type(exc).__name__)
        _unknown(ports, report_date, body_key, 0, name, f"normaliser error: {type(exc).__name__}")
        out.unknown += 1
        ports.bodies.mark(name, "normalised", received_at)
        return out

    for contact in result.contact_names:
        ports.state.set_contact_name(_participant_key(contact.phone), None if contact.action == "remove" else contact.name)
    refs: dict[str, list[MediaRef]] = {}
    for ref in result.media:
        refs.setdefault(ref.item_id, []).append(ref)
    contact_name = _contact_names(ports.state)  # a body's items mostly share their participants: one read each
    for item in result.items:
        _queue_item(dict(item), refs.get(item.get("id"), []), ports, report_date=report_date, out=out,
                    contact_name=contact_name)
    if result.call_events:  # pairing only here; calls left open are closed by the upkeep, against the real clock
        out.calls += _pair(ports, list(result.call_events), now=received_at, report_date=report_date, out=out,
                           close_after=timedelta.max, contact_name=contact_name)
    for status in result.statuses:
        _status(ports, report_date, status)
        out.statuses += 1
    for gap in result.capture_gaps:
        _capture_gap(ports, report_date, gap, name)
        out.gaps += 1
    for i, unknown in enumerate(result.unknown):
        what = f"{unknown.field or '-'} / {unknown.type or '-'} at {unknown.path}: {unknown.reason}"
        _unknown(ports, report_date, body_key, i, name, what)
        out.unknown += 1
    ports.bodies.mark(name, "normalised", received_at)
    return out


# --------------------------------------------------------------------------- items
def _participant_key(value: str) -> str:
    """Phone numbers by their digits (the address book and the messages write them differently); user ids as they are."""
    digits = "".join(c for c in value if c.isdigit())
    return digits if digits and len(digits) >= 6 and not any(c.isalpha() for c in value) else value


def _contact_names(state) -> Callable[[str], str | None]:
    """``state.contact_name``, each key read once (for one body, after its own contact changes are written)."""
    known: dict[str, str | None] = {}

    def lookup(key: str) -> str | None:
        if key not in known:
            known[key] = state.contact_name(key)
        return known[key]

    return lookup


def _fill_names(item: dict, contact_name: Callable[[str], str | None]) -> None:
    """Contact names (the business phone's address book) as display names where the webhook gave none."""
    for person in [item.get("sender"), *(item.get("recipients") or [])]:
        if isinstance(person, dict) and not person.get("name"):
            key = person.get("phone") or person.get("user_id")
            name = contact_name(_participant_key(key)) if key else None
            if name:
                person["name"] = name


def _carry_original(item: dict, state, blobs) -> None:
    """An edit or deletion whose original is archived carries the original's content (the contract's fields)."""
    target = item.get("target_id")
    if item.get("type") not in ("edit", "deletion") or not target or item.get("original_text") is not None:
        return
    row = state.item(item_key(target))
    original = blobs.get_if_exists(names.RAW, row["raw_blob"]) if row and row.get("raw_blob") else None
    if original is None:
        return  # arrived before its original: still linked by target_id
    try:
        data = json.loads(original)
    except ValueError:
        return
    text = data.get("text")
    if not text:
        captions = [a.get("caption") for a in data.get("attachments") or [] if isinstance(a, dict) and a.get("caption")]
        text = "\n".join(captions) if captions else text
    if text is not None:
        item["original_text"] = text
    if item["type"] == "deletion" and not item.get("attachments") and data.get("attachments"):
        item["attachments"] = data["attachments"]  # already stored by hash: the deletion record shows the files


def _fetch_media(ports: WhatsAppPorts, item: dict, ref: MediaRef, attempts: int = 3) -> tuple[dict, str]:
    """Download one file, check it against the declared sha256, store it by hash; (completed item, outcome).

    Like the pull's ``_fetch_attachment``, but the hash may be unknown until the bytes are here and the size
    is only known after the download (``complete_attachment`` puts both into the item)."""
    size = ports.blobs.size(names.ATTACHMENTS, ref.sha256) if ref.sha256 else None
    if size is not None:
        return complete_attachment(item, ref, sha256=ref.sha256, size=size), "reused"
    last = ""
    for _ in range(attempts):
        with attachment_store.spool() as sink:
            size = ports.media.download(ref.media_id, sink, url=ref.url)
            sha256 = attachment_store.sha256_of(sink)
            try:
                completed = complete_attachment(item, ref, sha256=sha256, size=size, content_type=ref.mime_type)
            except MediaMismatch:
                last = f"got {size} bytes hashing to {sha256}"
                continue
            attachment_store.store(ports.blobs, sha256, sink, size=size, content_type=ref.mime_type,
                                   attachment_id=ref.attachment_id)
            return completed, "fetched"
    raise MediaCorrupt(f"media {ref.media_id} of item {ref.item_id}: expected sha256 {ref.sha256}, {last} after "
                       f"{attempts} downloads; the record names it as unavailable")


class MediaCorrupt(FeedError):
    """The downloaded bytes never matched the declared sha256."""


def _why(exc: FeedError) -> str:
    """The reviewer-facing reason a file could not be had (no token, no content)."""
    if isinstance(exc, MediaCorrupt):
        return "the downloaded bytes never matched the sha256 WhatsApp declared (3 downloads)"
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("media ") and ": " in text else text


def _queue_item(item: dict, refs: list[MediaRef], ports: WhatsAppPorts, *, report_date: str, out: BodyOutcome,
                contact_name: Callable[[str], str | None] | None = None) -> None:
    item_id = item["id"]
    key = item_key(item_id)
    row = ports.state.item(key)
    if row and row.get("queued"):
        out.duplicates += 1  # Meta retried, or history re-sent what the live webhook already brought
        return
    _fill_names(item, contact_name or ports.state.contact_name)
    _carry_original(item, ports.state, ports.blobs)
    unavailable: list[str] = []
    for ref in refs:
        try:
            item, outcome = _fetch_media(ports, item, ref)
        except FeedError as exc:  # expired, too large, refused, wrong bytes after re-fetching, transient after retries
            log.warning("whatsapp media %s of item %s not stored: %s", ref.media_id, item_id, type(exc).__name__)
            unavailable.append(ref.attachment_id)
            out.media_unavailable += 1
            item = mark_media_unavailable(item, ref, _why(exc))
            continue
        out.media_fetched += int(outcome == "fetched")
    try:
        parsed = parse_item(item)
        day = capture_day(parsed.captured_at)
    except ItemRejected:
        parsed, day = None, report_date  # stored and queued all the same: convert rejects it with the reason
    raw_blob, _resend, _body = _store_raw(ports.blobs, item, key, day)  # a changed re-send is kept beside, as for the feed
    ports.state.item_stored(key, raw_blob)
    ports.tracking.item(report_date, key, item_id=item_id, stage="pulled", run_id=RUN_ID, source=SOURCE,
                        item_type=parsed.type if parsed else "", corrupt_attachments=",".join(unavailable) or None,
                        raw_blob=raw_blob)  # the evidence manifest hashes the item as stored from here
    ports.queues.send(names.ITEMS_QUEUE, ItemMessage(item_id=item_id, raw_blob=raw_blob, report_date=report_date,
                                                     run_id=RUN_ID, traceparent=ports.traceparent(),
                                                     source=SOURCE).model_dump())
    ports.state.item_queued(key, report_date)
    out.items += 1


# --------------------------------------------------------------------------- calls
def _pair(ports: WhatsAppPorts, events: list[CallEvent], *, now: datetime, report_date: str,
          out: BodyOutcome | None = None, close_after: timedelta = CALL_CLOSE_AFTER,
          contact_name: Callable[[str], str | None] | None = None) -> int:
    """Pair call events with the open calls kept in whatsappstate; queue finished calls, keep the rest open.
    A call left open past ``close_after`` becomes an item of its own (``wacid#unfinished``): its end, if it
    ever comes, is still archived (as ``wacid``)."""
    open_calls = [CallEvent.from_dict(c) for c in ports.state.open_calls()]
    if not open_calls and not events:
        return 0
    call_ids = {e.call_id for e in [*open_calls, *events]}
    closed = {cid for cid in call_ids if (ports.state.item(item_key(cid)) or {}).get("queued")}
    items, still_open = pair_calls(open_calls, events, now=now, close_after=close_after, already_closed=closed)
    sink = out or BodyOutcome()
    for item in items:
        _queue_item(dict(item), [], ports, report_date=report_date, out=sink, contact_name=contact_name)
    open_ids = {c.call_id for c in still_open}
    ports.state.save_open_calls([c.to_dict() for c in still_open], [c.call_id for c in open_calls if c.call_id not in open_ids])
    return len(items)


# --------------------------------------------------------------------------- statuses, gaps, unknown
def _status(ports: WhatsAppPorts, report_date: str, status) -> None:
    codes = ",".join(str(e.get("code", "")) for e in status.errors if isinstance(e, dict))
    ports.state.report_row(report_date, f"wa|status|{item_key(status.message_id)}|{item_key(status.status or 'unknown')}",
                           status=status.status, message_id=status.message_id[:200], error_codes=codes[:200])


def _capture_gap(ports: WhatsAppPorts, report_date: str, gap, body_name: str) -> None:
    number = gap.business_phone or gap.phone_number_id or gap.waba_id or ""
    since = (gap.since or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")
    stopped = gap.kind == "stopped"
    reason = " ".join(p for p in (gap.reason, f"(initiated by {gap.initiated_by})" if gap.initiated_by else None) if p)
    masked = mask_number(number) if number else "(unknown number)"
    if stopped:
        log.warning("WhatsApp capture STOPPED for business number %s: %s %s (since %s); nothing from it is archived "
                    "until it is onboarded again", masked, gap.event, reason, since)
    else:
        log.warning("WhatsApp capture %s for business number %s (%s, since %s)", gap.kind.replace("_", " "), masked,
                    gap.event, since)
    if ports.telemetry is not None:
        ports.telemetry.capture_gap(number=masked, event=gap.event, reason=reason, since=since, stopped=stopped)
    ports.state.report_row(report_date, f"wa|gap|{item_key(number or 'unknown')}|{item_key(since)}", number=number,
                           event=gap.event, kind=gap.kind, reason=reason, since=since, stopped=stopped, body=body_name)
    if gap.kind in ("stopped", "resumed"):
        ports.state.set_gap(number or "unknown", event=gap.event, reason=reason, since=since, stopped=stopped,
                            updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _unknown(ports: WhatsAppPorts, report_date: str, body_key: str, index: int, body_name: str, what: str) -> None:
    ports.state.report_row(report_date, f"wa|unknown|{body_key}|{index}", what=what[:500],
                           body=f"{names.WEBHOOKS}/{body_name}")
    if ports.telemetry is not None:
        ports.telemetry.count("webhook", "unknown_change")


# --------------------------------------------------------------------------- upkeep
@dataclass
class UpkeepResult:
    requeued: int = 0
    calls_closed: int = 0


def upkeep(ports: WhatsAppPorts, *, now: datetime | None = None, min_age_seconds: float = 300.0) -> UpkeepResult:
    """Queue bodies stored but never queued (or queued and lost), and close calls open past CALL_CLOSE_AFTER."""
    now = now or datetime.now(timezone.utc)
    result = UpkeepResult()
    for stored in ports.bodies.unfinished(now=now, days=SWEEP_DAYS, min_age_seconds=min_age_seconds):
        ports.queues.send(names.WEBHOOKS_QUEUE, WebhookMessage(blob=stored.name, received_at=stored.received_at.isoformat(),
                                                               traceparent=ports.traceparent()).model_dump())
        result.requeued += 1
    if result.requeued:
        log.warning("whatsapp upkeep: %d stored webhook bodies were never normalised; queued them again", result.requeued)
    result.calls_closed = _pair(ports, [], now=now, report_date=_today())
    return result
