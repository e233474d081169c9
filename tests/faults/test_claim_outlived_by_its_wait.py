"""A delivery claims its copy before it waits for a mailbox slot. A wait longer than the claim period (a storage
outage, a mailbox busy for long) must cost neither a duplicate nor a look-up: right before the create the claim
is confirmed, taken again when its period has run down; when it lapsed and another worker took the copy over
and landed it meanwhile, the late attempt sends nothing to Graph and leaves the ledger row to its new holder."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable

import pytest

from devtools.local_world import start_world
from shared.pipeline import deliver
from shared.pipeline.messages import item_key
from tests.e2e.oracle import landed
from tests.faults.by_hand import creates, deliver_by_hand, lookups, queued_copies

CLAIM_SECONDS = 5  # the shortest the settings allow: the tests outwait it
OUTWAIT = CLAIM_SECONDS + 1.0


class SlotsAround:
    """The app's own mailbox slots, given out only after ``before`` has run (what a long wait for a slot lets happen
    while the claim runs down); ``after`` runs once the slot is given back: after the create, before the ledger
    is marked delivered."""

    def __init__(self, inner, before: Callable[[], None], after: Callable[[], None] = lambda: None):
        self.inner, self.before, self.after = inner, before, after

    @contextmanager
    def hold(self, mailbox: str):
        self.before()
        with self.inner.hold(mailbox) as held:
            yield held
        self.after()


@pytest.fixture
def one_copy(storage_connection):
    """A world with 5-s claims, its archiver, one copy taken off the deliveries queue, and Graph's request count."""
    with start_world(storage_connection=storage_connection,
                     overrides={"DELIVERY_CLAIM_SECONDS": str(CLAIM_SECONDS)}) as world:
        app = world.archiver()
        try:
            yield world, app, queued_copies(app, limit=1)[0], len(world.graph.requests)
        finally:
            app.close()


def assert_landed_once(world, app, copy) -> None:
    assert app.ledger.get(copy.mailbox, item_key(copy.item_id))["status"] == "delivered"
    assert landed(world)[(copy.item_id, copy.mailbox.lower())] == 1


def test_a_claim_that_lapsed_while_its_holder_waited_for_a_slot_is_taken_again_and_the_copy_created_once(one_copy):
    world, app, copy, before = one_copy
    rivals: list[str] = []

    def a_second_worker_tries_during_the_create():
        rivals.append(app.ledger.begin(copy.mailbox, item_key(copy.item_id), owner="rival").outcome)

    result = deliver_by_hand(app, copy, slots=SlotsAround(app.slots, lambda: time.sleep(OUTWAIT),
                                                          a_second_worker_tries_during_the_create))

    assert isinstance(result, deliver.Delivered) and result.outcome == "imported", result
    assert rivals == ["busy"]  # the claim was taken again: it still kept another worker off once the create was sent
    sent = world.graph.requests[before:]
    assert creates(sent) == 1 and lookups(sent) == 0  # nothing uncertain: no look-up first
    assert_landed_once(world, app, copy)


def test_a_claim_taken_over_while_its_holder_waited_for_a_slot_is_left_to_the_new_holder_and_nothing_is_sent(
        one_copy):
    world, app, copy, before = one_copy
    second: list = []
    sent_before_late: list[int] = []

    def lapse_and_let_another_worker_deliver():
        time.sleep(OUTWAIT)
        # the queue handed the same message to another worker (its visibility ran out): it takes the lapsed
        # claim over, asks Graph first (the row says 'creating'), finds nothing and creates the copy
        second.append(deliver_by_hand(app, copy))
        sent_before_late.append(len(world.graph.requests))

    late = deliver_by_hand(app, copy, slots=SlotsAround(app.slots, lapse_and_let_another_worker_deliver))

    assert isinstance(second[0], deliver.Delivered) and second[0].outcome == "imported", second
    assert isinstance(late, deliver.Requeue) and "lapsed" in late.reason, late
    assert world.graph.requests[sent_before_late[0]:] == []  # the late attempt sent nothing at all
    sent = world.graph.requests[before:]
    assert creates(sent) == 1 and lookups(sent) == 1  # the second worker's look-up and create, nothing else
    assert app.ledger.get(copy.mailbox, item_key(copy.item_id))["claim_until"] == ""  # nothing written over it
    assert_landed_once(world, app, copy)

    redelivered = deliver_by_hand(app, copy)  # the late attempt's message comes back: skipped, not created
    assert isinstance(redelivered, deliver.Delivered) and redelivered.outcome == "skipped", redelivered
    assert creates(world.graph.requests[before:]) == 1
