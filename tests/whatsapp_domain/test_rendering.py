"""The items the webhook normaliser makes go through the existing record renderer as any feed item does."""

from __future__ import annotations

import email
import email.policy
import hashlib

import pytest

from shared.domain.items import Attachment, parse_item
from shared.domain.record import RenderOptions, render_record
from shared.domain.whatsapp import complete_attachment
from tests.whatsapp_domain.helpers import FIXTURES, normalise

OPTIONS = RenderOptions(display_timezone="UTC", default_region="GB")
MAILBOXES = {"+15550783881": "alice@contoso.example"}
DOWNLOADS = {hashlib.sha256(b).hexdigest(): b for b in (b"photo bytes", b"pdf bytes", b"voice bytes", b"pricing pdf")}


class Downloads:
    def read(self, attachment: Attachment) -> bytes | None:
        return DOWNLOADS.get(attachment.sha256)


def _render(item: dict):
    return render_record(parse_item(item), mailbox_of=lambda p: MAILBOXES.get(p.phone or ""), attachments=Downloads(),
                         options=OPTIONS)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_item_renders_to_a_record_in_the_employees_mailbox(name):
    for item in normalise(name).items:
        message = email.message_from_bytes(_render(item).eml, policy=email.policy.default)
        addresses = f"{message['From']} {message['To']}"
        assert "alice@contoso.example" in addresses, (item["id"], addresses)


def test_a_downloaded_voice_note_is_embedded_in_the_record():
    result = normalise("voice")
    (item,), (ref,) = result.items, result.media
    done = complete_attachment(item, ref, sha256=hashlib.sha256(b"voice bytes").hexdigest(), size=len(b"voice bytes"))
    record = _render(done)
    assert not record.partial
    message = email.message_from_bytes(record.eml, policy=email.policy.default)
    payloads = [part.get_payload(decode=True) for part in message.walk() if part.get_content_maintype() == "audio"]
    assert payloads == [b"voice bytes"]
