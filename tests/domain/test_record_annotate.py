"""The headers the pipeline adds to a finished record are written as the renderer writes its own."""

from __future__ import annotations

import email
from email import policy as email_policy
from urllib.parse import unquote

from shared.domain.record.annotate import add_headers
from shared.domain.record.headers import folded_x, x_value

EML = b"From: a@example.com\r\nSubject: hi\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n"


def test_a_hostile_id_can_neither_add_a_header_nor_stop_the_record():
    hostile = "first\r\nBcc: evil@example.com\r\n\r\n100% =?utf-8?q?x?= \u00e9"
    out = add_headers(EML, [("X-WhatsApp-Resent-Of", hostile)], reference="<first@x>")
    msg = email.message_from_bytes(out, policy=email_policy.default)
    assert msg["Bcc"] is None and out.endswith(b"\r\n\r\nbody\r\n")
    assert unquote(msg["X-WhatsApp-Resent-Of"]) == hostile  # reads back exactly, like every X-WhatsApp-* header
    head = out.split(b"\r\n\r\n", 1)[0].decode("ascii")
    expected = "X-WhatsApp-Resent-Of: " + "\r\n".join(folded_x("X-WhatsApp-Resent-Of", x_value(hostile)).splitlines())
    assert expected in head  # the very form the renderer gives an item id


def test_a_long_value_is_folded_within_the_line_limit():
    value = "; ".join(f"user{n}@contoso.com: mapping file" for n in range(40))
    out = add_headers(EML, [("X-WhatsApp-Mapped-Via", value)])
    assert all(len(line) <= 998 for line in out.split(b"\r\n"))
    assert email.message_from_bytes(out, policy=email_policy.default)["X-WhatsApp-Mapped-Via"] == value
