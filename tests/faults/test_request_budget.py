"""A backlog larger than a mailbox's request budget drains at the budget: delayed, never dropped or doubled."""

from __future__ import annotations

from devtools.local_world import start_world
from shared.adapters.storage.budget import MailboxRequestBudget
from shared.cli.run import run_cycle
from tests.e2e.conftest import FAST, quiet
from tests.faults.test_faults import assert_exact_and_reported


def test_a_spent_budget_hands_copies_back_and_every_copy_still_lands_once(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        app = world.archiver()
        # 1 request a copy (its create; 2 when an earlier attempt left it uncertain), 4 per 2-second window
        # (a minute's budget, sped up): most copies of the busiest mailboxes wait for a later window; the
        # queue delays them, nothing sleeps in a handler
        app.budget = MailboxRequestBudget(app.tables, 4, window_seconds=2)
        summary = run_cycle(app, workers=8, retry_delay_seconds=0.2, progress=quiet)
        assert summary.requeued > 0
        assert summary.poisoned == 0
        assert_exact_and_reported(world, app, summary)
        app.close()
