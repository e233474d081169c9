"""Transcript mode under faults: a build that dies half-way is finished by the next one, with the
same transcripts, so no mailbox gets an item twice in two transcripts and none goes missing."""

from __future__ import annotations

import pytest

from devtools.local_world import start_world
from shared import names
from shared.cli.run import run_cycle
from shared.pipeline.runner import drain
from shared.pipeline.transcripts import STAGED, build_transcripts
from tests.e2e.conftest import FAST, quiet
from tests.e2e.test_transcripts import archived, expected_transcripts
from tests.faults.test_faults import kill_runs_then_finish


class CrashAfterMarking:
    """The real blob store, except that the process 'dies' once the build has marked ``marks`` items built."""

    def __init__(self, blobs, marks: int):
        self.blobs, self.left = blobs, marks

    def put(self, container, name, *args, **kwargs):
        if container == names.MIME and name.startswith(STAGED + "/"):
            if self.left == 0:
                raise RuntimeError("process killed while marking staged items built")
            self.left -= 1
        return self.blobs.put(container, name, *args, **kwargs)

    def __getattr__(self, attr):
        return getattr(self.blobs, attr)


@pytest.mark.parametrize("marks", [0, 5])
def test_a_build_killed_while_marking_items_is_finished_with_the_same_transcripts(storage_connection, marks):
    with start_world(storage_connection=storage_connection, overrides={**FAST, "TRANSCRIPT_MODE": "true"}) as world:
        app = world.archiver()
        app.pull()
        drain(app.queues, names.ITEMS_QUEUE, app.on_item, max_dequeue_count=5, retry_delay_seconds=0.2)
        with pytest.raises(RuntimeError):
            build_transcripts(blobs=CrashAfterMarking(app.blobs, marks), queues=app.queues, tracking=app.tracking,
                              days=app.transcript_days, checkpoints=app.checkpoints,
                              region=app.settings.default_phone_region, options=app.render_options)

        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)  # the next scheduled run
        assert summary.failed == 0
        want, got = expected_transcripts(world), archived(world, app)
        for address, rows in got.items():
            held = sorted(sorted(ids) for _a, ids, _m, _e in rows)
            assert held == sorted(sorted(ids) for ids in want.get(address, {}).values()), address
        report = app.report(summary.report_date, write=False)
        assert report.invariant_holds and report.complete, report.to_json()["summary"]
        app.close()


def test_transcript_runs_killed_at_random_points_then_run_again_give_each_mailbox_its_transcripts_once(storage_connection):
    with start_world(storage_connection=storage_connection, overrides={**FAST, "TRANSCRIPT_MODE": "true"}) as world:
        assert kill_runs_then_finish(world, max_sleep=3.0) >= 1
        app = world.archiver()
        want, got = expected_transcripts(world), archived(world, app)
        for address, rows in got.items():
            held = sorted(sorted(ids) for _a, ids, _m, _e in rows)
            assert held == sorted(sorted(ids) for ids in want.get(address, {}).values()), address
        app.close()
