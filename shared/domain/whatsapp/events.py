"""Changes that are not items: delivery statuses, address-book names, account events that stop capture."""

from __future__ import annotations

from typing import Any

from shared.domain.whatsapp.people import business_meta, phone, user_id
from shared.domain.whatsapp.reading import Problem, obj, objects, plain_text, require_text, text, timestamp
from shared.domain.whatsapp.results import CaptureGap, ContactName, StatusEvent

# account_update events after which nothing more arrives for the number until someone acts.
STOP_EVENTS = frozenset({"PARTNER_REMOVED", "ACCOUNT_OFFBOARDED", "ACCOUNT_DELETED", "ACCOUNT_DISCONNECTED"})
RESUME_EVENTS = frozenset({"ACCOUNT_RECONNECTED"})


def _primitive(value: Any, depth: int = 0) -> Any:
    """A copy of a small JSON value holding only str/int/float/bool/None, lists and dicts (depth-bounded)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if depth > 4:
        return None
    if isinstance(value, list):
        return [_primitive(v, depth + 1) for v in value[:20]]
    if isinstance(value, dict):
        return {str(k): _primitive(v, depth + 1) for k, v in list(value.items())[:20]}
    return None


def errors_of(container: dict) -> tuple[dict[str, Any], ...]:
    out = []
    for _, error in objects(container.get("errors")):
        entry = {k: _primitive(error.get(k)) for k in ("code", "title", "message") if k in error}
        details = obj(error.get("error_data"))
        if details is not None and "details" in details:
            entry["details"] = _primitive(details.get("details"))
        out.append(entry)
    return tuple(out)


def error_summary(error: dict[str, Any]) -> str:
    code = error.get("code")
    title = error.get("title") or error.get("message")
    return " ".join(str(p) for p in (code, f"({title})" if title else None) if p is not None) or "no code"


def status_event(status: dict, value: dict, path: str) -> StatusEvent:
    business_phone, phone_number_id = business_meta(value)
    return StatusEvent(
        message_id=require_text(status, "id", "status"),
        status=require_text(status, "status", "status"),
        timestamp=timestamp(status.get("timestamp")),
        recipient_id=text(status.get("recipient_id")),
        recipient_user_id=user_id(status.get("recipient_user_id")),
        phone_number_id=phone_number_id,
        business_phone=business_phone,
        type=text(status.get("type")),
        errors=errors_of(status),
        path=path,
    )


def contact_name(entry: dict, value: dict, path: str) -> ContactName:
    kind = text(entry.get("type"))
    if kind != "contact":
        raise Problem(f"state_sync.type: '{kind or '?'}' is not 'contact'")
    contact = obj(entry.get("contact"))
    if contact is None:
        raise Problem("state_sync.contact: missing or not an object")
    number = phone(contact.get("phone_number"))
    if number is None:
        raise Problem("state_sync.contact.phone_number: missing or not a phone number")
    action = text(entry.get("action"))
    if action not in ("add", "remove"):
        raise Problem(f"state_sync.action: '{action or '?'}' is not 'add' or 'remove'")
    business_phone, phone_number_id = business_meta(value)
    return ContactName(
        phone=number,
        name=text(contact.get("full_name")) or text(contact.get("first_name")),
        first_name=plain_text(contact.get("first_name")),
        action=action,
        timestamp=timestamp((obj(entry.get("metadata")) or {}).get("timestamp")),
        phone_number_id=phone_number_id,
        business_phone=business_phone,
        path=path,
    )


def capture_gap(value: dict, entry: dict, path: str) -> CaptureGap | None:
    """The capture gap an ``account_update`` announces, or None when its event does not affect capture."""
    event = require_text(value, "event", "account_update")
    if event in STOP_EVENTS:
        kind = "stopped"
    elif event in RESUME_EVENTS:
        kind = "resumed"
    else:
        return None
    info = obj(value.get("disconnection_info")) or {}
    business_phone, phone_number_id = business_meta(value)
    return CaptureGap(
        kind=kind,
        event=event,
        since=timestamp(value.get("timestamp")) or timestamp(entry.get("time")),
        business_phone=phone(value.get("phone_number")) or business_phone,
        phone_number_id=text(value.get("phone_number_id")) or phone_number_id,
        waba_id=text(entry.get("id")),
        reason=text(info.get("reason")) or text(value.get("reason")),
        initiated_by=text(info.get("initiated_by")),
        path=path,
    )


def history_declined(history: dict, value: dict, entry: dict, path: str) -> CaptureGap:
    errors = errors_of(history)
    business_phone, phone_number_id = business_meta(value)
    return CaptureGap(
        kind="history_declined",
        event="HISTORY_NOT_SHARED",
        since=timestamp(entry.get("time")),
        business_phone=business_phone,
        phone_number_id=phone_number_id,
        waba_id=text(entry.get("id")),
        reason="; ".join(error_summary(e) for e in errors) or None,
        path=path,
    )
