"""A copy whose mailbox has all its slots held by another instance is handed back with nothing sent to Graph,
and its claim handed back as 'claimed', the state that proves no create: the retry creates without asking Graph
first, and the copy lands once."""

from __future__ import annotations

from contextlib import ExitStack

from devtools.local_world import start_world
from shared.adapters.storage.leases import MailboxSlots
from shared.pipeline import deliver
from shared.pipeline.messages import item_key
from tests.e2e.oracle import landed
from tests.faults.by_hand import PRODUCTION_CLAIM, creates, deliver_by_hand, lookups, queued_copies


def test_a_copy_whose_slots_are_all_held_elsewhere_is_handed_back_as_not_created_and_later_created_without_a_look_up(
        storage_connection):
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        app = world.archiver()
        copy = queued_copies(app, limit=1)[0]
        elsewhere = MailboxSlots(app.clients.blobs, app.slots.slots)  # another instance, on the same storage
        before = len(world.graph.requests)
        with ExitStack() as held:
            held.callback(elsewhere.close)  # last: the other instance gives its leases back, whatever happened
            assert all(held.enter_context(elsewhere.hold(copy.mailbox)) for _ in range(app.slots.slots))
            busy = deliver_by_hand(app, copy)
            assert isinstance(busy, deliver.Requeue) and busy.after_seconds == deliver.SLOT_BUSY_DELAY, busy
            assert world.graph.requests[before:] == []  # not a request to Graph without a slot
            row = app.ledger.get(copy.mailbox, item_key(copy.item_id))
            assert row["status"] == "claimed" and row["claim_until"] == ""  # handed back, proving no create

        retried = deliver_by_hand(app, copy)
        assert isinstance(retried, deliver.Delivered) and retried.outcome == "imported", retried
        assert creates(world.graph.requests[before:]) == 1
        assert lookups(world.graph.requests[before:]) == 0  # nothing was ever sent: no need to ask first
        assert landed(world)[(copy.item_id, copy.mailbox.lower())] == 1
        app.close()
