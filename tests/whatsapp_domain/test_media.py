"""Photos, videos, audio, voice notes, documents and stickers: attachments with hex hashes and what to download."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from shared.domain.whatsapp import MediaMismatch, complete_attachment, mark_media_unavailable, normalise_payload
from shared.domain.whatsapp.reading import sha256_hex
from tests.whatsapp_domain.helpers import RECEIVED, normalise


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("fixture", "wamid", "kind", "content_type", "data", "caption", "file_name"),
    [
        ("image", "wamid.IMAGE1", "image", "image/jpeg", b"photo bytes", "Whiteboard from our meeting", ""),
        ("video", "wamid.VIDEO1", "video", "video/mp4", b"video bytes", None, ""),
        ("audio", "wamid.AUDIO1", "audio", "audio/mpeg", b"song bytes", None, ""),
        ("voice", "wamid.VOICE1", "voice", "audio/ogg; codecs=opus", b"voice bytes", None, ""),
        ("document", "wamid.DOC1", "document", "application/pdf", b"pdf bytes", "Signed contract", "contract-v3.pdf"),
        ("sticker", "wamid.STICKER1", "sticker", "image/webp", b"sticker bytes", None, ""),
    ],
)
def test_each_media_message_lists_its_file_with_the_hash_as_lowercase_hex(fixture, wamid, kind, content_type, data, caption,
                                                                          file_name):
    result = normalise(fixture)
    assert result.unknown == ()
    (item,) = result.items
    assert item["id"] == wamid and item["direction"] == "inbound"
    (attachment,) = item["attachments"]
    assert attachment["id"] == attachment["id"].strip() and attachment["kind"] == kind
    assert attachment["sha256"] == _hex(data)  # the webhook said base64; the contract wants hex
    assert attachment["content_type"] == content_type
    assert attachment["file_name"] == file_name
    assert attachment.get("caption") == caption
    assert item["text"] == (caption or "")
    (ref,) = result.media
    assert (ref.item_id, ref.attachment_id, ref.media_id, ref.kind, ref.sha256) == (wamid, attachment["id"], attachment["id"],
                                                                                   kind, _hex(data))
    assert ref.mime_type == content_type and ref.declared_in_item
    assert ref.filename == (file_name or None)


def test_a_presigned_url_in_the_webhook_is_handed_to_the_downloader():
    (ref,) = normalise("image_presigned_url").media
    assert ref.url.startswith("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387257")
    assert ref.sha256 == _hex(b"second photo")


def test_sha256_accepts_base64_and_hex_and_refuses_anything_else():
    digest = hashlib.sha256(b"x").digest()
    assert sha256_hex(base64.b64encode(digest).decode()) == digest.hex()
    assert sha256_hex(base64.urlsafe_b64encode(digest).decode().rstrip("=")) == digest.hex()
    assert sha256_hex(digest.hex().upper()) == digest.hex()
    for bad in (None, "", "abc", base64.b64encode(b"short").decode(), "g" * 64, 12, digest.hex()[:-1]):
        assert sha256_hex(bad) is None


def _image_payload(**image) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106"},
        "messages": [{"from": "447700900123", "id": "wamid.X", "timestamp": "1795425302", "type": "image",
                      "image": {"id": "99", "mime_type": "image/png", **image}}]}}]}]}).encode()


def test_complete_attachment_fills_size_and_keeps_the_declared_hash():
    result = normalise("document")
    (item,), (ref,) = result.items, result.media
    done = complete_attachment(item, ref, sha256=_hex(b"pdf bytes"), size=9)
    assert done["attachments"][0]["size"] == 9 and done["attachments"][0]["sha256"] == _hex(b"pdf bytes")
    assert item["attachments"][0]["size"] == 0  # the input is not changed
    with pytest.raises(MediaMismatch, match="wamid.DOC1"):
        complete_attachment(item, ref, sha256=_hex(b"other bytes"), size=11)


def test_media_without_a_declared_hash_is_added_to_the_item_after_download():
    result = normalise_payload(_image_payload(caption="no hash"), received_at=RECEIVED)
    (item,), (ref,) = result.items, result.media
    assert item["attachments"] == [] and ref.sha256 is None and not ref.declared_in_item
    assert item["text"] == "no hash"
    done = complete_attachment(item, ref, sha256=_hex(b"png"), size=3)
    assert done["attachments"] == [{"id": "99", "file_name": "", "content_type": "image/png", "size": 3, "sha256": _hex(b"png"),
                                    "kind": "image", "caption": "no hash"}]


def test_media_without_an_id_is_a_record_saying_the_file_was_not_delivered():
    payload = json.loads(_image_payload())
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    result = normalise_payload(json.dumps(payload).encode(), received_at=RECEIVED)
    (item,) = result.items
    assert result.media == () and item["attachments"] == []
    assert "image not included" in item["text"]


def test_a_file_that_cannot_be_downloaded_is_named_in_the_item_text():
    result = normalise_payload(_image_payload(caption="no hash"), received_at=RECEIVED)
    (item,), (ref,) = result.items, result.media
    marked = mark_media_unavailable(item, ref, "Meta answered 404 (media ids expire after 7 days)")
    assert marked["text"] == "no hash\n[image 99 could not be downloaded from WhatsApp: Meta answered 404 (media ids expire after 7 days)]"
