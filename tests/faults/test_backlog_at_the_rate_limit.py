"""A one-mailbox backlog against Exchange's request rate (scaled down): every copy lands once, the mailbox never
takes more than its limit in any window, and a 429's Retry-After says when the copies come back."""

from __future__ import annotations

from collections import Counter

from devtools.bench_backlog import FOLDER, MAILBOX, queue_backlog, render_backlog
from devtools.local_world import start_world
from shared import names
from shared.pipeline.runner import drain
from tests.e2e.conftest import FAST

LIMIT, WINDOW = 30, 5.0  # Exchange's 10,000 per 600 s, scaled down so it binds within the test
COPIES = 75
STRAGGLER = 1.0  # a request that passed the budget before the 429's pause was set may still arrive this late


def test_a_backlog_over_the_rate_limit_lands_once_within_the_limit_paced_by_retry_after(storage_connection):
    records = render_backlog(COPIES)
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        world.graph.add_user(MAILBOX)
        app = world.archiver()  # the default budget (9,500 per 600 s): here the server's window binds first
        queue_backlog(app, records)
        world.graph.latency, world.graph.concurrency_limit = 0.05, 4
        world.graph.rate_limit = (LIMIT, WINDOW)
        stats = drain(app.queues, names.DELIVERIES_QUEUE, app.on_delivery, max_dequeue_count=app.max_dequeue_count,
                      retry_delay_seconds=0.2, workers=8, visibility_timeout=60)
        landed = Counter(m.get("archiveItemId") for m in world.graph.mailbox(MAILBOX).get(FOLDER, []))
        mailbox_id = world.graph.user_id(MAILBOX)
        seen = [r for r in world.graph.requests if r["mailbox"] == mailbox_id]
        app.close()

    assert stats.poisoned == 0 and stats.errors == 0
    assert landed == Counter({item_id: 1 for item_id, _eml, _cls in records})  # each copy exactly once

    admitted = sorted(r["at"] for r in seen if r["status"] != 429)
    busiest = max(sum(1 for t in admitted if start <= t < start + WINDOW) for start in admitted)
    assert busiest <= LIMIT  # the harness: beyond the limit in a window the server only ever answers 429s
    throttled = [(r["at"], int(r["retry_after"])) for r in seen if r["status"] == 429]
    assert throttled, "the backlog is larger than a window's limit: the server must have throttled it"
    # the archiver: once a 429 paused the mailbox, only requests already on their way meet 429s, at most one per
    # drain worker each time a window fills (not a stream of them while the window lasts)
    assert len(throttled) <= 8 * -(-(COPIES + 2) // LIMIT), len(throttled)
    assert max(wait for _at, wait in throttled) >= 2  # a pause longer than the 1 s guesses, waiting out the window

    # after each 429 the mailbox hears nothing more until its Retry-After has passed (beyond requests already on
    # their way when it came), neither a fixed guess sooner nor the budget's own window later
    for at, wait in throttled:
        early = [t - at for t in (r["at"] for r in seen) if at + STRAGGLER <= t < at + wait - 0.2]
        assert early == [], f"requests {early} s after a 429 asking for {wait} s"
    first_at, first_wait = throttled[0]
    resumed = min(t for t in admitted if t > first_at)
    assert resumed - first_at < first_wait + 3.0  # it came back after Retry-After, not after a window or a guess
