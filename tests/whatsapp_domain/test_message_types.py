"""Every other message type becomes a record a reviewer can read, or a placeholder saying what was lost."""

from __future__ import annotations

from tests.whatsapp_domain.helpers import BUSINESS, CUSTOMER, by_id, normalise


def test_location():
    (item,) = normalise("location").items
    assert item["location"] == {"latitude": 51.5072, "longitude": -0.1276, "name": "Contoso London",
                                "address": "1 Example St, London"}
    assert item["text"] == "https://contoso.example"


def test_shared_contact_card():
    (item,) = normalise("contacts").items
    assert item["contacts"] == [{"name": "Bob Jones", "phones": ["+1 (555) 123-0002"]}]
    assert item["sender"]["phone"] == CUSTOMER


def test_reaction_and_its_removal_link_to_the_target():
    items = by_id(normalise("reaction"))
    assert items["wamid.REACT1"]["type"] == "reaction"
    assert items["wamid.REACT1"]["emoji"] == "👍"
    assert items["wamid.REACT1"]["target_id"] == "wamid.ORIGINAL_OUT_1"
    assert items["wamid.REACT2"]["emoji"] == "" and items["wamid.REACT3"]["emoji"] == ""  # "" or no emoji: removed
    assert {i["target_id"] for i in items.values()} == {"wamid.ORIGINAL_OUT_1"}


def test_button_and_interactive_replies_keep_what_was_chosen_and_what_it_answered():
    items = by_id(normalise("interactive"))
    assert items["wamid.BTNREPLY1"]["text"].startswith("Yes, confirm\n[button reply; id: confirm-yes")
    assert items["wamid.BTNREPLY1"]["reply_to"] == "wamid.ORIGINAL_OUT_2"
    assert "Tuesday 10:00" in items["wamid.LISTREPLY1"]["text"] and "Room B" in items["wamid.LISTREPLY1"]["text"]
    assert '{"rating": "5"}' in items["wamid.NFMREPLY1"]["text"]
    (button,) = normalise("button").items
    assert button["text"] == "Stop promotions\n[quick-reply button; payload: STOP_PROMOS]"
    assert button["reply_to"] == "wamid.TEMPLATE1"


def test_order_lists_products_quantities_and_prices():
    (item,) = normalise("order").items
    assert item["text"] == "Please deliver Friday\n[order from catalog 123456789]\n- SKU-1 x 2 @ 18.4 EUR"


def test_referral_from_an_ad_is_kept_beside_the_text():
    (item,) = normalise("referral").items
    assert item["text"].startswith("Hi, I saw your ad\n[came from an ad; source_type: ad; source_id: ad123;")
    assert "source_url: https://fb.me/ad123" in item["text"]


def test_system_messages_become_events():
    items = by_id(normalise("system"))
    assert items["wamid.SYS1"]["type"] == "event"
    assert items["wamid.SYS1"]["event"]["kind"] == "number_changed"
    assert "447700900999" in items["wamid.SYS1"]["event"]["detail"]
    assert items["wamid.SYS2"]["event"]["kind"] == "security_code_changed"


def test_unsupported_placeholders_are_records_that_say_what_was_lost_and_are_reported():
    result = normalise("unsupported")
    items = by_id(result)
    assert items["wamid.UNSUP1"]["text"].startswith("[message not captured: WhatsApp delivered a placeholder without content")
    assert "poll_creation" in items["wamid.UNSUP1"]["text"] and "131051" in items["wamid.UNSUP1"]["text"]
    assert "131051" in items["wamid.UNKNOWN1"]["text"]
    assert {u.id for u in result.unknown} == {"wamid.UNSUP1", "wamid.UNKNOWN1"}
    assert all(u.reason.startswith("kept as a record") for u in result.unknown)


def test_a_new_message_type_is_kept_as_a_placeholder_and_does_not_stop_the_next_message():
    result = normalise("new_message_type")
    items = by_id(result)
    assert "'hologram', which this archiver cannot read yet" in items["wamid.NEWTYPE1"]["text"]
    assert items["wamid.TEXTNEXT"]["text"] == "still here"
    (unknown,) = result.unknown
    assert (unknown.field, unknown.type, unknown.id) == ("messages", "hologram", "wamid.NEWTYPE1")
    assert unknown.path == "$.entry[0].changes[0].value.messages[0]"


def test_group_message_is_in_the_group_conversation():
    (item,) = normalise("group").items
    assert item["conversation"] == {"id": "wa:group:120363025246125486", "kind": "group"}
    assert item["sender"]["phone"] == CUSTOMER and item["recipients"] == [{"phone": BUSINESS}]


def test_users_without_a_phone_number_are_keyed_by_their_user_id():
    (inbound,) = normalise("bsuid_only").items
    assert inbound["sender"] == {"user_id": "US.13491208655302741918", "name": "Anon Hat"}
    assert inbound["conversation"]["id"] == "wa:106540352242922:uid:US.13491208655302741918"
    (outbound,) = normalise("bsuid_only_echo").items
    assert outbound["direction"] == "outbound"
    assert outbound["sender"] == {"phone": BUSINESS}
    assert outbound["recipients"] == [{"user_id": "US.13491208655302741918"}]
    assert outbound["conversation"]["id"] == inbound["conversation"]["id"]


def test_a_message_naming_only_the_user_id_gets_the_phone_from_contacts_so_the_conversation_stays_the_same():
    import json

    from shared.domain.whatsapp import normalise_payload
    from tests.whatsapp_domain.helpers import CONVERSATION, RECEIVED, body

    payload = json.loads(body("text"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["from"]
    (item, *_) = normalise_payload(json.dumps(payload).encode(), received_at=RECEIVED).items
    assert item["sender"]["phone"] == CUSTOMER and item["conversation"]["id"] == CONVERSATION


def test_errors_on_a_message_and_product_questions_are_written_into_the_record_and_reported():
    import json

    from shared.domain.whatsapp import normalise_payload
    from tests.whatsapp_domain.helpers import RECEIVED, body

    payload = json.loads(body("text"))
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    messages[0]["errors"] = [{"code": 131052, "title": "Media download error"}]
    messages[1]["context"]["referred_product"] = {"catalog_id": "123", "product_retailer_id": "SKU-9"}
    result = normalise_payload(json.dumps(payload).encode(), received_at=RECEIVED)
    first, second = result.items[:2]
    assert first["text"].endswith("[Meta reported a problem with this message: 131052 (Media download error); part of it may be "
                                  "missing]")
    assert second["text"].endswith("[about product SKU-9 of catalog 123]")
    (unknown,) = result.unknown
    assert unknown.id == first["id"] and "131052" in unknown.reason
