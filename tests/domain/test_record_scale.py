"""Scale and emptiness: 10,000 recipients, overlong strings, an item with nothing in it."""

from __future__ import annotations

import email
import time
from email import policy
from email.utils import getaddresses

from shared.domain.items import Item
from shared.domain.record import render_record
from tests.domain.record_checks import assert_headers_single_line, assert_raw_sound, assert_recoverable, parse, text_body, x_header
from tests.domain.record_samples import RAW, mailbox_of


def test_ten_thousand_recipients() -> None:
    recipients = [{"phone": f"+1555{i:07d}", "name": f"Person {i} é"} for i in range(10_000)]
    it = Item.model_validate({**RAW["message_text"], "recipients": recipients})
    started = time.monotonic()
    record = render_record(it, mailbox_of=mailbox_of, attachments=None)
    assert time.monotonic() - started < 20
    assert_raw_sound(record.eml)  # the stdlib's full parse of a 10,000-address header takes ~12 s: skipped
    compat = email.message_from_bytes(record.eml, policy=policy.compat32)  # fast parser for the big header
    to = getaddresses([str(email.header.make_header(email.header.decode_header(compat["To"])))])
    assert len(to) == 10_000
    assert to[9_999] == ("Person 9999 é", "15550009999@whatsapp.invalid")
    msg = parse(record.eml)
    assert x_header(msg, "X-WhatsApp-Recipients").split(", ")[-1] == "+15550009999"
    body = text_body(msg)
    assert "Recipient 10000:" in body and "… and 9980 more" in body


def test_minimal_item() -> None:
    it = Item.model_validate({"id": "x", "type": "message", "captured_at": "2026-01-01T00:00:00Z",
                              "sent_at": "2026-01-01T00:00:00Z", "conversation": {"id": "c", "kind": "direct"},
                              "sender": {"user_id": "u"}, "recipients": []})
    record = render_record(it, mailbox_of=lambda p: None, attachments=None)
    assert_headers_single_line(record.eml)
    msg = parse(record.eml)
    assert msg["To"] is None
    assert str(msg["From"]).endswith("<uid.u@whatsapp.invalid>")
    assert_recoverable(it, msg)
    assert not record.partial


def test_overlong_strings_stay_bounded_in_headers_and_whole_in_body() -> None:
    long_text = "word " * 20_000
    it = Item.model_validate({**RAW["message_text"], "text": long_text, "conversation":
                              {"id": "c" * 5000, "kind": "group", "title": "T" * 5000},
                              "sender": {"phone": "+447700900123", "name": "N" * 5000}})
    record = render_record(it, mailbox_of=mailbox_of, attachments=None)
    assert_headers_single_line(record.eml)
    msg = parse(record.eml)
    assert len(str(msg["Subject"])) <= 200
    assert len(msg["From"].addresses[0].display_name) <= 120
    assert long_text in text_body(msg)
    assert_recoverable(it, msg)
