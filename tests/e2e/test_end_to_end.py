"""A generated day, served by the local feed, archived into the local Graph server's mailboxes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from shared import names
from shared.cli.run import run_cycle
from tests.e2e.conftest import quiet
from tests.e2e.oracle import FOLDER, landed, parse_graph_time, sent_at, verdict

REPO = Path(__file__).resolve().parents[2]


def test_every_mapped_copy_lands_once_as_a_read_received_item_with_its_original_sent_time(world):
    app = world.archiver()
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)

    v = verdict(world)
    assert v.exact, str(v)
    assert v.copies_found > 10  # the day is realistic, not a token item
    for user in world.day.users:
        for message in world.graph.mailbox(user["address"]).get(FOLDER, []):
            assert message["isDraft"] is False
            assert message["isRead"] is True
            assert parse_graph_time(message["sentDateTime"]) == sent_at(message["archiveItemId"], world)
            assert message["itemClass"].startswith("IPM.ExternalData.WhatsAppArchiver.")

    outcomes = world.day.expected_outcomes
    assert summary.pulled == len(world.day.items)
    assert summary.rejected == sum(1 for o in outcomes.values() if o == "rejected")
    assert summary.unmapped == sum(1 for o in outcomes.values() if o == "unmapped")
    assert summary.delivered == v.copies_expected
    assert summary.failed == 0

    report = app.report(summary.report_date, write=False)
    assert report.invariant_holds
    assert report.imported + report.partial == v.copies_found
    assert report.failed == 0 and report.pending == 0
    assert report.rejected == summary.rejected and report.unmapped == summary.unmapped
    app.close()


def test_the_same_window_pulled_again_imports_nothing_twice(world):
    app = world.archiver()
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    before = landed(world)
    # forget the watermark: the next run pulls the very same window again
    app.tables.client(names.CHECKPOINTS_TABLE).delete_entity("feed", "watermark")
    again = world.archiver()
    summary = run_cycle(again, retry_delay_seconds=0.2, progress=quiet)
    assert summary.pulled == len(world.day.items)
    assert summary.delivered == 0
    assert summary.skipped == sum(before.values())
    assert landed(world) == before
    assert verdict(world).exact
    app.close()
    again.close()


def test_a_run_killed_half_way_and_run_again_loses_nothing(world):
    world.graph.latency = 0.02  # long enough for the kill to land mid-delivery
    env = {**os.environ, **world.env(), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "shared", "run", "--retry-delay", "0.2", "--visibility-timeout", "3"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(landed(world).values()) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partly = sum(landed(world).values())
    assert 0 < partly < verdict(world).copies_expected, "the kill should land half-way"

    world.graph.latency = 0.0
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    v = verdict(world)
    assert v.exact, str(v)
    assert "copies delivered" in done.stdout
