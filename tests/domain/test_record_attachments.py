"""Attachments: verified embedding, partial records (too large, unavailable, tampered), safe names."""

from __future__ import annotations

import hashlib

import pytest

from shared.domain.items import Attachment, Item
from shared.domain.record import RenderOptions, render_record
from shared.domain.record.attachments import encoded_size, mime_type
from shared.domain.record.filenames import MAX_NAME, safe_file_name
from tests.domain.record_checks import (assert_files_verified, assert_headers_single_line, file_parts, omitted_parts,
                                        parse, text_body, x_header, x_headers)
from tests.domain.record_samples import BLOBS, RAW, DictSource, item, mailbox_of, sha

KiB = 1024


def render(it: Item, source, **options):
    return render_record(it, mailbox_of=mailbox_of, attachments=source,
                         options=RenderOptions(attachment_location=lambda a: f"attachments/{a.sha256}", **options))


def big_item(sizes: list[int]) -> tuple[Item, dict[str, bytes]]:
    blobs = {f"f{i}": bytes([i % 256]) * n for i, n in enumerate(sizes)}
    atts = [{"id": f"big-{i}", "file_name": f"file{i}.bin", "content_type": "application/octet-stream",
             "size": len(data), "sha256": sha(data), "kind": "document"} for i, data in enumerate(blobs.values())]
    return Item.model_validate({**RAW["message_text"], "id": "tm-big", "attachments": atts}), blobs


def test_all_embedded_when_available_and_small() -> None:
    record = render(item("message_attachments"), DictSource())
    assert not record.partial and not record.omitted and len(record.embedded) == 6
    msg = parse(record.eml)
    assert msg.get("X-WhatsApp-Partial") is None
    assert_files_verified(msg)
    assert [p.get_payload(decode=True) for p in file_parts(msg)][4] == BLOBS["pdf"]


def test_over_size_is_partial_and_named() -> None:
    it, blobs = big_item([300 * KiB, 40 * KiB, 900 * KiB])
    record = render(it, DictSource(blobs), max_item_bytes=1024 * KiB)
    assert len(record.eml) <= 1024 * KiB
    assert record.partial
    assert [o.attachment.id for o in record.omitted] == ["big-2"]
    assert record.omitted[0].reason == "too-large"
    msg = parse(record.eml)
    assert x_header(msg, "X-WhatsApp-Partial") == "true"
    assert [str(p["X-WhatsApp-Attachment-Id"]).strip() for p in file_parts(msg)] == ["big-0", "big-1"]
    (notice,) = omitted_parts(msg)
    text = notice.get_content()
    big = it.attachments[2]
    for fact in ("file2.bin", str(big.size), big.sha256, f"attachments/{big.sha256}", "size limit"):
        assert fact in text
    assert notice.get_filename() == "file2.bin.omitted.txt"
    assert "NOT EMBEDDED" in text_body(msg)
    assert any(h.endswith("status=omitted-too-large") for h in x_headers(msg, "X-WhatsApp-Attachment"))


def test_later_smaller_files_still_fit() -> None:
    it, blobs = big_item([2000 * KiB, 10 * KiB])
    record = render(it, DictSource(blobs), max_item_bytes=1024 * KiB)
    assert [o.attachment.id for o in record.omitted] == ["big-0"]
    assert len(record.embedded) == 1


def test_declared_size_over_budget_is_not_even_read() -> None:
    it, blobs = big_item([10])
    att = it.attachments[0].model_copy(update={"size": 10**12})
    it = it.model_copy(update={"attachments": [att]})
    source = DictSource(blobs)
    record = render(it, source, max_item_bytes=1024 * KiB)
    assert record.partial and source.reads == []


def test_unavailable_bytes() -> None:
    record = render(item("message_attachments"), DictSource(override={"att-5": None}))
    assert record.partial
    assert [(o.attachment.id, o.reason) for o in record.omitted] == [("att-5", "unavailable")]
    msg = parse(record.eml)
    assert len(file_parts(msg)) == 5
    assert "not available" in omitted_parts(msg)[0].get_content()


def test_mismatched_bytes_are_never_embedded() -> None:
    record = render(item("message_attachments"), DictSource(override={"att-1": b"tampered bytes"}))
    assert [(o.attachment.id, o.reason) for o in record.omitted] == [("att-1", "sha256-mismatch")]
    msg = parse(record.eml)
    assert b"tampered bytes" not in b"".join(p.get_payload(decode=True) for p in msg.walk() if not p.is_multipart())
    assert_files_verified(msg)
    assert "did not match the sha256" in omitted_parts(msg)[0].get_content()


def test_no_source_means_everything_unavailable() -> None:
    record = render_record(item("call_answered"), mailbox_of=mailbox_of, attachments=None)
    assert record.partial and record.omitted[0].attachment.id == "rec-1"
    assert record.omitted[0].location == "attachments/" + record.omitted[0].attachment.sha256


def test_source_errors_propagate() -> None:
    class Broken:
        def read(self, attachment):
            raise OSError("storage down")

    with pytest.raises(OSError):
        render(item("message_attachments"), Broken())


@pytest.mark.parametrize("declared,kind,expected", [
    ("image/jpeg", "image", "image/jpeg"),
    ("IMAGE/PNG; name=x", "image", "image/png"),
    ("audio/ogg; codecs=opus", "voice", "audio/ogg"),
    ("garbage", "voice", "audio/ogg"),
    ("garbage", "document", "application/octet-stream"),
    ("", "image", "application/octet-stream"),
    ("multipart/mixed", "document", "application/octet-stream"),
    ("message/rfc822", "document", "application/octet-stream"),
    ("text/html\r\nX-Injected: 1", "document", "application/octet-stream"),
    ("a/b/c", "other", "application/octet-stream"),
])
def test_content_types(declared: str, kind: str, expected: str) -> None:
    att = Attachment(id="a", file_name="f", content_type=declared, size=1, sha256="0" * 64, kind=kind)
    assert "/".join(mime_type(att)) == expected


@pytest.mark.parametrize("raw,expected", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\evil.exe", "evil.exe"),
    ("a\r\nb\0c.txt", "abc.txt"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ('what?<>:"|*.doc', "what_______.doc"),
    ("CON.txt", "_CON.txt"),
    ("   .hidden  ", "hidden"),
    ("Prix été 2026.xlsx", "Prix été 2026.xlsx"),
])
def test_safe_file_names(raw: str, expected: str) -> None:
    assert safe_file_name(raw, content_type="application/pdf", kind="document", sha256="ab" * 32) == expected


@pytest.mark.parametrize("raw", ["", "/", "..", "\r\n", "...", "\u202e", "/.../"])
def test_safe_file_name_never_empty(raw: str) -> None:
    name = safe_file_name(raw, content_type="image/jpeg", kind="image", sha256="ab" * 32)
    assert name == "photo-abababababab.jpg"


def test_safe_file_name_is_bounded_and_keeps_extension() -> None:
    name = safe_file_name("x" * 5000 + ".pdf", content_type="application/pdf", kind="document", sha256="0" * 64)
    assert len(name) == MAX_NAME and name.endswith(".pdf")
    name = safe_file_name("é" * 400, content_type="", kind="voice", sha256="0" * 64)
    assert len(name) <= MAX_NAME


def test_hostile_file_name_in_a_record() -> None:
    data = b"payload"
    raw_name = "..\\..\\=?utf-8?q?=0D=0A?=\r\nContent-Type: text/html\r\n\r\n<script>.pdf"
    it = Item.model_validate({**RAW["message_text"], "attachments": [
        {"id": "x\r\ny", "file_name": raw_name, "content_type": "application/pdf", "size": 7,
         "sha256": hashlib.sha256(data).hexdigest(), "kind": "document"}]})
    record = render(it, DictSource({"p": data}))
    assert_headers_single_line(record.eml)
    msg = parse(record.eml)
    (part,) = file_parts(msg)
    name = part.get_filename()
    assert "/" not in name and "\\" not in name and "\r" not in name and "\n" not in name and name.endswith(".pdf")
    assert x_header(part, "X-WhatsApp-Original-Filename") == raw_name
    assert x_header(part, "X-WhatsApp-Attachment-Id") == "x\r\ny"
    assert part.get_payload(decode=True) == data


def test_non_ascii_file_name_uses_rfc2231() -> None:
    data = b"x"
    it = Item.model_validate({**RAW["message_text"], "attachments": [
        {"id": "a", "file_name": "Prix été.pdf", "content_type": "application/pdf", "size": 1,
         "sha256": hashlib.sha256(data).hexdigest(), "kind": "document"}]})
    record = render(it, DictSource({"p": data}))
    assert b"filename*=utf-8''Prix%20%C3%A9t%C3%A9.pdf" in record.eml
    assert file_parts(parse(record.eml))[0].get_filename() == "Prix été.pdf"


def test_encoded_size_is_an_upper_bound_of_the_real_encoding() -> None:
    import base64

    for n in (0, 1, 56, 57, 58, 1000, 65536):
        encoded = base64.encodebytes(b"x" * n)
        assert encoded_size(n) >= len(encoded) + encoded.count(b"\n")  # CRLF line ends
        assert encoded_size(n) <= len(encoded) + encoded.count(b"\n") + 4
