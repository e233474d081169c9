"""What a throttled create costs: a 429 (Exchange throttling this app on the mailbox) pauses every copy of
the mailbox for its Retry-After and created nothing, so the copy's retry creates without asking Graph
first; a 503 (the service unavailable for that request) makes only that copy wait, and since a 503 can
come after a create that was done, its retry asks Graph first (and finds the copy when it was done)."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from devtools.graph_server import Fault
from devtools.local_world import start_world
from shared.pipeline import deliver
from shared.pipeline.messages import item_key
from tests.e2e.oracle import landed
from tests.faults.by_hand import PRODUCTION_CLAIM, creates, deliver_by_hand, lookups, queued_copies


@pytest.mark.parametrize("status, paces_mailbox, retry_creates", [
    ("429", True, 1),  # refused before Exchange acted: created again, without asking first
    ("503", False, 1),  # not acted on this time, but a 503 can follow a create that was done: asked, then created
    ("commit_then_503", False, 0),  # ... and here it was done: the look-up finds it, nothing is created again
])
def test_a_throttled_create_waits_its_retry_after_and_lands_once(storage_connection, status, paces_mailbox,
                                                                  retry_creates):
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        app = world.archiver()
        by_mailbox: dict = {}
        for m in queued_copies(app):
            by_mailbox.setdefault(m.mailbox.lower(), []).append(m)
        first, second = next(ms for ms in by_mailbox.values() if len(ms) >= 2)[:2]  # two copies for one mailbox
        world.graph.inject(Fault(kind=status, method="POST", path_contains="/messages", times=1, retry_after=3))
        throttled = deliver_by_hand(app, first)
        assert isinstance(throttled, deliver.Requeue) and throttled.after_seconds == 3, throttled
        refused_at = world.graph.requests[-1]["at"]

        sent = len(world.graph.requests)
        sibling = deliver_by_hand(app, second)  # the same mailbox, at once
        if paces_mailbox:
            assert isinstance(sibling, deliver.Requeue) and 2 <= sibling.after_seconds <= 3, sibling
            assert len(world.graph.requests) == sent  # paused: nothing sent into the 429
            assert app.ledger.get(second.mailbox, item_key(second.item_id)) is None  # nor a claim taken for it
        else:
            assert isinstance(sibling, deliver.Delivered) and sibling.outcome == "imported", sibling

        # the throttled copy, as the deliveries queue's handler retries it: the Retry-After waited out in place
        before = len(world.graph.requests)
        retried = deliver_by_hand(app, first, wait_out=deliver.WAITED_OUT_FROM_THE_QUEUE)
        assert isinstance(retried, deliver.Delivered) and retried.outcome == "imported", retried
        again = world.graph.requests[before:]
        assert creates(again) == retry_creates
        assert lookups(again) == (0 if paces_mailbox else 1)  # only a 429 proves nothing was created
        if paces_mailbox:  # the mailbox's pause, kept by this process (a 503's wait is the queue's message delay)
            assert again[0]["at"] >= refused_at + 3 - 0.1  # not before the Retry-After
        assert landed(world)[(first.item_id, first.mailbox.lower())] == 1
        app.close()


def test_a_copy_waiting_for_its_permit_when_a_sibling_meets_a_429_sends_nothing_into_the_pause(storage_connection):
    """The copy had passed the mailbox's budget and waited for one of the instance's Graph permits while a sibling
    got a 429 (the pause comes between the two): it hands its claim back and waits the pause out, creating nothing
    into it, and its retry creates once, without asking Graph first (nothing was sent)."""
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        app = world.archiver()
        [copy] = queued_copies(app, limit=1)

        @contextmanager
        def permit_after_a_siblings_429():
            app.budget.pause(copy.mailbox, 2.0)  # what the sibling's 429 did while this copy waited
            with app.graph_in_flight.hold():
                yield

        sent = len(world.graph.requests)
        paused = deliver.deliver_copy(copy, blobs=app.blobs, ledger=app.ledger, tracking=app.tracking,
                                      mailbox=app.mailbox, slots=app.slots,
                                      folder_name=app.settings.archive_folder_name, budget=app.budget,
                                      graph_permit=permit_after_a_siblings_429)
        assert isinstance(paused, deliver.Requeue) and 1.0 < paused.after_seconds <= 2.0, paused
        assert creates(world.graph.requests[sent:]) == 0
        assert app.ledger.get(copy.mailbox, item_key(copy.item_id))["status"] != "delivered"

        time.sleep(paused.after_seconds)
        before = len(world.graph.requests)
        retried = deliver_by_hand(app, copy)
        assert isinstance(retried, deliver.Delivered) and retried.outcome == "imported", retried
        assert creates(world.graph.requests[before:]) == 1 and lookups(world.graph.requests[before:]) == 0
        assert landed(world)[(copy.item_id, copy.mailbox.lower())] == 1
        app.close()
