"""What exactly-once costs in Azure Storage: requests per delivered copy on the local world, counted on the
wire (azure-core's transport), in steady state (the second half of a day, after the first half set things up).

Azure bills each request and each is a network round trip: the goal is at most 6 per copy. The count
fails loudly when a change adds requests to the path (a per-copy read, a per-request client, ...).
The day is the sample day at scale 2 (about 100 copies in the counted half): at scale 1 (47 copies) the
run's own requests (run record, watermark, the half's first look-ups, polls of an empty queue) were about 0.3 of the 6,
which is not a cost per copy.
"""

from __future__ import annotations

from collections import Counter

from devtools.local_world import start_world
from devtools.storage_counter import StorageCounter, breakdown, run_day_in_two_halves
from tests.e2e.oracle import verdict

GOAL_PER_COPY = 6.0


def test_a_delivered_copy_costs_at_most_six_storage_requests_in_steady_state(storage_connection):
    with start_world(storage_connection=storage_connection, scale=2, overrides={"DELIVERY_CLAIM_SECONDS": "30"}) as world:
        app = world.archiver()
        with StorageCounter(world.storage_connection) as counter:
            summary = run_day_in_two_halves(world, app, counter=counter)
        app.close()
        copies = summary.delivered
        assert copies >= 20, summary
        per_copy = counter.total / copies
        print(f"\nsteady state: {counter.total} storage requests for {copies} copies = {per_copy:.2f} per copy")
        print(breakdown(counter, copies))
        assert per_copy <= GOAL_PER_COPY, breakdown(counter, copies)
        # the guarantees still cost what they must: every copy was claimed in the ledger before its create
        by_call = Counter()
        for (service, resource, method, _code), n in counter.counts.items():
            by_call[(service, resource, method)] += n
        assert by_call[("table", "ledger", "POST")] >= copies
        assert verdict(world).exact
