"""HandBack against a real queue (Azurite): a copy handed back for a short wait is tried again in this process
and its queued message is deleted when it lands; whatever the retry here does not settle, the deliveries queue
gets, after the retry's own wait or, if the process ends first, at the backstop. Nothing is ever left only in
memory."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared import names
from shared.adapters.storage.clients import build_storage_clients
from shared.adapters.storage.queues import QueueStore
from shared.pipeline import hand_back as hand_back_module
from shared.pipeline.deliver import Delivered, Requeue
from shared.pipeline.hand_back import HandBack
from shared.pipeline.messages import DeliveryMessage
from shared.pipeline.waiting_room import WaitingRoom
from shared.settings import load_settings

COPY = DeliveryMessage(item_id="tm-1", item_type="message", mailbox="Alice@contoso.com", mime_blob="d/x.eml",
                       item_class="IPM.Note", report_date="2026-11-27", requeues=1)


@pytest.fixture
def queues(storage_connection):
    store = QueueStore(build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection)).queues)
    store.ensure_queues()
    return store


@pytest.fixture
def room():
    pool = ThreadPoolExecutor(max_workers=4)
    waiting = WaitingRoom(pool)
    yield waiting
    waiting.close()
    pool.shutdown(wait=True)


class Attempts:
    """One delivery attempt per call, answering from a script; records when each call came."""

    def __init__(self, *answers):
        self.answers, self.calls, self.done = list(answers), [], threading.Event()

    def __call__(self, message: DeliveryMessage):
        self.calls.append((time.monotonic(), message))
        answer = self.answers.pop(0)
        if not self.answers:
            self.done.set()
        if isinstance(answer, Exception):
            raise answer
        return answer


def until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def receive_within(queues, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = queues.receive(names.DELIVERIES_QUEUE, max_messages=32, visibility_timeout=30)
        if got:
            return got
        time.sleep(0.1)
    return []


def test_a_copy_handed_back_for_a_short_wait_lands_from_here_and_its_queued_message_is_deleted(queues, room):
    attempts, outcomes = Attempts(Delivered("imported")), []
    handed = HandBack(queues=queues, room=room, attempt=attempts, outcome=outcomes.append)
    started = time.monotonic()
    handed(COPY, 0.3)
    assert queues.depth(names.DELIVERIES_QUEUE) == 1  # durable first: queued, hidden, before anything waits here
    assert attempts.done.wait(5)
    assert attempts.calls[0][0] - started >= 0.3  # the wait asked for was waited
    assert attempts.calls[0][1] == COPY
    assert until(lambda: queues.depth(names.DELIVERIES_QUEUE) == 0)  # the handler will never see it
    assert outcomes == ["imported"]


def test_handed_back_again_and_a_failed_attempt_are_retried_here_while_the_waits_add_up_to_little(queues, room):
    attempts, outcomes = Attempts(Requeue(0.2, "Graph paused the mailbox"), RuntimeError("storage hiccup"),
                                  Delivered("imported")), []
    HandBack(queues=queues, room=room, attempt=attempts, outcome=outcomes.append)(COPY, 0.1)
    assert attempts.done.wait(5)
    gaps = [b[0] - a[0] for a, b in zip(attempts.calls, attempts.calls[1:])]
    assert gaps[0] >= 0.2 and gaps[1] >= hand_back_module.RETRY_AFTER_FAILED_ATTEMPT
    assert until(lambda: queues.depth(names.DELIVERIES_QUEUE) == 0)
    assert outcomes == ["imported"]


def test_what_the_retry_here_does_not_settle_goes_to_the_queue_after_the_new_wait(queues, room, monkeypatch):
    monkeypatch.setattr(hand_back_module, "RETRIED_HERE_WITHIN", 1.0)
    attempts, outcomes = Attempts(Requeue(0.6, "throttled"), Requeue(0.6, "throttled")), []
    HandBack(queues=queues, room=room, attempt=attempts, outcome=outcomes.append)(COPY, 0.4)
    assert attempts.done.wait(5)
    # 0.4 + 0.6 waited here; the second hand-back's 0.6 would pass the 1.0: the queue's handler gets the copy,
    # about a second later, not at the backstop
    [got] = receive_within(queues, 4)
    assert json.loads(got.body)["item_id"] == COPY.item_id and got.dequeue_count == 1
    assert len(attempts.calls) == 2 and outcomes == []


def test_a_long_wait_goes_straight_to_the_queue_without_a_retry_here(queues, room):
    attempts = Attempts(Delivered("imported"))
    HandBack(queues=queues, room=room, attempt=attempts)(COPY, hand_back_module.RETRIED_HERE_WITHIN + 1)
    assert room.waiting() == 0 and attempts.calls == []
    assert queues.depth(names.DELIVERIES_QUEUE) == 1


def test_a_process_that_ends_before_the_retry_leaves_the_copy_to_the_queue_at_the_backstop(queues, room,
                                                                                              monkeypatch):
    monkeypatch.setattr(hand_back_module, "BACKSTOP_SECONDS", 1)
    attempts = Attempts(Delivered("imported"))
    HandBack(queues=queues, room=room, attempt=attempts)(COPY, 2.0)
    assert room.close() == 1  # the process ends: the retry here never runs
    assert queues.receive(names.DELIVERIES_QUEUE) == []  # hidden for the wait and the backstop
    [got] = receive_within(queues, 6)
    assert DeliveryMessage.model_validate_json(got.body) == COPY
    assert attempts.calls == []
