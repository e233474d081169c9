"""The create body the Graph adapter writes itself is, byte for byte, what msgraph-sdk's own Message model and
kiota's JSON writer produce for the same record (the way it was built before): for generated records with any
text (quotes, control characters, astral-plane emoji, right-to-left marks), missing and present senders, copies,
dates, thread headers and Message-IDs, inline and attached parts, and for both dedupe keys."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty
from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import MessagesRequestBuilder

from shared.adapters.graph import build_graph_mailbox
from shared.adapters.graph.mailbox import (ARCHIVE_ID_PROP, MESSAGE_CLASS, MESSAGE_FLAGS, PENDING_ID_PROP,
                                         create_properties)
from shared.adapters.graph.message_json import message_json
from shared.adapters.graph.record import Address, Part, Record
from shared.pipeline.ports import ArchiveCopy
from shared.settings import load_settings

text = st.text(st.characters(codec="utf-8"), max_size=40)
addresses = st.builds(Address, name=text, address=st.emails())
parts = st.builds(Part, name=text, content_type=st.sampled_from(["image/jpeg", "text/plain", "application/pdf"]),
                  data=st.binary(max_size=300), inline=st.booleans(), content_id=st.none() | text)
records = st.builds(
    Record, subject=text, body=text, body_is_html=st.booleans(), sender=st.none() | addresses,
    to=st.lists(addresses, max_size=3), cc=st.lists(addresses, max_size=3),
    date=st.none() | st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                                  timezones=st.just(timezone.utc)),
    message_id=st.none() | text, in_reply_to=st.none() | text, references=st.none() | text,
    attachments=st.lists(parts, max_size=3))
copies = st.builds(ArchiveCopy, mailbox=st.just("alice@contoso.com"), archive_id=text, eml=st.just(b""),
                   item_class=st.sampled_from(["IPM.Note.WhatsApp.Message", "IPM.Note.WhatsApp.Call"]))


@pytest.fixture(scope="module")
def sdk_adapter():
    """A real Graph session's request adapter (nothing is sent: serialising needs no server)."""
    mailbox = build_graph_mailbox(load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true",
                                                GRAPH_ENDPOINT="http://127.0.0.1:9"))
    yield mailbox.session.adapter
    mailbox.close()


def sdk_body(adapter, record: Record, properties: list[tuple[str, str]], attachments: list[Part]) -> bytes:
    """The body as the adapter built it before: msgraph's models through the SDK's request builder."""
    def recipient(a: Address) -> Recipient:
        return Recipient(email_address=EmailAddress(name=a.name or a.address, address=a.address))

    message = Message(
        subject=record.subject,
        body=ItemBody(content_type=BodyType.Html if record.body_is_html else BodyType.Text, content=record.body),
        from_=recipient(record.sender) if record.sender else None,
        sender=recipient(record.sender) if record.sender else None,
        to_recipients=[recipient(a) for a in record.to],
        cc_recipients=[recipient(a) for a in record.cc] or None,
        internet_message_id=record.message_id,
        single_value_extended_properties=[SingleValueLegacyExtendedProperty(id=i, value=v) for i, v in properties],
        attachments=[FileAttachment(odata_type="#microsoft.graph.fileAttachment", name=p.name,
                                    content_type=p.content_type, content_bytes=p.data, is_inline=p.inline,
                                    content_id=p.content_id) for p in attachments] or None,
    )
    return MessagesRequestBuilder(adapter, {}).to_post_request_information(message).content


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=records, copy=copies, pending=st.booleans())
def test_the_create_body_is_byte_for_byte_what_the_sdk_serialises(sdk_adapter, record, copy, pending):
    properties = create_properties(copy, record, pending=pending)
    assert message_json(record, properties=properties, attachments=record.attachments) == \
        sdk_body(sdk_adapter, record, properties, record.attachments)


def test_a_copy_is_created_read_dated_and_keyed_for_dedupe():
    record = Record(subject="s", date=datetime(2026, 11, 24, 9, 15, 30, tzinfo=timezone.utc), in_reply_to="<a@x>")
    copy = ArchiveCopy(mailbox="alice@contoso.com", archive_id="item-1", eml=b"", item_class="IPM.Note.WhatsApp")
    props = dict(create_properties(copy, record, pending=False))
    assert props[MESSAGE_FLAGS] == "1"  # read, never a draft
    assert props[MESSAGE_CLASS] == copy.item_class
    assert props["SystemTime 0x0039"] == props["SystemTime 0x0E06"] == "2026-11-24T09:15:30Z"
    assert props["String 0x1042"] == "<a@x>" and "String 0x1039" not in props
    assert props[ARCHIVE_ID_PROP] == "item-1" and PENDING_ID_PROP not in props
    pending = dict(create_properties(copy, record, pending=True))
    assert pending[PENDING_ID_PROP] == "item-1" and ARCHIVE_ID_PROP not in pending
