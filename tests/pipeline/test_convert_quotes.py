"""A reply, edit, deletion or reaction quotes its original from the archive (raw items in storage), same chat only."""

from __future__ import annotations

import json

import pytest

from shared import names
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.clients import build_storage_clients
from shared.domain.items import parse_item
from shared.domain.record import RenderOptions, render_record
from shared.pipeline.convert import ArchivedItems
from shared.settings import load_settings
from tests.domain.record_samples import RAW, mailbox_of


@pytest.fixture
def blobs(storage_connection):
    store = BlobStore(build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection)).blobs)
    store.ensure_containers()
    return store


def keep(blobs, raw: dict, day: str) -> None:
    blobs.put(names.RAW, f"{day}/{raw['id']}.json", json.dumps(raw).encode())


def test_an_edit_quotes_its_original_captured_days_earlier_and_shows_before_and_after(blobs):
    original = {**RAW["message_text"], "captured_at": "2026-11-19T08:00:00Z", "sent_at": "2026-11-19T08:00:00Z"}
    keep(blobs, original, "2026-11-19")
    edit = parse_item(RAW["edit"])  # captured 2026-11-22, target tm-0001
    found = ArchivedItems(blobs)
    context = found.context_for(edit)
    assert list(context) == ["tm-0001"] and context["tm-0001"].text == original["text"]
    assert found.reads == 4  # the edit's capture day, then back day by day until found

    record = render_record(edit, mailbox_of=mailbox_of, options=RenderOptions(), context=context)
    before = record.html.index(">Before</th>")
    assert before < record.html.index("Draft attached, numbers on page 2.") < record.html.index("Evidence")
    assert "Draft attached, numbers on page 3." in record.html
    assert "--- Edited message, quoted from the archive ---\n[Sent by Alice Smith; item id tm-0001" in record.text
    # the same item and the same context give the same bytes
    assert render_record(edit, mailbox_of=mailbox_of, options=RenderOptions(), context=context).eml == record.eml


def test_another_chats_message_a_rejected_or_a_missing_one_is_not_quoted(blobs):
    keep(blobs, {**RAW["message_text"], "conversation": {"id": "other-chat", "kind": "direct"}}, "2026-11-22")
    reply = parse_item({**RAW["message_reply_forwarded"], "conversation": RAW["message_text"]["conversation"]})
    assert ArchivedItems(blobs).context_for(reply) == {}

    keep(blobs, {**RAW["message_text"], "forwarded": "yes"}, "2026-11-22")  # rejected by the contract
    assert ArchivedItems(blobs).context_for(reply) == {}

    nothing = ArchivedItems(blobs, lookback_days=2)
    assert nothing.context_for(parse_item({**RAW["reaction"], "target_id": "never-pulled"})) == {}
    assert nothing.reads == 3
    record = render_record(parse_item({**RAW["reaction"], "target_id": "never-pulled"}), mailbox_of=mailbox_of)
    assert "Reacted to: the original message (item id never-pulled) is not in the archive yet" in record.html


def test_an_original_this_process_converted_lately_is_quoted_without_a_storage_read(blobs):
    from shared.pipeline.convert import RecentItems

    recent = RecentItems(capacity=2)
    original = parse_item(RAW["message_text"])
    recent.remember(original, raw_size=500)
    found = ArchivedItems(blobs, recent=recent)
    context = found.context_for(parse_item(RAW["edit"]))  # nothing in storage at all
    assert context["tm-0001"].text == original.text and found.reads == 0
    other_chat = parse_item({**RAW["message_reply_forwarded"], "conversation": {"id": "other-chat", "kind": "direct"}})
    assert ArchivedItems(blobs, recent=recent).context_for(other_chat) == {}, "same chat only, cached or not"
    recent.remember(parse_item({**RAW["message_text"], "id": "a"}), raw_size=500)
    recent.remember(parse_item({**RAW["message_text"], "id": "b"}), raw_size=500)
    assert recent.get("tm-0001") is None, "bounded: the oldest goes first"
    recent.remember(parse_item({**RAW["message_text"], "id": "big"}), raw_size=10**6)
    assert recent.get("big") is None, "large items are not kept"
