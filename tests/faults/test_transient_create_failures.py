"""A create that fails without a clear outcome (500, timeout, answer lost after the create) costs
seconds, not the claim period: the claim is handed back at once, the retry asks Graph first, and the
copy lands exactly once. A create that got no answer is asked about at once (it has usually landed);
not found, it is not created again until it has had a few seconds to settle at Graph.

The claim period stays at its production default (600 s) here (``PRODUCTION_CLAIM``), so a copy that
waited for its claim to lapse would not land within these tests' idle limits.
"""

from __future__ import annotations

import time

import pytest

from devtools.graph_server import Fault
from devtools.local_world import start_world
from shared.cli.run import drain_all
from shared.pipeline import deliver
from shared.pipeline.messages import item_key
from shared.pipeline.ports import MailboxError
from tests.e2e.conftest import quiet
from tests.e2e.oracle import landed
from tests.faults.by_hand import PRODUCTION_CLAIM, create_times, creates, deliver_by_hand, lookups, queued_copies
from tests.faults.graph_mixes import REALISTIC_MIX
from tests.faults.test_faults import assert_exact_and_reported

@pytest.mark.parametrize("kind", ["500", "timeout"])
def test_a_transient_create_failure_is_retried_within_seconds_and_lands_once(storage_connection, kind):
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        app = world.archiver()
        [message] = queued_copies(app, visibility_timeout=60, limit=1)
        world.graph.inject(Fault(kind=kind, method="POST", path_contains="/messages", times=1))
        with pytest.raises(MailboxError):
            deliver_by_hand(app, message)
        failed_at = len(world.graph.requests)
        waited = 0.0
        for _ in range(5):  # what the queue does: retry; a hand-back names its delay
            result = deliver_by_hand(app, message)
            if not isinstance(result, deliver.Requeue):
                break
            assert result.after_seconds <= deliver.UNANSWERED_SETTLE_SECONDS + 1, result  # not the 600 s claim
            waited += result.after_seconds
            time.sleep(result.after_seconds)
        assert isinstance(result, deliver.Delivered) and result.outcome == "imported", result
        assert waited <= deliver.UNANSWERED_SETTLE_SECONDS + 1
        # the retry asked Graph for the copy before creating (the first attempt may have created it), then created
        # it once (neither fault let the first create happen); a 500 answered, so the one retry asks once
        asked = lookups(world.graph.requests[failed_at:])
        assert (asked == 1) if kind == "500" else (asked >= 1)
        assert creates(world.graph.requests[failed_at:]) == 1
        assert landed(world)[(message.item_id, message.mailbox.lower())] == 1
        app.close()


def test_a_create_whose_answer_was_lost_is_found_at_once_and_lands_once(storage_connection):
    """Exchange created the copy and the answer never came back: one look-up in the same attempt finds it; no
    settling wait, no second create, no trip through the queue."""
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        app = world.archiver()
        [message] = queued_copies(app, visibility_timeout=60, limit=1)
        world.graph.inject(Fault(kind="commit_then_drop", method="POST", path_contains="/messages", times=1))
        before = len(world.graph.requests)
        started = time.monotonic()
        result = deliver_by_hand(app, message)
        assert isinstance(result, deliver.Delivered) and result.outcome == "imported", result
        assert time.monotonic() - started < deliver.UNANSWERED_SETTLE_SECONDS
        sent = world.graph.requests[before:]
        assert creates(sent) == 1
        assert lookups(sent) == 1
        assert landed(world)[(message.item_id, message.mailbox.lower())] == 1
        row = app.ledger.get(message.mailbox, item_key(message.item_id))
        assert row["status"] == "delivered" and row["found_existing"] is True
        app.close()


@pytest.mark.parametrize("kind", ["drop", "timeout"])  # dropped before Graph saw it; still running past the timeout
def test_a_create_still_running_at_graph_is_not_sent_again_before_it_settles(storage_connection, kind):
    """No answer and not found yet (the create may still be running at Graph): the failed attempt asks at once,
    the retries may ask, and do, but none creates again until the settling time has passed; then exactly one
    copy lands."""
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        app = world.archiver()
        [message] = queued_copies(app, visibility_timeout=60, limit=1)
        world.graph.inject(Fault(kind=kind, method="POST", path_contains="/messages", times=1))
        before = len(world.graph.requests)
        with pytest.raises(MailboxError):
            deliver_by_hand(app, message)
        failed = time.monotonic()
        assert lookups(world.graph.requests[before:]) == 1  # asked at once, in the failed attempt
        posts = creates(world.graph.requests)
        early = deliver_by_hand(app, message)  # at once: asks, finds nothing, and does not create
        assert isinstance(early, deliver.Requeue) and early.after_seconds <= deliver.WAITED_OUT_FROM_THE_QUEUE, early
        assert 0 < early.after_seconds <= deliver.UNANSWERED_SETTLE_SECONDS
        assert lookups(world.graph.requests[before:]) == 2
        assert creates(world.graph.requests) == posts
        waited = deliver_by_hand(app, message, wait_out=deliver.WAITED_OUT_FROM_THE_QUEUE)
        assert isinstance(waited, deliver.Delivered) and waited.outcome == "imported", waited  # waited out in place
        assert time.monotonic() - failed >= deliver.UNANSWERED_SETTLE_SECONDS - 0.5
        # the second create went out only once the first had settled (neither fault let the first happen)
        sent_at = create_times(world.graph.requests[before:])
        assert len(sent_at) == 2 and sent_at[1] >= failed + deliver.UNANSWERED_SETTLE_SECONDS - 0.5, sent_at
        assert landed(world)[(message.item_id, message.mailbox.lower())] == 1
        app.close()


def test_a_day_under_a_realistic_fault_mix_lands_every_copy_once_without_waiting_out_claims(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=PRODUCTION_CLAIM) as world:
        for fault in REALISTIC_MIX:
            world.graph.inject(fault)
        app = world.archiver()
        pulled = app.pull()
        # an idle limit far below the 600 s claim: a copy left waiting for a lapsed claim stays lost here
        summary = drain_all(app, retry_delay_seconds=0.2, max_idle_seconds=30, visibility_timeout=30, progress=quiet)
        summary.report_date = pulled.report_date
        assert summary.poisoned == 0
        assert any(f.probability < 1 for f in world.graph.armed_faults())
        assert_exact_and_reported(world, app, summary)
        app.close()
