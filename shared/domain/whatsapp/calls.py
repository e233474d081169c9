"""Calling API events (``field: "calls"``) and their pairing into contract call items.

Meta sends a ``connect`` when a call starts and a ``terminate`` (status, start/end, duration) when it
ends, in separate POSTs, in any order, possibly twice. The plumbing keeps events whose call has not
ended in a table (``CallEvent.to_dict``/``from_dict``) and calls ``pair_calls`` with them and the new
events: a terminate closes a call into one item; a connect alone for longer than ``close_after``
becomes an item saying the end was not captured, so no call stays unarchived forever.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from shared.domain.whatsapp.build import contract_item
from shared.domain.whatsapp.people import Business, Names, conversation_id, phone, user_id
from shared.domain.whatsapp.reading import Problem, non_negative_int, require_text, require_timestamp, text, timestamp
from shared.domain.whatsapp.results import CallEvent

EVENTS = ("connect", "terminate")
UNFINISHED_SUFFIX = "#unfinished"


def call_event(call: dict, *, business: Business, names: Names, received_at: datetime, path: str) -> CallEvent:
    """One ``calls[]`` entry as a CallEvent; Problem naming the field when it cannot be read."""
    call_id = require_text(call, "id", "call")
    event = require_text(call, "event", "call")
    if event not in EVENTS:
        raise Problem(f"call.event: '{event}' is not one of {', '.join(EVENTS)}")
    moment = require_timestamp(call, "timestamp", "call")
    direction = text(call.get("direction"))
    from_phone, to_phone = phone(call.get("from")), phone(call.get("to"))
    business_calls = direction == "BUSINESS_INITIATED" or (direction is None and from_phone == business.phone)
    if business_calls:
        number, uid = to_phone, user_id(call.get("to_user_id"))
    else:
        number, uid = from_phone, user_id(call.get("from_user_id"))
    if number is None and uid is None:
        raise Problem("call.from/to: no customer phone number or user id; cannot tell who was on the call")
    person = names.customer(number, uid)
    if len(call_id) > 200:
        raise Problem("call.id: longer than 200 characters")
    media = "video" if text(call.get("media_type")) == "video" or text(call.get("type")) == "video" else "voice"
    parsed = CallEvent(
        call_id=call_id,
        event=event,
        timestamp=moment,
        received_at=received_at,
        conversation_id=conversation_id(business, person),
        business=business.participant(),
        customer=person,
        direction=direction or ("BUSINESS_INITIATED" if business_calls else "USER_INITIATED"),
        status=text(call.get("status")),
        start_time=timestamp(call.get("start_time")),
        end_time=timestamp(call.get("end_time")),
        duration=non_negative_int(call.get("duration")),
        media=media,
        path=path,
    )
    # Build its item once now, so that pairing later can never meet an event that makes no valid item.
    _call_item(parsed if event == "connect" else None, parsed if event == "terminate" else None, unfinished_after=timedelta(0))
    return parsed


def _call_item(connect: CallEvent | None, terminate: CallEvent | None, *, unfinished_after: timedelta | None) -> dict[str, Any]:
    first = connect or terminate
    assert first is not None
    outbound = first.direction == "BUSINESS_INITIATED"
    started = (terminate.start_time if terminate else None) or (connect.timestamp if connect else None) or first.timestamp
    if terminate is not None:
        duration = terminate.duration
        if duration is None and terminate.start_time and terminate.end_time:
            duration = max(0, int((terminate.end_time - terminate.start_time).total_seconds()))
        duration = duration or 0
        meta_status = terminate.status or "?"
        status = "answered" if meta_status == "COMPLETED" and (duration > 0 or terminate.start_time) else "missed"
        note = f"[call ended; Meta status {meta_status}; {duration} s]"
        if connect is None:
            note += " [the call's start event was not captured]"
    else:
        duration, status = 0, "missed"
        note = (f"[call start captured; its end was not captured within {unfinished_after}: "
                "outcome and duration unknown]")
    data = {
        "id": first.call_id if terminate is not None else first.call_id + UNFINISHED_SUFFIX,
        "type": "call",
        "captured_at": (terminate or first).received_at,
        "sent_at": started,
        "conversation": {"id": first.conversation_id, "kind": "direct"},
        "sender": first.business if outbound else first.customer,
        "recipients": [first.customer if outbound else first.business],
        "direction": "outbound" if outbound else "inbound",
        "text": note,
        "call": {"media": first.media, "status": status, "started_at": started, "duration_seconds": duration},
    }
    return contract_item(data)


def pair_calls(open_calls: Iterable[CallEvent], events: Iterable[CallEvent], *, now: datetime, close_after: timedelta,
               already_closed: Collection[str] = frozenset()) -> tuple[list[dict[str, Any]], list[CallEvent]]:
    """(call items ready for the pipeline, connect events still waiting for their terminate).

    Duplicates (same call id and event) count once, the first seen winning; ``open_calls`` come first.
    A terminate with no connect still makes an item (id = the wacid). A connect still alone
    ``close_after`` after it happened and after it was received makes an item saying its end was not
    captured (id = wacid + ``#unfinished``, so a terminate arriving even later is still archived as
    its own item). ``already_closed``: call ids whose call item was already made (e.g. the ledger
    has ``wacid``): a late connect for them is dropped instead of waiting. Items come in call-id
    order of first appearance.
    """
    connects: dict[str, CallEvent] = {}
    terminates: dict[str, CallEvent] = {}
    order: list[str] = []
    for event in [*open_calls, *events]:
        table = connects if event.event == "connect" else terminates if event.event == "terminate" else None
        if table is None:
            continue
        if event.call_id not in connects and event.call_id not in terminates:
            order.append(event.call_id)
        table.setdefault(event.call_id, event)
    items: list[dict[str, Any]] = []
    still_open: list[CallEvent] = []
    for call_id in order:
        connect, terminate = connects.get(call_id), terminates.get(call_id)
        if terminate is not None:
            items.append(_call_item(connect, terminate, unfinished_after=None))
        elif call_id in already_closed:
            continue
        elif connect is not None and now - max(connect.timestamp, connect.received_at) >= close_after:
            items.append(_call_item(connect, None, unfinished_after=close_after))
        elif connect is not None:
            still_open.append(connect)
    return items, still_open
