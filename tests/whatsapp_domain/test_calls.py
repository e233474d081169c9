"""Calls: connect and terminate events, paired into one call item, or closed as 'end not captured'."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from shared.domain.items import parse_item
from shared.domain.whatsapp import CallEvent, pair_calls
from tests.whatsapp_domain.helpers import BUSINESS, CONVERSATION, CUSTOMER, normalise

CLOSE = timedelta(hours=2)
T0 = datetime(2026, 11, 23, 9, 15, 2, tzinfo=timezone.utc)


def test_connect_then_terminate_make_one_answered_call_item():
    (connect,) = normalise("calls_connect").call_events
    (terminate,) = normalise("calls_terminate").call_events
    assert (connect.call_id, connect.event, connect.direction) == ("wacid.CALL1", "connect", "USER_INITIATED")
    assert (terminate.status, terminate.duration) == ("COMPLETED", 180)
    items, still_open = pair_calls([], [connect], now=T0 + timedelta(minutes=1), close_after=CLOSE)
    assert items == [] and still_open == [connect]
    items, still_open = pair_calls(still_open, [terminate], now=T0 + timedelta(minutes=4), close_after=CLOSE)
    assert still_open == []
    (item,) = items
    parse_item(item)
    assert item["id"] == "wacid.CALL1" and item["type"] == "call"
    assert item["direction"] == "inbound"
    assert item["sender"]["phone"] == CUSTOMER and item["recipients"] == [{"phone": BUSINESS}]
    assert item["conversation"]["id"] == CONVERSATION
    assert item["call"] == {"media": "voice", "status": "answered", "started_at": "2026-11-23T09:15:07Z", "duration_seconds": 180}
    assert item["sent_at"] == "2026-11-23T09:15:07Z"


def test_terminate_arriving_first_still_makes_the_item_and_duplicates_count_once():
    (connect,) = normalise("calls_connect").call_events
    (terminate,) = normalise("calls_terminate").call_events
    items, still_open = pair_calls([], [terminate, connect, terminate, connect], now=T0, close_after=CLOSE)
    assert len(items) == 1 and still_open == []
    alone, _ = pair_calls([], [terminate], now=T0, close_after=CLOSE)
    assert "start event was not captured" in alone[0]["text"]


def test_a_connect_with_no_terminate_is_closed_after_the_limit_saying_the_end_was_not_captured():
    (connect,) = normalise("calls_connect_only").call_events
    assert connect.direction == "BUSINESS_INITIATED"
    items, still_open = pair_calls([], [connect], now=connect.timestamp + CLOSE - timedelta(seconds=1), close_after=CLOSE)
    assert items == [] and still_open == [connect]
    items, still_open = pair_calls(still_open, [], now=connect.timestamp + CLOSE, close_after=CLOSE)
    (item,) = items
    assert still_open == []
    assert item["direction"] == "outbound" and item["sender"] == {"phone": BUSINESS}
    assert "end was not captured" in item["text"]
    assert item["call"]["duration_seconds"] == 0


def test_open_calls_survive_a_round_trip_through_a_table_row():
    (connect,) = normalise("calls_connect").call_events
    row = json.loads(json.dumps(connect.to_dict()))
    assert CallEvent.from_dict(row) == connect


def test_business_initiated_call_states_are_statuses_not_items():
    result = normalise("calls_business_states")
    assert [(s.message_id, s.type, s.status) for s in result.statuses] == [("wacid.CALL2", "call", "RINGING"),
                                                                           ("wacid.CALL2", "call", "REJECTED")]
    assert result.items == ()


def test_a_terminate_after_the_unfinished_item_is_still_archived_and_a_late_connect_does_not_wait_forever():
    (connect,) = normalise("calls_connect").call_events
    (terminate,) = normalise("calls_terminate").call_events
    late = connect.received_at + CLOSE
    (unfinished,), _ = pair_calls([connect], [], now=late, close_after=CLOSE)
    (finished,), _ = pair_calls([], [terminate], now=late, close_after=CLOSE)
    assert unfinished["id"] == "wacid.CALL1#unfinished" and finished["id"] == "wacid.CALL1"
    items, still_open = pair_calls([], [connect], now=T0, close_after=CLOSE, already_closed={"wacid.CALL1"})
    assert items == [] and still_open == []


def test_a_connect_received_late_waits_from_when_it_was_received():
    (connect,) = normalise("calls_connect").call_events
    assert connect.received_at > connect.timestamp
    items, still_open = pair_calls([], [connect], now=connect.timestamp + CLOSE, close_after=CLOSE)
    assert items == [] and still_open == [connect]
