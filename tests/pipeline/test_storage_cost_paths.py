"""The cheaper storage paths keep the guarantees: the one-insert claim, the item's one tracking write,
the sticky slot leases and the chunked request budget (Azurite; requests counted on the wire)."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import pytest

from devtools.storage_counter import StorageCounter
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.budget import MailboxRequestBudget
from shared.adapters.storage.clients import build_storage_clients
from shared.adapters.storage.leases import MailboxSlots
from shared.adapters.storage.tables import Ledger, Tables, Tracking
from shared.settings import load_settings


@pytest.fixture
def clients(storage_connection):
    c = build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection))
    BlobStore(c.blobs).ensure_containers()
    Tables(c.tables).ensure_tables()
    return c


def test_begin_claims_with_one_insert_and_only_one_of_many_concurrent_claims_wins(clients, storage_connection):
    ledger = Ledger(Tables(clients.tables), claim_seconds=60)
    with StorageCounter(storage_connection) as counter:
        assert ledger.begin("amy@contoso.com", "item-0", owner="w").outcome == "claimed"
    assert counter.total == 1
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(ledger.begin("amy@contoso.com", "item-1", f"w{i}")))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in results].count("claimed") == 1
    assert all(r.outcome == "busy" and r.retry_after > 50 for r in results if r.outcome != "claimed")


def test_a_handed_back_or_lapsed_claim_is_taken_over_as_uncertain_and_a_delivered_one_is_skipped(clients):
    ledger = Ledger(Tables(clients.tables), claim_seconds=60)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    first = ledger.begin("ben@contoso.com", "item-2", owner="a", now=start)
    assert first.outcome == "claimed"
    assert ledger.begin("ben@contoso.com", "item-2", owner="b", now=start + timedelta(seconds=5)).outcome == "busy"
    ledger.release("ben@contoso.com", "item-2", etag=first.etag)  # a failed attempt hands it back: the create may have happened
    taken = ledger.begin("ben@contoso.com", "item-2", owner="b")
    assert taken.outcome == "claimed" and taken.uncertain  # so Graph is asked first
    assert ledger.get("ben@contoso.com", "item-2")["status"] == "creating"
    lapsed = ledger.begin("ben@contoso.com", "item-2", owner="c", now=datetime.now(timezone.utc) + timedelta(seconds=61))
    assert lapsed.outcome == "claimed" and lapsed.uncertain
    ledger.mark_delivered("ben@contoso.com", "item-2", message_id="m1", outcome="imported", report_date="2026-11-25")
    done = ledger.begin("ben@contoso.com", "item-2", owner="d")
    assert done.outcome == "delivered" and done.row["message_id"] == "m1"


def test_an_item_and_its_copies_are_one_write_and_a_reconversion_never_hides_a_landed_copy(clients, storage_connection):
    tracking = Tracking(Tables(clients.tables))
    item = dict(item_id="item-4", stage="converted", copies=2)
    with StorageCounter(storage_connection) as counter:
        tracking.item_with_copies("2026-11-25", "item-4", item, [
            ("dan@contoso.com", {"item_id": "item-4", "outcome": "imported", "reason": ""}),
            ("eve@contoso.com", {"item_id": "item-4", "reason": "throttled"})])
    assert counter.total == 1
    # re-converted: dan's copy found delivered again, eve's handed back again, and eve's landed meanwhile
    tracking.copy_outcome("2026-11-25", "item-4", "eve@contoso.com", "imported")
    tracking.item_with_copies("2026-11-25", "item-4", item, [
        ("dan@contoso.com", {"item_id": "item-4", "outcome": "imported", "reason": ""}),
        ("eve@contoso.com", {"item_id": "item-4", "reason": "another worker holds this copy"})])
    rows = {r["RowKey"]: r for r in tracking.rows("2026-11-25")}
    assert rows["item|item-4"]["stage"] == "converted"
    assert sorted(r["outcome"] for k, r in rows.items() if k.startswith("copy|")) == ["imported", "imported"]


def test_slot_leases_are_reused_across_copies_and_still_cap_concurrency(clients, storage_connection):
    slots = MailboxSlots(clients.blobs, slots=4, local_wait=0.2)
    with slots.hold("fay@contoso.com") as held:  # creates the slot blob once
        assert held
    with StorageCounter(storage_connection) as counter:
        for _ in range(20):
            with slots.hold("fay@contoso.com") as held:
                assert held
    assert counter.total == 0  # twenty copies in a row: the held lease is reused, storage is not asked
    other = MailboxSlots(clients.blobs, slots=4, local_wait=0.2)  # another instance
    with ExitStack() as stack:
        mine = [stack.enter_context(slots.hold("fay@contoso.com")) for _ in range(3)]
        theirs = [stack.enter_context(other.hold("fay@contoso.com")) for _ in range(3)]
        assert mine.count(True) + theirs.count(True) == 4  # never more than 4 across instances
    slots.close()
    other.close()


def test_an_idle_lease_goes_back_to_storage(clients):
    slots = MailboxSlots(clients.blobs, slots=1, idle_seconds=0.2, local_wait=0.1)
    other = MailboxSlots(clients.blobs, slots=1, local_wait=0.1)
    with slots.hold("gil@contoso.com") as held:
        assert held
    with other.hold("gil@contoso.com") as held:
        assert not held  # still held (idle) by the first instance
    deadline = time.monotonic() + 5
    while slots.upkeep() and time.monotonic() < deadline:
        time.sleep(0.1)
    with other.hold("gil@contoso.com") as held:
        assert held
    other.close()


def test_the_budget_is_reserved_in_chunks_and_the_cap_holds_across_instances(clients, storage_connection):
    tables = Tables(clients.tables)
    at = datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)
    a = MailboxRequestBudget(tables, 900, clock=lambda: at)
    with StorageCounter(storage_connection) as counter:
        assert all(a.take("hal@contoso.com") == 0.0 for _ in range(64))
    assert counter.total <= 4  # 64 requests taken in chunks of 32, not one read and write each
    b = MailboxRequestBudget(tables, 900, clock=lambda: at)
    granted = sum(1 for _ in range(1000) if b.take("hal@contoso.com") == 0.0)
    granted += sum(1 for _ in range(1000) if a.take("hal@contoso.com") == 0.0)
    assert 64 + granted <= 900  # never more than the window's budget, whoever reserved it
    assert 64 + granted >= 900 - 32  # at most a chunk left unspent


def test_a_429s_retry_after_pauses_the_mailbox_for_every_instance(clients):
    tables = Tables(clients.tables)
    clock = {"at": datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc)}
    a = MailboxRequestBudget(tables, 900, clock=lambda: clock["at"])
    b = MailboxRequestBudget(tables, 900, clock=lambda: clock["at"])
    assert a.take("ivy@contoso.com") == 0.0
    a.pause("ivy@contoso.com", 20)  # Graph answered 429 with Retry-After: 20
    assert 19 <= a.take("ivy@contoso.com") <= 20
    assert 19 <= b.take("ivy@contoso.com") <= 20  # the other instance learns it from the shared row
    assert a.take("jon@contoso.com") == 0.0  # other mailboxes go on
    clock["at"] += timedelta(seconds=21)
    assert a.take("ivy@contoso.com") == 0.0 and b.take("ivy@contoso.com") == 0.0


def test_a_claim_run_down_by_waiting_is_taken_again_and_one_taken_over_meanwhile_is_left_to_its_new_holder(
        clients, storage_connection):
    ledger = Ledger(Tables(clients.tables), claim_seconds=60)
    start = datetime.now(timezone.utc)
    mine = ledger.begin("cal@contoso.com", "item-5", owner="a", now=start)
    with StorageCounter(storage_connection) as counter:
        assert ledger.confirm("cal@contoso.com", "item-5", "a", mine, now=start + timedelta(seconds=2)) == mine
    assert counter.total == 0  # a claim with nearly its whole period ahead costs nothing more
    retaken = ledger.confirm("cal@contoso.com", "item-5", "a", mine, now=start + timedelta(seconds=20))
    assert retaken is not None and retaken.etag != mine.etag
    assert ledger.get("cal@contoso.com", "item-5")["claim_until"] == retaken.until
    assert datetime.fromisoformat(retaken.until) == start + timedelta(seconds=80)  # a whole period from the re-take
    # it lapses while its holder waits on; another worker takes the copy over
    theirs = ledger.begin("cal@contoso.com", "item-5", owner="b", now=start + timedelta(seconds=81))
    assert theirs.outcome == "claimed" and theirs.uncertain
    assert ledger.confirm("cal@contoso.com", "item-5", "a", retaken, now=start + timedelta(seconds=90)) is None
    ledger.release("cal@contoso.com", "item-5", etag=retaken.etag, nothing_created=True)  # a late hand-back: ignored
    row = ledger.get("cal@contoso.com", "item-5")
    assert (row["owner"], row["status"], row["claim_until"]) == ("b", "creating", theirs.until)
    ledger.release("cal@contoso.com", "item-5", etag=theirs.etag)  # the holder's own hand-back is written
    assert ledger.get("cal@contoso.com", "item-5")["claim_until"] == ""
