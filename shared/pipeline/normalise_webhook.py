"""normalise_webhook: one stored webhook body -> items on the ``items`` queue, as the pull would have queued them.

For each body (``webhooks/{day}/{sha256}.json``, a pointer on the ``webhooks`` queue):

1. ``normalise_payload`` (pure, ``shared.domain.whatsapp``) turns it into contract items, media refs, statuses,
   call events, contact names, capture gaps and unknown changes.
2. Contact names go to ``whatsappstate`` first and fill in the display name of participants that have none.
3. Each item: an edit or revoke whose original is archived gets the original's content (``original_text``,
   and a revoked message's files); stored raw exactly like a pulled item (``raw/{capture day}/{key}.json``);
   each of its media files fetched from Meta (WHATSAPP_ACCESS_TOKEN), sha256-checked and stored by hash in
   ``attachments/`` with the pull's own code (a file that cannot be had leaves the record partial, naming
   it); tracked; queued on ``items``. The wamid is the item id and ``whatsappstate`` remembers it was queued:
   Meta's retries and history re-sends are queued once (and the ledger would skip them anyway).
4. Call events are paired with the open calls kept in ``whatsappstate`` (``pair_calls``): a finished call is
   an item; the upkeep closes calls left open too long.
5. Statuses (delivered/read/failed), capture gaps and unknown changes become ``wa|...`` rows of the day's
   tracking partition, for the report; a capture gap also logs a warning and a telemetry event at once.
6. The body is marked ``normalised``. Every step is idempotent, so a crash anywhere means a retry, never a loss.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from shared import names
from shared.adapters.whatsapp_media import MediaDownloads
from shared.domain.items import ItemRejected, capture_day, parse_item
from shared.domain.masking import mask_number
from shared.domain.whatsapp.normalise import normalise_payload, pair_calls
from shared.pipeline.messages import ItemMessage, item_key
from shared.pipeline.ports import FeedError
from shared.pipeline.pull import _fetch_attachment, _store_raw  # the pull's own raw store and store-by-hash code
from shared.pipeline.webhook_intake import WebhookMessage

log = logging.getLogger(__name__)

RUN_ID = "whatsapp-webhook"  # the run id of items that came by webhook (tracking rows, item messages)
SOURCE = "whatsapp_cloud_api"
CALL_CLOSE_AFTER = timedelta(hours=4)  # a connect with no terminate after this is archived as it stands
SWEEP_DAYS = 7  # Meta's media ids live 7 days: older unqueued bodies would have lost their files anyway


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
    notes: list[str] = field(default_factory=list)


def _get(obj, name: str, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


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
    except Exception as exc:  # noqa: BLE001 - the normaliser is pure and should not raise; if it does, keep and count
        log.error("webhook body %s: the normaliser raised %s; kept and counted as unknown", name, type(exc).__name__)
        _unknown(ports, report_date, body_key, 0, name, f"normaliser error: {type(exc).__name__}")
        out.unknown += 1
        ports.bodies.mark(name, "normalised", received_at)
        return out

    for contact in _get(result, "contact_names", []) or []:
        key, display = _contact_key_and_name(contact)
        if key:
            ports.state.set_contact_name(key, display)

    refs: dict[str, list] = {}
    for ref in _get(result, "media", []) or []:
        refs.setdefault(_get(ref, "item_id"), []).append(ref)

    for item in _get(result, "items", []) or []:
        _queue_item(dict(item), refs.get(item.get("id"), []), ports, report_date=report_date, out=out)

    events = list(_get(result, "call_events", []) or [])
    if events:
        _pair(ports, events, now=received_at, report_date=report_date, out=out)

    for status in _get(result, "statuses", []) or []:
        _status(ports, report_date, status)
        out.statuses += 1
    for gap in _get(result, "capture_gaps", []) or []:
        _capture_gap(ports, report_date, gap, name)
        out.gaps += 1
    for i, change in enumerate(_get(result, "unknown", []) or []):
        _unknown(ports, report_date, body_key, i, name, _describe_unknown(change))
        out.unknown += 1
    ports.bodies.mark(name, "normalised", received_at)
    return out


# --------------------------------------------------------------------------- items
def _contact_key_and_name(contact) -> tuple[str | None, str | None]:
    key = _get(contact, "phone") or _get(contact, "wa_id") or _get(contact, "user_id") or _get(contact, "key")
    display = _get(contact, "name")
    if _get(contact, "action") == "remove":
        display = None
    return (_participant_key(key) if key else None), display


def _participant_key(value: str) -> str:
    digits = "".join(c for c in value if c.isdigit())
    return digits if digits and not value.upper().startswith(("US.", "CC.")) and "." not in value else value


def _fill_names(item: dict, state) -> None:
    for person in [item.get("sender"), *(item.get("recipients") or [])]:
        if isinstance(person, dict) and not person.get("name"):
            key = person.get("phone") or person.get("user_id")
            name = state.contact_name(_participant_key(key)) if key else None
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
    if text is None:
        captions = [a.get("caption") for a in data.get("attachments") or [] if isinstance(a, dict) and a.get("caption")]
        text = "\n".join(captions) if captions else None
    if text is not None:
        item["original_text"] = text
    if item["type"] == "deletion" and not item.get("attachments") and data.get("attachments"):
        item["attachments"] = data["attachments"]  # already stored by hash: the deletion record shows the files


def _queue_item(item: dict, refs: list, ports: WhatsAppPorts, *, report_date: str, out: BodyOutcome) -> None:
    item_id = item.get("id") if isinstance(item.get("id"), str) and item.get("id") else f"invalid-{hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:16]}"
    key = item_key(item_id)
    row = ports.state.item(key)
    if row and row.get("queued"):
        out.duplicates += 1  # Meta retried, or history re-sent what the live webhook already brought
        return
    _fill_names(item, ports.state)
    _carry_original(item, ports.state, ports.blobs)
    try:
        parsed = parse_item(item)
        day = capture_day(parsed.captured_at)
    except ItemRejected:
        parsed, day = None, report_date  # stored and queued all the same: convert rejects it with the reason
    raw_blob, _changed = _store_raw(ports.blobs, item, key, day)
    ports.state.item_stored(key, raw_blob)
    unavailable: list[str] = []
    if parsed is not None:
        downloads = MediaDownloads(ports.media, {_get(r, "attachment_id"): (_get(r, "media_id"), _get(r, "url")) for r in refs})
        for attachment in parsed.all_attachments:
            try:
                outcome = _fetch_attachment(downloads, ports.blobs, attachment)
            except FeedError as exc:  # expired, too large, refused, wrong bytes after re-fetching, transient after retries
                log.warning("whatsapp media %s of item %s not stored: %s", attachment.id, item_id, type(exc).__name__)
                unavailable.append(attachment.id)
                out.media_unavailable += 1
                continue
            out.media_fetched += int(outcome == "fetched")
    ports.tracking.item(report_date, key, item_id=item_id, stage="pulled", run_id=RUN_ID, source=SOURCE,
                        item_type=parsed.type if parsed else "", corrupt_attachments=",".join(unavailable) or None)
    ports.queues.send(names.ITEMS_QUEUE, ItemMessage(item_id=item_id, raw_blob=raw_blob, report_date=report_date,
                                                     run_id=RUN_ID, traceparent=ports.traceparent()).model_dump())
    ports.state.item_queued(key, report_date)
    out.items += 1


# --------------------------------------------------------------------------- calls
def _pair(ports: WhatsAppPorts, events: list, *, now: datetime, report_date: str, out: BodyOutcome | None = None) -> int:
    open_calls = ports.state.open_calls()
    paired = pair_calls(open_calls, events, now=now, close_after=CALL_CLOSE_AFTER)
    items, still_open = _get(paired, "items", None), _get(paired, "open_calls", None)
    if items is None and isinstance(paired, tuple):
        items, still_open = paired[0], paired[1]
    open_ids = {str(_get(c, "id") or _get(c, "call_id")) for c in still_open or []}
    closed = [str(_get(c, "id") or _get(c, "call_id")) for c in open_calls if str(_get(c, "id") or _get(c, "call_id")) not in open_ids]
    sink = out or BodyOutcome()
    for item in items or []:
        _queue_item(dict(item), [], ports, report_date=report_date, out=sink)
        sink.calls += 1
    ports.state.save_open_calls([dict(c) if not isinstance(c, dict) else c for c in still_open or []], closed)
    return len(items or [])


# --------------------------------------------------------------------------- statuses, gaps, unknown
def _status(ports: WhatsAppPorts, report_date: str, status) -> None:
    sid, value = str(_get(status, "id", "")), str(_get(status, "status", ""))
    errors = _get(status, "errors") or []
    code = ",".join(str(_get(e, "code", "")) for e in errors) if isinstance(errors, list) else ""
    ports.state.report_row(report_date, f"wa|status|{item_key(sid)}|{item_key(value or 'unknown')}",
                           status=value, message_id=sid[:200], error_codes=code[:200])


def _capture_gap(ports: WhatsAppPorts, report_date: str, gap, body_name: str) -> None:
    number = str(_get(gap, "number") or _get(gap, "display_phone_number") or _get(gap, "phone_number_id") or _get(gap, "waba_id") or "")
    event = str(_get(gap, "event") or _get(gap, "kind") or "")
    reason = str(_get(gap, "reason") or "")
    since = _get(gap, "since") or _get(gap, "timestamp") or datetime.now(timezone.utc).isoformat()
    since = since.isoformat() if isinstance(since, datetime) else str(since)
    stopped = _get(gap, "stopped", event.upper() != "ACCOUNT_RECONNECTED")
    masked = mask_number(number) if number else "(unknown number)"
    if stopped:
        log.warning("WhatsApp capture STOPPED for business number %s: %s %s (since %s); nothing from it is archived "
                    "until it is reconnected", masked, event, reason, since)
    else:
        log.warning("WhatsApp capture resumed for business number %s (%s, %s)", masked, event, since)
    if ports.telemetry is not None:
        ports.telemetry.capture_gap(number=masked, event=event, reason=reason, since=since, stopped=bool(stopped))
    ports.state.report_row(report_date, f"wa|gap|{item_key(number or 'unknown')}|{item_key(since)}", number=number,
                           event=event, reason=reason, since=since, stopped=bool(stopped), body=body_name)
    ports.state.set_gap(number or "unknown", event=event, reason=reason, since=since, stopped=bool(stopped),
                        updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _describe_unknown(change) -> str:
    if isinstance(change, str):
        return change
    field_name = _get(change, "field") or ""
    why = _get(change, "reason") or _get(change, "detail") or "not understood"
    return f"{field_name}: {why}" if field_name else str(why)


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
