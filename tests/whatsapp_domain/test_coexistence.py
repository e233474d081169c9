"""Coexistence numbers: the employee's own messages (echoes), edits, deletes and the history backfill."""

from __future__ import annotations

import hashlib

from tests.whatsapp_domain.helpers import BUSINESS, CONVERSATION, CUSTOMER, CUSTOMER_UID, by_id, normalise


def test_edit_is_its_own_item_linked_to_the_original_with_the_new_text():
    (edit,) = normalise("edit").items
    assert edit["id"] == "wamid.EDIT1" and edit["type"] == "edit"
    assert edit["target_id"] == "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQTFBMkEzQTQ="
    assert edit["text"] == "Morgen! Können wir die Preise heute finalisieren?"
    assert edit["sent_at"] == "2026-11-23T09:20:02Z"
    (caption,) = normalise("edit_caption").items
    assert (caption["type"], caption["target_id"], caption["text"]) == ("edit", "wamid.IMAGE1", "Whiteboard (final)")


def test_revoke_is_a_deletion_linked_to_the_original():
    (deletion,) = normalise("revoke").items
    assert deletion["type"] == "deletion" and deletion["id"] == "wamid.REVOKE1"
    assert deletion["target_id"] == "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQjFCMkIzQjQ="
    assert "text" not in deletion and "original_text" not in deletion  # the plumbing adds it from the archive


def test_echoes_are_outbound_from_the_business_number_to_the_customer():
    result = normalise("echoes")
    assert result.unknown == ()
    items = by_id(result)
    assert list(items) == ["wamid.ECHO1", "wamid.ECHO2", "wamid.ECHO3", "wamid.ECHO4", "wamid.ECHO5"]
    for item in items.values():
        assert item["direction"] == "outbound"
        assert item["sender"] == {"phone": BUSINESS}
        assert item["recipients"] == [{"phone": CUSTOMER, "user_id": CUSTOMER_UID}]
        assert item["conversation"]["id"] == CONVERSATION
    assert items["wamid.ECHO1"]["text"] == "Morning Kerry 👋 Draft attached"
    assert items["wamid.ECHO2"]["attachments"][0]["sha256"] == hashlib.sha256(b"pricing pdf").hexdigest()
    assert items["wamid.ECHO2"]["attachments"][0]["file_name"] == "pricing-v3.pdf"
    assert (items["wamid.ECHO3"]["type"], items["wamid.ECHO3"]["target_id"]) == ("edit", "wamid.ECHO1")
    assert (items["wamid.ECHO4"]["type"], items["wamid.ECHO4"]["target_id"]) == ("deletion", "wamid.ECHO2")
    assert items["wamid.ECHO5"]["reply_to"] == "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQTFBMkEzQTQ="
    assert [m.item_id for m in result.media] == ["wamid.ECHO2"]


def test_echo_and_inbound_of_the_same_chat_share_one_conversation():
    inbound = normalise("text").items[0]
    outbound = normalise("echoes").items[0]
    assert inbound["conversation"] == outbound["conversation"]


def test_history_chunks_in_any_order_give_every_message_once_in_either_direction():
    later, earlier = normalise("history_phase1_chunk2"), normalise("history_phase1_chunk1")
    items = {**by_id(later), **by_id(earlier)}
    assert sorted(items) == ["wamid.HIST1", "wamid.HIST2", "wamid.HIST3", "wamid.HIST4", "wamid.HIST5", "wamid.HIST6"]
    assert items["wamid.HIST1"]["direction"] == "inbound" and items["wamid.HIST1"]["sender"] == {"phone": CUSTOMER}
    assert items["wamid.HIST2"]["direction"] == "outbound" and items["wamid.HIST2"]["recipients"] == [{"phone": CUSTOMER}]
    assert items["wamid.HIST6"]["conversation"]["id"] == "wa:106540352242922:+4915112345678"
    assert items["wamid.HIST1"]["sent_at"] == "2026-10-14T09:15:02Z"
    assert "media not included in the history sync" in items["wamid.HIST4"]["text"]
    assert items["wamid.HIST5"]["text"].startswith("Receipt\n[image not included")
    assert later.media == () and earlier.media == ()


def test_history_media_delivered_later_is_its_own_item_beside_the_placeholder():
    result = normalise("history_media")
    (item,) = result.items
    assert item["id"] == "wamid.HIST7#media"  # the placeholder keeps the plain wamid: both are archived
    assert item["attachments"][0]["sha256"] == hashlib.sha256(b"receipt bytes").hexdigest()
    assert [m.item_id for m in result.media] == ["wamid.HIST7#media"]


def test_declined_history_is_a_capture_gap():
    result = normalise("history_declined")
    (gap,) = result.capture_gaps
    assert (gap.kind, gap.business_phone, gap.waba_id) == ("history_declined", BUSINESS, "102290129340398")
    assert "2593109" in gap.reason
    assert result.items == ()
