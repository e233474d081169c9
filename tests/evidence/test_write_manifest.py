"""Writing a day's manifest: hashes of what is stored, idempotent, supplements, never an overwrite, the witness."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import pytest
from azure.storage.blob import BlobServiceClient

from shared import names, telemetry
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.evidence import EvidenceStorage
from shared.domain import evidence as ev
from shared.pipeline.evidence import CopyFact, DayFacts, ItemFact, write_manifest

DAY = "2026-11-26"
PHOTO = b"\x89PNG not really a photo"
ITEM = {
    "id": "item-1", "type": "message", "captured_at": "2026-11-25T10:00:05Z", "sent_at": "2026-11-25T10:00:00Z",
    "conversation": {"id": "chat-1", "kind": "direct"}, "sender": {"phone": "+447700900123"},
    "recipients": [{"phone": "+447700900456"}], "text": "hello",
    "attachments": [{"id": "att-1", "file_name": "p.png", "content_type": "image/png", "size": len(PHOTO),
                     "sha256": hashlib.sha256(PHOTO).hexdigest(), "kind": "image"}],
}
RAW = json.dumps(ITEM).encode()
EML = b"From: a@contoso.com\r\nSubject: x\r\n\r\nbody\r\n"


@pytest.fixture
def stores(storage_connection):
    service = BlobServiceClient.from_connection_string(storage_connection)
    blobs = BlobStore(service)
    blobs.ensure_containers()
    blobs.put(names.RAW, "2026-11-25/item-1.json", RAW)
    blobs.put(names.ATTACHMENTS, hashlib.sha256(PHOTO).hexdigest(), PHOTO)
    blobs.put(names.MIME, "2026-11-25/item-1.eml", EML)
    return blobs, EvidenceStorage(service)


def facts(outcome: str = "pending", message_id: str | None = None) -> DayFacts:
    return DayFacts(items=[ItemFact("item-1", "item-1", "converted", "2026-11-25/item-1.json")],
                    copies=[CopyFact("item-1", "item-1", "a@contoso.com", outcome, message_id, DAY if message_id else None)])


def write(stores, day_facts, **kw):
    blobs, store = stores
    return write_manifest(DAY, facts=day_facts, blobs=blobs, hasher=store, store=store, **kw)


def test_the_manifest_holds_the_hash_of_every_stored_byte_and_each_copy(stores):
    result = write(stores, facts("imported", "AAMkAD-1"))
    manifest = ev.parse_manifest(stores[1].read(result.name))
    (entry,) = manifest.entries
    assert result.name == "2026-11-26.jsonl" and result.written
    assert entry.raw == ev.BlobHash("raw/2026-11-25/item-1.json", hashlib.sha256(RAW).hexdigest())
    assert entry.attachments == (ev.AttachmentHash("att-1", hashlib.sha256(PHOTO).hexdigest(), hashlib.sha256(PHOTO).hexdigest()),)
    assert entry.records == (ev.BlobHash("mime/2026-11-25/item-1.eml", hashlib.sha256(EML).hexdigest()),)
    assert entry.copies == (ev.CopyEntry("a@contoso.com", "imported", "AAMkAD-1", DAY),)
    assert entry.sent_at == "2026-11-25T10:00:00Z" and entry.source == "feed"
    assert manifest.header.previous is None and manifest.header.seq == 0


def test_a_rebuild_with_the_same_content_writes_nothing(stores):
    first = write(stores, facts())
    again = write(stores, facts())
    assert (again.name, again.sha256, again.written) == (first.name, first.sha256, False)
    assert list(stores[1].manifests()) == ["2026-11-26.jsonl"]


def test_a_rebuild_that_says_more_goes_to_a_supplement_chained_after_the_first(stores):
    first = write(stores, facts())
    before = stores[1].read(first.name)
    later = write(stores, facts("imported", "AAMkAD-1"))
    assert later.name == "2026-11-26.s1.jsonl" and later.written
    assert stores[1].read(first.name) == before  # untouched
    header = ev.parse_manifest(stores[1].read(later.name)).header
    assert header.previous == ev.Link(first.name, 0, first.sha256) and header.seq == 1
    assert write(stores, facts("imported", "AAMkAD-1")).written is False


def test_the_next_day_links_to_the_latest_file_of_the_chain(stores):
    blobs, store = stores
    first = write(stores, facts())
    nxt = write_manifest("2026-11-27", facts=DayFacts(), blobs=blobs, hasher=store, store=store)
    header = ev.parse_manifest(store.read(nxt.name)).header
    assert header.previous == ev.Link(first.name, 0, first.sha256) and header.items == 0


def test_an_existing_blob_under_the_name_is_never_overwritten(stores):
    _, store = stores
    assert store.create("2026-11-26.jsonl", b"someone else's bytes\n", seq=0)
    result = write(stores, facts())
    assert result.name == "2026-11-26.s1.jsonl"
    assert store.read("2026-11-26.jsonl") == b"someone else's bytes\n"
    assert store.create("2026-11-26.s1.jsonl", b"x", seq=9) is False  # If-None-Match: *


def test_the_manifest_hash_goes_to_application_insights_without_content(stores, caplog):
    with caplog.at_level(logging.INFO, logger="archiver"):
        result = write(stores, facts(), witness=telemetry.evidence_manifest)
    record = next(r for r in caplog.records if r.getMessage() == telemetry.EVIDENCE_MANIFEST)
    assert (record.evidence_date, record.evidence_manifest, record.evidence_sha256) == (DAY, result.name, result.sha256)
    assert result.sha256 == hashlib.sha256(stores[1].read(result.name)).hexdigest()
    ours = {k: v for k, v in vars(record).items() if k.startswith("evidence_")}
    assert "hello" not in json.dumps(ours) and set(ours) == {"evidence_date", "evidence_manifest", "evidence_sha256"}


def test_writers_at_the_same_moment_keep_one_linear_chain(stores):
    from concurrent.futures import ThreadPoolExecutor

    blobs, store = stores

    class Slow:  # a wide window between reading the chain's head and writing after it
        def __getattr__(self, name):
            return getattr(store, name)

        def manifests(self):
            listing = store.manifests()
            time.sleep(0.3)
            return listing

    days = [f"2026-11-{d:02d}" for d in range(10, 15)]
    with ThreadPoolExecutor(max_workers=len(days)) as pool:
        list(pool.map(lambda d: write_manifest(d, facts=DayFacts(), blobs=blobs, hasher=store, store=Slow()), days))
    headers = sorted((ev.parse_manifest(store.read(n)).header for n in store.manifests()), key=lambda h: h.seq)
    assert [h.seq for h in headers] == list(range(len(days)))
    for before, after in zip(headers, headers[1:]):
        assert after.previous.name == before.name
    assert ev.check_chain({n: store.read(n) for n in store.manifests()}, list(store.manifests())) == []


def test_a_resend_with_other_bytes_is_in_the_manifest_beside_the_first(stores):
    blobs, store = stores
    changed = RAW.replace(b"hello", b"hello again")
    name = f"2026-11-25/item-1.resent-{hashlib.sha256(changed).hexdigest()[:16]}.json"
    blobs.put(names.RAW, name, changed)
    blobs.put(names.RAW, "2026-11-25/item-10.resent-0123456789abcdef.json", b"{}")  # another item's, not ours
    (entry,) = ev.parse_manifest(store.read(write(stores, facts()).name)).entries
    assert entry.raw.sha256 == hashlib.sha256(RAW).hexdigest()
    assert entry.resent == (ev.BlobHash(f"raw/{name}", hashlib.sha256(changed).hexdigest()),)


def test_a_rebuild_reads_each_manifest_once(stores):
    blobs, store = stores
    first = write(stores, facts())
    reads: list[str] = []

    class Counting:
        def __getattr__(self, name):
            return getattr(store, name)

        def read(self, name):
            reads.append(name)
            return store.read(name)

    again = write_manifest(DAY, facts=facts(), blobs=blobs, hasher=store, store=Counting())
    assert (again.name, again.written) == (first.name, False)
    assert reads == [first.name]  # its hashes, the comparison under the lock and the chain's head: one download
    later = write_manifest(DAY, facts=facts("imported", "AAMkAD-1"), blobs=blobs, hasher=store, store=Counting())
    assert later.written and later.name == "2026-11-26.s1.jsonl"
    assert reads == [first.name, first.name]
    assert ev.parse_manifest(store.read(later.name)).header.previous.name == first.name


def test_the_manifest_names_the_entry_point_that_stored_an_item_never_the_items_own_claim(stores):
    blobs, _store = stores
    forged = json.dumps({**ITEM, "id": "item-2", "source": "chat_export"}).encode()  # the feed calling itself an import
    blobs.put(names.RAW, "2026-11-25/item-2.json", forged)
    blobs.put(names.RAW, "imports/chat-1/item-3.json", json.dumps({**ITEM, "id": "item-3", "source": "chat_export"}).encode())
    blobs.put(names.RAW, "2026-11-25/item-4.json", json.dumps({**ITEM, "id": "item-4"}).encode())
    day = DayFacts(items=[ItemFact("item-2", "item-2", "converted", "2026-11-25/item-2.json"),
                          ItemFact("item-3", "item-3", "converted", "imports/chat-1/item-3.json"),
                          ItemFact("item-4", "item-4", "converted", "2026-11-25/item-4.json", source="whatsapp_cloud_api")])
    manifest = ev.parse_manifest(stores[1].read(write(stores, day).name))
    assert {e.item_id: e.source for e in manifest.entries} == {
        "item-2": "feed", "item-3": "chat_export", "item-4": "whatsapp_cloud_api"}
