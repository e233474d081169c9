"""Inbound text messages: who, to whom, when, what, replies and forwards, as a reviewer reads them."""

from __future__ import annotations

from shared.domain.whatsapp import normalise_payload
from tests.whatsapp_domain.helpers import BUSINESS, CONVERSATION, CUSTOMER, CUSTOMER_UID, RECEIVED, body, by_id, normalise


def test_text_message_from_a_customer_is_an_inbound_item_to_the_business_number():
    result = normalise("text")
    assert result.unknown == ()
    items = by_id(result)
    first = items["wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQTFBMkEzQTQ="]
    assert first["type"] == "message"
    assert first["direction"] == "inbound"
    assert first["sender"] == {"phone": CUSTOMER, "user_id": CUSTOMER_UID, "name": "Kerry Fisher"}
    assert first["recipients"] == [{"phone": BUSINESS}]
    assert first["text"] == "Morgen! Können wir die Preise heute finalisieren? 🙂"
    assert first["sent_at"] == "2026-11-23T09:15:02Z"
    assert first["captured_at"] == "2026-11-23T09:20:00Z"
    assert first["conversation"] == {"id": CONVERSATION, "kind": "direct"}
    assert first["attachments"] == []
    assert "reply_to" not in first and "forwarded" not in first


def test_reply_and_forward_links():
    items = by_id(normalise("text"))
    assert items["wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQjFCMkIzQjQ="]["reply_to"] == "wamid.HBgLMTU1NTA3ODM4ODEVAgARGBJCUlVTSU5FU1NfT1JJR0lOQUwA"
    assert items["wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQzFDMkMzQzQ="]["forwarded"] is True
    assert items["wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggRDFEMkQzRDQ="]["forwarded"] is True
    assert {i["conversation"]["id"] for i in items.values()} == {CONVERSATION}


def test_meta_escaped_bytes_give_the_same_items_as_the_readable_file():
    escaped = normalise_payload(body("meta_escaped_text.body"), received_at=RECEIVED)
    assert escaped.items == normalise("text").items
