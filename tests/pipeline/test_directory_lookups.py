"""Directory look-ups while items convert: an item naming several people new to this process waits for the
slowest look-up, not for each in turn; a look-up waiting for a Graph permit goes before the deliveries waiting
(each of a conversation's items waits for it, holding a queue worker); the permits still bound what is in flight.

The answers are cached in the real table (Azurite); the directory behind them is a stand-in whose look-ups
block until their test lets them go, so what ran side by side is proven, not timed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from shared.adapters.storage.clients import build_storage_clients
from shared.adapters.storage.tables import DirectoryCache, Tables
from shared.domain.directory import UserStatus
from shared.pipeline.convert import CachedDirectory
from shared.pipeline.graph_in_flight import GraphInFlight
from shared.pipeline.ports import DirectoryUnavailable
from shared.settings import load_settings

GIVE_UP = 10.0  # seconds a test thread waits for what must happen long before


@pytest.fixture
def cache(storage_connection):
    c = build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection))
    tables = Tables(c.tables)
    tables.ensure_tables()
    return DirectoryCache(tables, timedelta(hours=24))


class _Entra:
    """The directory behind the cache: every look-up is counted, and waits at ``barrier`` when one is set."""

    def __init__(self, *, barrier: threading.Barrier | None = None, down: frozenset[str] = frozenset()):
        self.barrier, self.down = barrier, down
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def lookup(self, address: str) -> UserStatus:
        with self._lock:
            self.asked.append(address)
        if self.barrier is not None:
            self.barrier.wait(GIVE_UP)  # BrokenBarrierError unless the others are looked up at the same time
        if address in self.down:
            raise DirectoryUnavailable(f"look-up of {address} timed out")
        return UserStatus(address=address, exists=True, enabled=True, has_mailbox=True, user_id=f"id-{address}")


def test_an_items_new_addresses_are_looked_up_side_by_side_and_each_once(cache):
    addresses = ["grace@contoso.com", "ivan@contoso.com", "judy@contoso.com"]
    entra = _Entra(barrier=threading.Barrier(3))  # only three look-ups under way at once get past it
    directory = CachedDirectory(entra, cache)

    answers = directory.lookup_all(addresses)

    assert [answers[a].user_id for a in addresses] == [f"id-{a}" for a in addresses]
    assert sorted(entra.asked) == addresses
    # the next item naming them asks neither Graph nor the table
    entra.barrier = None
    assert directory.lookup_all(list(reversed(addresses)))["ivan@contoso.com"].user_id == "id-ivan@contoso.com"
    assert len(entra.asked) == 3
    # another process reads them from the table, and asks Graph nothing
    other = _Entra()
    assert CachedDirectory(other, cache).lookup_all(addresses)["judy@contoso.com"].exists
    assert other.asked == []


def test_one_failed_look_up_fails_the_item_and_keeps_the_others_answers(cache):
    entra = _Entra(barrier=threading.Barrier(2), down=frozenset({"ivan@contoso.com"}))
    directory = CachedDirectory(entra, cache)

    with pytest.raises(DirectoryUnavailable, match="ivan@contoso.com"):
        directory.lookup_all(["grace@contoso.com", "ivan@contoso.com"])

    # the retry asks Graph only for the one that failed: never read as "not a user", never asked twice
    entra.barrier, entra.down = None, frozenset()
    answers = directory.lookup_all(["grace@contoso.com", "ivan@contoso.com"])
    assert answers["ivan@contoso.com"].exists and answers["grace@contoso.com"].exists
    assert entra.asked.count("ivan@contoso.com") == 2 and entra.asked.count("grace@contoso.com") == 1


def _wait_until(condition) -> None:
    deadline = time.monotonic() + GIVE_UP
    while not condition():
        assert time.monotonic() < deadline, "the waiting thread never got there"
        time.sleep(0.005)


def test_a_directory_look_up_gets_the_next_free_permit_before_the_deliveries_waiting():
    permits = GraphInFlight(1)
    order: list[str] = []
    entra = _Entra()
    directory = permits.directory(entra)

    def delivery(name: str) -> None:
        with permits.hold():
            order.append(name)

    def look_up() -> None:
        directory.lookup("grace@contoso.com")
        order.append("look-up")

    with permits.hold():  # the one permit, held by a delivery in flight
        waiting = [threading.Thread(target=delivery, args=(f"delivery {i}",)) for i in range(3)]
        for t in waiting:
            t.start()
        _wait_until(lambda: permits.waiting() == (0, 3))
        looker = threading.Thread(target=look_up)
        looker.start()
        _wait_until(lambda: permits.waiting() == (1, 3))
    for t in [*waiting, looker]:
        t.join(GIVE_UP)

    assert order[0] == "look-up" and sorted(order[1:]) == ["delivery 0", "delivery 1", "delivery 2"]


def test_the_permits_bound_whatever_mix_of_look_ups_and_deliveries_asks():
    limit = 3
    permits = GraphInFlight(limit)
    in_flight, most, done = 0, 0, []
    lock = threading.Lock()

    class _Counting:
        def lookup(self, address: str) -> UserStatus:
            enter()
            return UserStatus(address=address, exists=False)

    def enter() -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.001)
        with lock:
            in_flight -= 1

    directory = permits.directory(_Counting())

    def worker(i: int) -> None:
        for n in range(40):
            if (i + n) % 3 == 0:
                directory.lookup(f"u{i}-{n}@contoso.com")
            else:
                with permits.hold():
                    enter()
        done.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GIVE_UP * 3)

    assert sorted(done) == list(range(12))  # no waiter left behind
    assert most == limit
    assert permits.waiting() == (0, 0)
