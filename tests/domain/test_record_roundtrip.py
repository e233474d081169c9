"""Round trip: parse each sample record back; every field of the item is there, exactly."""

from __future__ import annotations

import html
import email.utils

import pytest

from shared.domain.record import ITEM_CLASS_PREFIX, RenderOptions, message_id_for, render_record
from shared.domain.record.ids import conversation_root_id, thread_index
from tests.domain.record_checks import (assert_files_verified, assert_html_safe, assert_headers_single_line, assert_recoverable,
                                        file_parts, html_body, parse, text_body, x_header, x_headers)
from tests.domain.record_samples import RAW, DictSource, item, mailbox_of

OPTIONS = RenderOptions(display_timezone="America/New_York")


def render(name: str, **kw):
    return render_record(item(name), mailbox_of=mailbox_of, attachments=kw.get("source", DictSource()), options=OPTIONS)


@pytest.mark.parametrize("name", sorted(RAW))
def test_every_field_recoverable(name: str) -> None:
    record = render(name)
    msg = parse(record.eml)
    it = item(name)
    assert_recoverable(it, msg)
    assert_files_verified(msg)
    assert_headers_single_line(record.eml)
    assert x_header(msg, "X-WhatsApp-Item-Id") == it.id
    assert x_header(msg, "X-WhatsApp-Item-Type") == it.type
    assert x_header(msg, "X-WhatsApp-Item-Class") == record.item_class
    assert x_header(msg, "X-WhatsApp-Conversation-Id") == it.conversation.id
    assert str(msg["Message-ID"]).strip() == record.message_id == message_id_for(it.id)
    assert msg["Date"].datetime == it.sent_at
    assert msg["Thread-Index"] == thread_index(it.conversation.id)
    assert conversation_root_id(it.conversation.id) in str(msg["References"])
    assert x_headers(msg, "X-WhatsApp-Attachment") and True if it.all_attachments else True
    assert [h.split(";")[0] for h in x_headers(msg, "X-WhatsApp-Attachment")] == [a.sha256 for a in it.all_attachments]


def test_addresses_mapped_and_reserved() -> None:
    msg = parse(render("message_text").eml)
    assert msg["From"].addresses[0].addr_spec == "alice@contoso.com"
    assert msg["From"].addresses[0].display_name == "Alice Smith"
    to = [(a.display_name, a.addr_spec) for a in msg["To"].addresses]
    assert to == [("Bob Jones", "bob@contoso.com"), ("Client GmbH", "4915112345678@whatsapp.invalid")]
    hidden = parse(render("call_missed").eml)
    assert hidden["From"].addresses[0].addr_spec.endswith("@whatsapp.invalid")
    assert hidden["From"].addresses[0].addr_spec.startswith("uid.")


def test_item_classes() -> None:
    expected = {"message": "Message", "edit": "Edit", "deletion": "Deletion", "reaction": "Reaction",
                "call": "Call", "event": "Event"}
    for name in RAW:
        it = item(name)
        assert render(name).item_class == f"{ITEM_CLASS_PREFIX}.{expected[it.type]}"


def test_text_survives_byte_for_byte() -> None:
    it = item("message_text")
    msg = parse(render("message_text").eml)
    assert it.text in text_body(msg)
    assert html.escape(it.text) in html_body(msg)
    assert "<b>bold?</b>" not in html_body(msg)


@pytest.mark.parametrize("name", ["edit", "deletion", "reaction", "reaction_removed", "message_reply_forwarded"])
def test_links_to_target(name: str) -> None:
    it = item(name)
    msg = parse(render(name).eml)
    target = it.target_id or it.reply_to
    assert str(msg["In-Reply-To"]).strip() == message_id_for(target)
    assert message_id_for(target) in str(msg["References"])
    assert message_id_for(target) in text_body(msg)
    assert message_id_for(target) in html_body(msg) or html.escape(message_id_for(target)) in html_body(msg)


def test_edit_shows_new_text_and_deletion_the_notice() -> None:
    body = text_body(parse(render("edit").eml))
    assert "--- New text ---\nDraft attached, numbers on page 3.\n" in body
    body = text_body(parse(render("deletion").eml))
    assert "This message was deleted" in body and "Draft attached, numbers on page 2." in body
    assert "did not keep the deleted text" in text_body(parse(render("deletion_without_text").eml))


def test_reaction_removed_is_said() -> None:
    msg = parse(render("reaction_removed").eml)
    assert x_header(msg, "X-WhatsApp-Reaction-Removed") == "true"
    assert "(reaction removed)" in text_body(msg)
    assert "removed a reaction" in str(msg["Subject"])


def test_location_has_map_link_and_contacts() -> None:
    msg = parse(render("message_location_contacts").eml)
    page = html_body(msg)
    assert 'href="https://www.openstreetmap.org/?mlat=51.5033635&amp;mlon=-0.1276248#map=17/51.5033635/-0.1276248"' in page
    assert "Carol Lawyer" in page and "+44 7700 900999" in text_body(msg)


def test_call_details_and_recording() -> None:
    record = render("call_answered")
    msg = parse(record.eml)
    body = text_body(msg)
    assert "Video call" in body and "12:34 (754 seconds)" in body and "call recording" in body
    (part,) = file_parts(msg)
    assert part.get_content_type() == "audio/ogg" and part.get_filename() == "call-recording.ogg"
    assert "Missed voice call" in str(parse(render("call_missed").eml)["Subject"])
    assert "Declined voice call" in str(parse(render("call_declined").eml)["Subject"])


def test_times_in_utc_and_display_zone() -> None:
    page = html_body(parse(render("message_text").eml))
    assert "2026-11-22 09:15:02 UTC" in page and "2026-11-22 04:15:02 EST (America/New_York, UTC-05:00)" in page


def test_attachment_kinds_and_types() -> None:
    msg = parse(render("message_attachments").eml)
    parts = {str(p["X-WhatsApp-Attachment-Id"]).strip(): p for p in file_parts(msg)}
    assert parts["att-4"].get_content_type() == "audio/ogg"  # the voice note stays audio
    assert parts["att-1"].get_content_type() == "image/jpeg"
    assert parts["att-6"].get_content_type() == "image/webp"
    assert parts["att-5"].get_filename() == "pricing-v3.pdf"
    assert x_header(parts["att-1"], "X-WhatsApp-Caption") == "The whiteboard"


def test_thread_groups_a_conversation() -> None:
    a, b = parse(render("message_text").eml), parse(render("edit").eml)
    assert a["Thread-Index"] == b["Thread-Index"] and a["Thread-Topic"] == b["Thread-Topic"]
    assert parse(render("call_answered").eml)["Thread-Index"] != a["Thread-Index"]


def test_date_header_is_utc() -> None:
    msg = parse(render("call_missed").eml)
    assert email.utils.parsedate_to_datetime(str(msg["Date"])) == item("call_missed").sent_at


def test_unknown_display_zone_shows_utc_only() -> None:
    record = render_record(item("message_text"), mailbox_of=mailbox_of, attachments=None,
                           options=RenderOptions(display_timezone="Not/AZone"))
    body = text_body(parse(record.eml))
    assert "Sent:             2026-11-22 09:15:02 UTC\n" in body


def test_forwarded_is_visible() -> None:
    msg = parse(render("message_reply_forwarded").eml)
    assert "(forwarded)" in str(msg["Subject"])
    assert x_header(msg, "X-WhatsApp-Forwarded") == "true"
    assert x_header(msg, "X-WhatsApp-Reply-To") == "tm-0001"
    assert "forwarded a message" in text_body(msg)


@pytest.mark.parametrize("name", sorted(RAW))
def test_html_is_balanced_and_loads_nothing_from_outside(name: str) -> None:
    msg = parse(render(name).eml)
    images = assert_html_safe(html_body(msg), msg)
    pictures = [a for a in item(name).all_attachments if a.content_type in ("image/jpeg", "image/webp")]
    assert images == len(pictures)  # every embedded photo and sticker is shown inline, from this record's parts
