"""The waiting room: work runs once its wait is over, in due order, at most ``per_key`` of one key at a time,
and nothing runs after it is closed (the caller's queued copy takes over)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.pipeline.waiting_room import WaitingRoom


@pytest.fixture
def pool():
    executor = ThreadPoolExecutor(max_workers=8)
    yield executor
    executor.shutdown(wait=True)


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_work_runs_after_its_wait_in_due_order_whatever_the_order_it_came_in(pool):
    room, ran, started = WaitingRoom(pool), [], time.monotonic()
    for name, after in (("third", 0.3), ("first", 0.1), ("second", 0.2), ("now", 0.0)):
        room.later(after, lambda name=name: ran.append((name, time.monotonic() - started)))
    wait_for(lambda: len(ran) == 4)
    assert [name for name, _at in ran] == ["now", "first", "second", "third"]
    assert all(at >= after for (_n, at), after in zip(ran, (0.0, 0.1, 0.2, 0.3)))
    assert room.waiting() == 0


def test_no_more_than_per_key_pieces_of_one_key_run_at_once_and_other_keys_are_not_held_behind(pool):
    room = WaitingRoom(pool, per_key=2)
    release = threading.Event()
    lock, running, peak, others = threading.Lock(), [0], [0], threading.Event()

    def busy():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1

    for _ in range(6):
        room.later(0.0, busy, key="alice@contoso.com")
    room.later(0.05, others.set, key="bob@contoso.com")  # due after alice's six, with free threads left
    assert others.wait(2), "bob's work waited behind alice's"
    wait_for(lambda: running[0] == 2)
    assert room.waiting() == 4  # held back by alice's limit, not lost
    release.set()
    wait_for(lambda: room.waiting() == 0 and running[0] == 0)
    assert peak[0] == 2


def test_a_failing_piece_neither_stops_the_room_nor_frees_its_key_twice(pool):
    room, ran = WaitingRoom(pool, per_key=1), []

    def fails():
        raise RuntimeError("boom")

    room.later(0.0, fails, key="m")
    for n in range(3):
        room.later(0.0, lambda n=n: ran.append(n), key="m")
    wait_for(lambda: len(ran) == 3)
    assert ran == [0, 1, 2]  # one at a time, in order, after the failure


def test_closing_drops_what_has_not_run_and_refuses_new_work(pool):
    room, ran = WaitingRoom(pool), []
    room.later(0.5, lambda: ran.append("late"))
    room.later(0.5, lambda: ran.append("late too"), key="m")
    assert room.close() == 2
    assert room.later(0.0, lambda: ran.append("after close")) is False
    time.sleep(0.7)
    assert ran == []


def test_an_executor_shut_down_under_the_room_closes_it_without_running_anything():
    executor = ThreadPoolExecutor(max_workers=1)
    room, ran = WaitingRoom(executor), []
    executor.shutdown(wait=True)
    room.later(0.0, lambda: ran.append("x"))
    wait_for(lambda: room.later(0.0, lambda: None) is False)
    assert ran == []
