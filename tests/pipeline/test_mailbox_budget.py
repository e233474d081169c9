"""The per-mailbox request budget holds across concurrent instances and refills each window."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from devtools.storage_counter import StorageCounter
from shared.adapters.storage.budget import MailboxRequestBudget
from shared.adapters.storage.clients import build_storage_clients
from shared.adapters.storage.tables import Tables
from shared.settings import load_settings


@pytest.fixture
def tables(storage_connection):
    t = Tables(build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection)).tables)
    t.ensure_tables()
    return t


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_twenty_concurrent_takers_share_a_budget_of_seven_and_the_next_minute_refills_it(tables):
    clock = Clock(datetime(2026, 11, 25, 10, 0, 15, tzinfo=timezone.utc))
    budgets = [MailboxRequestBudget(tables, 7, clock=clock) for _ in range(4)]  # four "instances"
    waits: list[float] = []
    lock = threading.Lock()

    def take(i: int) -> None:
        wait = budgets[i % 4].take("Alice@Contoso.com")
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = [w for w in waits if w == 0.0]
    assert len(granted) == 7
    assert all(44 <= w <= 45 for w in waits if w)  # told to come back at the next minute
    assert budgets[0].take("bob@contoso.com") == 0.0  # another mailbox has its own budget

    clock.at = datetime(2026, 11, 25, 10, 1, 0, tzinfo=timezone.utc)
    assert budgets[1].take("alice@contoso.com", 7) == 0.0
    assert budgets[2].take("alice@contoso.com") > 0



def test_exchanges_ten_minute_window_is_shared_out_whole_and_a_retry_after_paces_the_mailbox_within_it(tables):
    clock = Clock(datetime(2026, 11, 25, 10, 3, 20, tzinfo=timezone.utc))  # 200 s into the 10:00-10:10 window
    budgets = [MailboxRequestBudget(tables, 100, window_seconds=600, clock=clock) for _ in range(3)]
    waits = [budgets[i % 3].take("carol@contoso.com") for i in range(130)]
    assert waits.count(0.0) == 100  # the whole window's budget, across instances, no more
    assert {round(w) for w in waits if w} == {400}  # told to come back when the window ends, not in a minute

    clock.at = datetime(2026, 11, 25, 10, 9, 59, tzinfo=timezone.utc)
    assert budgets[0].take("carol@contoso.com") == 1.0  # still this window: one second left
    clock.at = datetime(2026, 11, 25, 10, 10, 0, tzinfo=timezone.utc)
    assert budgets[1].take("carol@contoso.com") == 0.0  # the next window refills it

    # Exchange's sliding window disagrees (a 429 although this window has room): its Retry-After paces every
    # instance's copies of the mailbox, not the rest of the window nor a fixed guess
    budgets[2].pause("carol@contoso.com", 7)
    assert budgets[2].take("carol@contoso.com") == 7.0
    assert 6.0 <= budgets[0].take("carol@contoso.com", 40) <= 7.0  # another instance sees the pause at its next reservation
    clock.at = datetime(2026, 11, 25, 10, 10, 7, tzinfo=timezone.utc)
    assert budgets[2].take("carol@contoso.com") == 0.0 and budgets[0].take("carol@contoso.com") == 0.0


def test_a_mailbox_known_paused_or_spent_says_how_long_to_wait_without_asking_storage(tables, storage_connection):
    clock = Clock(datetime(2026, 11, 25, 10, 0, 15, tzinfo=timezone.utc))
    budget = MailboxRequestBudget(tables, 3, clock=clock)
    assert budget.waiting("ida@contoso.com") == 0.0  # nothing known: try
    assert [budget.take("ida@contoso.com") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.waiting("ida@contoso.com") == 0.0  # spent, but not known to be until a take finds it
    assert budget.take("ida@contoso.com") == 45.0  # the rest of this minute's window
    budget.pause("jon@contoso.com", 12)  # a 429's Retry-After (written for the other instances)
    with StorageCounter(storage_connection) as counter:
        assert budget.waiting("IDA@contoso.com") == 45.0
        assert budget.take("ida@contoso.com") == 45.0  # known spent: not asked of storage again
        assert budget.waiting("jon@contoso.com") == 12.0
        clock.at += timedelta(seconds=50)
        assert budget.waiting("ida@contoso.com") == 0.0  # the next window: try again
    assert counter.total == 0
