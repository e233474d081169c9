"""One webhook POST body to everything it says: ``normalise_payload(raw_body, received_at=...)``.

Walks ``entry[].changes[]`` and sorts each change by ``field``. Nothing here raises on bad input:
bad JSON, a wrong shape, an unknown field or message type, a message missing a required field each
become an ``Unknown`` entry (field, type, JSON path, reason) and never stop the others. Pure: the
caller passes the receive time; no clock, no I/O, no logging.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.domain.whatsapp.calls import call_event
from shared.domain.whatsapp.events import capture_gap, contact_name, error_summary, errors_of, history_declined, status_event
from shared.domain.whatsapp.messages import convert_message
from shared.domain.whatsapp.people import Business, Names, business_from
from shared.domain.whatsapp.reading import Problem, obj, text
from shared.domain.whatsapp.results import (
    CallEvent,
    CaptureGap,
    ContactName,
    MediaRef,
    Normalised,
    StatusEvent,
    Unknown,
)

OBJECT = "whatsapp_business_account"


class _Collector:
    def __init__(self, received_at: datetime):
        self.received_at = received_at
        self.items: list[dict[str, Any]] = []
        self.media: list[MediaRef] = []
        self.statuses: list[StatusEvent] = []
        self.call_events: list[CallEvent] = []
        self.contact_names: list[ContactName] = []
        self.capture_gaps: list[CaptureGap] = []
        self.unknown: list[Unknown] = []
        self.fields: list[str] = []

    def skip(self, field: str | None, kind: str | None, path: str, reason: str, record_id: str | None = None) -> None:
        self.unknown.append(Unknown(field=field, type=kind, path=path, reason=reason, id=record_id))

    def result(self) -> Normalised:
        return Normalised(items=tuple(self.items), media=tuple(self.media), statuses=tuple(self.statuses),
                          call_events=tuple(self.call_events), contact_names=tuple(self.contact_names),
                          capture_gaps=tuple(self.capture_gaps), unknown=tuple(self.unknown), fields=tuple(self.fields))


def _entries(out: _Collector, value: dict, key: str, field: str, path: str) -> list[tuple[str, dict]]:
    """(path, object) of ``value[key]``'s entries; a non-list or a non-object entry is reported."""
    raw = value.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        out.skip(field, key, f"{path}.{key}", f"'{key}' is a {type(raw).__name__}, expected a list")
        return []
    found = []
    for i, entry in enumerate(raw):
        if isinstance(entry, dict):
            found.append((f"{path}.{key}[{i}]", entry))
        else:
            out.skip(field, key, f"{path}.{key}[{i}]", f"entry is a {type(entry).__name__}, expected an object")
    return found


def _message_entries(out: _Collector, value: dict, key: str, field: str, path: str, business: Business | Problem,
                     names: Names, thread: str | None = None) -> None:
    for where, message in _entries(out, value, key, field, path):
        mtype = text(message.get("type"))
        wamid = text(message.get("id"))
        if isinstance(business, Problem):  # each message is reported with its own id, none silently merged
            out.skip(field, mtype, where, business.reason, wamid)
            continue
        try:
            converted = convert_message(message, field=field, business=business, names=names,
                                        received_at=out.received_at, thread=thread)
        except Problem as problem:
            out.skip(field, mtype, where, problem.reason, wamid)
            continue
        out.items.append(converted.item)
        out.media.extend(converted.media)
        if converted.lost:
            out.skip(field, mtype, where, f"kept as a record saying so: {converted.lost}", converted.item["id"])


def _value_errors(out: _Collector, value: dict, field: str, path: str) -> None:
    for i, error in enumerate(errors_of(value)):
        out.skip(field, "error", f"{path}.errors[{i}]", f"Meta reported error {error_summary(error)}")


def _statuses(out: _Collector, value: dict, field: str, path: str) -> None:
    for where, status in _entries(out, value, "statuses", field, path):
        try:
            out.statuses.append(status_event(status, value, where))
        except Problem as problem:
            out.skip(field, "status", where, problem.reason, text(status.get("id")))


def _business(value: dict, entry: dict, path: str) -> Business | Problem:
    try:
        return business_from(value, text(entry.get("id")), path)
    except Problem as problem:
        return problem


def _messages(out: _Collector, field: str, value: dict, entry: dict, path: str) -> None:
    _value_errors(out, value, field, path)
    _statuses(out, value, field, path)
    if value.get("messages") is not None or value.get("message_echoes") is not None:
        business = _business(value, entry, path)
        names = Names(value)
        _message_entries(out, value, "messages", "messages", path, business, names)
        _message_entries(out, value, "message_echoes", "smb_message_echoes", path, business, names)


def _history(out: _Collector, field: str, value: dict, entry: dict, path: str) -> None:
    _value_errors(out, value, field, path)
    chunks = _entries(out, value, "history", field, path)
    business = _business(value, entry, path)
    for where, chunk in chunks:
        if chunk.get("errors") is not None and chunk.get("threads") is None:
            out.capture_gaps.append(history_declined(chunk, value, entry, where))
            continue
        for thread_path, thread in _entries(out, chunk, "threads", field, where):
            _message_entries(out, thread, "messages", "history", thread_path, business, Names({}),
                             thread=text(thread.get("id")))


def _calls(out: _Collector, field: str, value: dict, entry: dict, path: str) -> None:
    _value_errors(out, value, field, path)
    _statuses(out, value, field, path)
    calls = _entries(out, value, "calls", field, path)
    if not calls:
        return
    business = _business(value, entry, path)
    names = Names(value)
    for where, call in calls:
        if isinstance(business, Problem):
            out.skip(field, text(call.get("event")) or "call", where, business.reason, text(call.get("id")))
            continue
        try:
            out.call_events.append(call_event(call, business=business, names=names, received_at=out.received_at, path=where))
        except Problem as problem:
            out.skip(field, text(call.get("event")) or "call", where, problem.reason, text(call.get("id")))


def _state_sync(out: _Collector, field: str, value: dict, entry: dict, path: str) -> None:
    for where, sync in _entries(out, value, "state_sync", field, path):
        try:
            out.contact_names.append(contact_name(sync, value, where))
        except Problem as problem:
            out.skip(field, text(sync.get("type")), where, problem.reason)


def _account_update(out: _Collector, field: str, value: dict, entry: dict, path: str) -> None:
    gap = capture_gap(value, entry, path)
    if gap is None:
        out.skip(field, text(value.get("event")), path, f"account_update event '{value.get('event')}' does not stop or "
                 "resume capture; nothing to do")
    else:
        out.capture_gaps.append(gap)


_HANDLERS: dict[str, Callable[[_Collector, str, dict, dict, str], None]] = {
    "messages": _messages,
    "smb_message_echoes": _messages,
    "history": _history,
    "calls": _calls,
    "smb_app_state_sync": _state_sync,
    "account_update": _account_update,
}


def _change(out: _Collector, change: dict, entry: dict, path: str) -> None:
    field = text(change.get("field"))
    value = obj(change.get("value"))
    if field is None:
        out.skip(None, None, path, "change without a 'field' name")
        return
    out.fields.append(field)
    handler = _HANDLERS.get(field)
    if handler is None:
        out.skip(field, None, path, f"field '{field}' is not one this archiver reads (subscribe only to the documented ones, "
                 "or extend shared/domain/whatsapp)")
        return
    if value is None:
        out.skip(field, None, f"{path}.value", "change without a 'value' object")
        return
    try:
        handler(out, field, value, entry, f"{path}.value")
    except Problem as problem:
        out.skip(field, None, f"{path}.value", problem.reason)
    except RecursionError:
        out.skip(field, None, f"{path}.value", "nested too deeply to read")
    except Exception as exc:  # a bug here must cost one change, reported, never the rest of the POST
        out.skip(field, None, f"{path}.value", f"internal error ({type(exc).__name__}) while reading this change; "
                 "the raw body is kept: report this as a bug in shared/domain/whatsapp")


def normalise_payload(raw_body: bytes, *, received_at: datetime) -> Normalised:
    """Everything one webhook POST body says. Never raises on the body; ``received_at`` must be timezone-aware."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware (UTC)")
    out = _Collector(received_at)
    try:
        data = json.loads(raw_body)
    except (ValueError, RecursionError, TypeError) as exc:
        out.skip(None, None, "$", f"body is not valid JSON ({type(exc).__name__}); the raw body is kept as received")
        return out.result()
    if not isinstance(data, dict):
        out.skip(None, None, "$", f"body is a JSON {type(data).__name__}, expected an object")
        return out.result()
    if data.get("object") != OBJECT:
        out.skip(None, None, "$.object", f"'object' is {data.get('object')!r}, expected '{OBJECT}'")
        return out.result()
    for entry_path, entry in _entries(out, data, "entry", None, "$"):  # type: ignore[arg-type]
        changes = _entries(out, entry, "changes", None, entry_path)  # type: ignore[arg-type]
        if not changes:
            out.skip(None, None, f"{entry_path}.changes", "entry without changes")
        for change_path, change in changes:
            _change(out, change, entry, change_path)
    if not data.get("entry"):
        out.skip(None, None, "$.entry", "no entries")
    return out.result()
