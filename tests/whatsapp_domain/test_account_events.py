"""Statuses, address-book names and the account events that stop capture of a number."""

from __future__ import annotations

import json

from tests.whatsapp_domain.helpers import BUSINESS, CUSTOMER, normalise


def test_statuses_are_delivery_evidence_not_items():
    result = normalise("statuses")
    assert result.items == () and result.unknown == ()
    assert [(s.message_id, s.status) for s in result.statuses] == [("wamid.ECHO1", "sent"), ("wamid.ECHO1", "delivered"),
                                                                   ("wamid.ECHO1", "read"), ("wamid.ECHO9", "failed")]
    failed = result.statuses[3]
    assert failed.errors[0]["code"] == 131047 and "24 hours" in failed.errors[0]["details"]
    assert failed.timestamp.isoformat() == "2026-11-23T09:15:05+00:00"
    assert failed.recipient_id == "447700900123" and failed.business_phone == BUSINESS
    assert result.statuses[0].recipient_user_id == "GB.13491208655302741918"
    assert failed.dedupe_key == "wamid.ECHO9|failed"
    json.dumps(result.to_dict())


def test_partner_removed_and_offboarded_stop_capture_reconnected_resumes_it():
    (removed,) = normalise("account_update_partner_removed").capture_gaps
    assert (removed.kind, removed.event, removed.business_phone) == ("stopped", "PARTNER_REMOVED", BUSINESS)
    assert (removed.reason, removed.initiated_by) == ("PRIMARY_INACTIVITY", "SYSTEM")
    assert removed.since.isoformat() == "2026-11-23T09:15:02+00:00"
    (offboarded,) = normalise("account_update_offboarded").capture_gaps
    assert (offboarded.kind, offboarded.event) == ("stopped", "ACCOUNT_OFFBOARDED")
    (back,) = normalise("account_update_reconnected").capture_gaps
    assert (back.kind, back.event) == ("resumed", "ACCOUNT_RECONNECTED")


def test_other_account_events_are_reported_not_acted_on():
    result = normalise("account_update_other")
    assert result.capture_gaps == ()
    (unknown,) = result.unknown
    assert unknown.type == "VERIFIED_ACCOUNT" and "does not stop" in unknown.reason


def test_address_book_names_from_the_phone():
    added, removed = normalise("app_state_sync").contact_names
    assert (added.phone, added.name, added.action) == (CUSTOMER, "Kerry Fisher", "add")
    assert (removed.phone, removed.name, removed.action) == ("+4915112345678", None, "remove")
    assert added.business_phone == BUSINESS
