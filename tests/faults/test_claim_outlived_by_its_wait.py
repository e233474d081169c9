"""A delivery claims its copy before it waits for a mailbox slot. A wait longer than the claim period (a storage
outage, a mailbox busy for long) must cost neither a duplicate nor a look-up: right before the create the claim
is confirmed, taken again when its period has run down; when it lapsed and another worker took the copy over
and landed it meanwhile, the late attempt sends nothing to Graph and leaves the ledger row to its new holder."""

from __future__ import annotations

import time
from contextlib import contextmanager

from devtools.local_world import start_world
from shared.pipeline import deliver
from shared.pipeline.messages import item_key
from tests.e2e.oracle import landed
from tests.faults.by_hand import creates, deliver_by_hand, lookups, queued_copies

CLAIM_SECONDS = 5  # the shortest the settings allow: the tests outwait it
OUTWAIT = CLAIM_SECONDS + 1.0


class SlotsAfter:
    """The app's own mailbox slots, given out only after ``meanwhile`` has run (what a long wait for a slot lets
    happen while the claim runs down)."""

    def __init__(self, inner, meanwhile):
        self.inner = inner
        self.meanwhile = meanwhile

    @contextmanager
    def hold(self, mailbox: str):
        self.meanwhile()
        with self.inner.hold(mailbox) as held:
            yield held


def test_a_claim_that_lapsed_while_its_holder_waited_for_a_slot_is_taken_again_and_the_copy_created_once(
        storage_connection):
    with start_world(storage_connection=storage_connection,
                     overrides={"DELIVERY_CLAIM_SECONDS": str(CLAIM_SECONDS)}) as world:
        app = world.archiver()
        copy = queued_copies(app, limit=1)[0]
        before = len(world.graph.requests)

        result = deliver_by_hand(app, copy, slots=SlotsAfter(app.slots, lambda: time.sleep(OUTWAIT)))

        assert isinstance(result, deliver.Delivered) and result.outcome == "imported", result
        sent = world.graph.requests[before:]
        assert creates(sent) == 1 and lookups(sent) == 0  # nothing uncertain: no look-up first
        assert app.ledger.get(copy.mailbox, item_key(copy.item_id))["status"] == "delivered"
        assert landed(world)[(copy.item_id, copy.mailbox.lower())] == 1
        app.close()


def test_a_claim_taken_over_while_its_holder_waited_for_a_slot_is_left_to_the_new_holder_and_nothing_is_sent(
        storage_connection):
    with start_world(storage_connection=storage_connection,
                     overrides={"DELIVERY_CLAIM_SECONDS": str(CLAIM_SECONDS)}) as world:
        app = world.archiver()
        copy = queued_copies(app, limit=1)[0]
        before = len(world.graph.requests)
        second: list = []

        def lapse_and_let_another_worker_deliver():
            time.sleep(OUTWAIT)
            # the queue handed the same message to another worker (its visibility ran out): it takes the lapsed
            # claim over, asks Graph first (the row says 'creating'), finds nothing and creates the copy
            second.append(deliver_by_hand(app, copy))

        late = deliver_by_hand(app, copy, slots=SlotsAfter(app.slots, lapse_and_let_another_worker_deliver))

        assert isinstance(second[0], deliver.Delivered) and second[0].outcome == "imported", second
        assert isinstance(late, deliver.Requeue) and "another worker" in late.reason, late
        sent = world.graph.requests[before:]
        assert creates(sent) == 1 and lookups(sent) == 1  # the second worker's look-up and create, nothing else
        row = app.ledger.get(copy.mailbox, item_key(copy.item_id))
        assert row["status"] == "delivered" and row["claim_until"] == ""  # the late attempt wrote nothing over it
        assert landed(world)[(copy.item_id, copy.mailbox.lower())] == 1

        redelivered = deliver_by_hand(app, copy)  # the late attempt's message comes back: skipped, not created
        assert isinstance(redelivered, deliver.Delivered) and redelivered.outcome == "skipped", redelivered
        assert creates(world.graph.requests[before:]) == 1
        app.close()
