"""Copies handed back at convert for a short wait (their mailbox paused by a 429, their create failed) land
from this process's waiting room once the wait is over, not through a trip around the deliveries queue; and
if the process ends while they wait, their queued messages take over and they land once all the same."""

from __future__ import annotations

from devtools.graph_server import Fault
from devtools.local_world import start_world
from shared import names
from shared.cli.run import run_cycle
from shared.pipeline import hand_back
from shared.pipeline.runner import drain
from tests.e2e.conftest import quiet
from tests.faults.by_hand import PRODUCTION_CLAIM
from tests.faults.test_faults import assert_exact_and_reported


def test_copies_handed_back_at_convert_land_from_the_waiting_room_without_the_queue(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        world.graph.inject(Fault(kind="429", method="POST", path_contains="/messages", times=2, retry_after=1))
        world.graph.inject(Fault(kind="500", method="POST", path_contains="/messages", times=1))
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert summary.requeued >= 3  # the two 429s and the 500 handed copies back (and the paused mailbox more)
        assert summary.queue_stats[names.DELIVERIES_QUEUE].handled == 0  # none waited for the queue's handler
        assert_exact_and_reported(world, app, summary)
        app.close()


def test_copies_waiting_in_a_process_that_ends_land_once_through_the_queue(storage_connection, monkeypatch):
    monkeypatch.setattr(hand_back, "BACKSTOP_SECONDS", 1)
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        # a long pause, still waited here: the first process ends while its mailbox's copies wait in the room
        world.graph.inject(Fault(kind="429", method="POST", path_contains="/messages", times=1, retry_after=5))
        first = world.archiver()
        first.pull()
        drain(first.queues, names.ITEMS_QUEUE, first.on_item, max_dequeue_count=first.max_dequeue_count,
              retry_delay_seconds=0.2)
        waiting = first.waiting_room.waiting()
        assert waiting >= 1
        first.close()  # the process ends: what waited in its room is only in the queue now

        second = world.archiver()
        summary = run_cycle(second, retry_delay_seconds=0.2, progress=quiet)
        assert summary.queue_stats[names.DELIVERIES_QUEUE].handled >= waiting  # the queue's handler took them over
        assert_exact_and_reported(world, second, summary)
        second.close()
