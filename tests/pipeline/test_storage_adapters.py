"""The storage adapters against a real Azurite: what the pipeline's guarantees rest on."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from shared import names
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.clients import build_storage_clients
from shared.adapters.storage.leases import MailboxSlots
from shared.adapters.storage.queues import QueueStore
from shared.adapters.storage.tables import CheckpointStore, Ledger, Tables, Tracking
from shared.settings import load_settings


@pytest.fixture
def clients(storage_connection):
    c = build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection))
    BlobStore(c.blobs).ensure_containers()
    QueueStore(c.queues).ensure_queues()
    Tables(c.tables).ensure_tables()
    return c


def test_queue_messages_are_base64_as_the_functions_host_expects(clients, storage_connection):
    from azure.storage.queue import QueueClient

    QueueStore(clients.queues).send(names.ITEMS_QUEUE, {"item_id": "a"})
    raw = QueueClient.from_connection_string(storage_connection, names.ITEMS_QUEUE).receive_message()
    import base64
    import json

    assert json.loads(base64.b64decode(raw.content)) == {"item_id": "a"}


def test_delayed_message_is_invisible_until_its_delay(clients):
    queues = QueueStore(clients.queues)
    queues.send(names.DELIVERIES_QUEUE, {"n": 1}, delay_seconds=30)
    assert queues.receive(names.DELIVERIES_QUEUE) == []
    assert queues.depth(names.DELIVERIES_QUEUE) == 1


def test_checkpoint_round_trips_and_starts_empty(clients):
    store = CheckpointStore(Tables(clients.tables))
    assert store.watermark() is None
    moment = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    store.set_watermark(moment)
    assert store.watermark() == moment


def test_only_one_of_many_concurrent_claims_wins(clients):
    ledger = Ledger(Tables(clients.tables))
    results = []
    barrier = threading.Barrier(8)

    def attempt(i):
        barrier.wait()
        results.append(ledger.begin("alice@contoso.com", "item-1", owner=f"w{i}").outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("claimed") == 1
    assert results.count("busy") == 7


def test_expired_claim_after_create_attempt_is_marked_uncertain(clients):
    ledger = Ledger(Tables(clients.tables), claim_seconds=60)
    start = datetime.now(timezone.utc)
    first = ledger.begin("bob@contoso.com", "item-2", owner="crashed", now=start)
    assert first.outcome == "claimed" and not first.uncertain  # a new row: nothing can have been created yet
    assert ledger.begin("bob@contoso.com", "item-2", owner="other", now=start + timedelta(seconds=30)).outcome == "busy"
    # the worker died between Graph's 201 and the ledger write; its claim runs out
    later = ledger.begin("bob@contoso.com", "item-2", owner="next", now=start + timedelta(seconds=61))
    assert later.outcome == "claimed" and later.uncertain
    ledger.mark_delivered("bob@contoso.com", "item-2", message_id="m1", outcome="imported", report_date="2026-11-23")
    assert ledger.begin("bob@contoso.com", "item-2", owner="dup").outcome == "delivered"


def test_landed_copy_is_not_downgraded_by_a_late_duplicate(clients):
    tracking = Tracking(Tables(clients.tables))
    tracking.copy_pending("2026-11-23", "item-3", "carol@contoso.com")
    tracking.copy_outcome("2026-11-23", "item-3", "carol@contoso.com", "imported")
    tracking.copy_outcome("2026-11-23", "item-3", "carol@contoso.com", "failed", "late error")
    tracking.copy_pending("2026-11-23", "item-3", "carol@contoso.com")
    rows = tracking.rows("2026-11-23")
    assert [r["outcome"] for r in rows] == ["imported"]


def test_mailbox_slots_cap_concurrency_across_holders(clients):
    slots = MailboxSlots(clients.blobs, slots=4, local_wait=0.2)
    held = []
    from contextlib import ExitStack

    with ExitStack() as stack:
        for _ in range(6):
            held.append(stack.enter_context(slots.hold("dave@contoso.com")))
        assert held.count(True) == 4 and held.count(False) == 2
        # another mailbox has its own slots
        assert stack.enter_context(slots.hold("erin@contoso.com")) is True
    with slots.hold("dave@contoso.com") as again:
        assert again is True  # released on exit


def test_raw_blob_write_keeps_the_first_version(clients):
    blobs = BlobStore(clients.blobs)
    assert blobs.put(names.RAW, "d/x.json", b"one", overwrite=False) is True
    assert blobs.put(names.RAW, "d/x.json", b"two", overwrite=False) is False
    assert blobs.get(names.RAW, "d/x.json") == b"one"
