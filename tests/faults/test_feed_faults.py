"""The capture feed misbehaving: pages twice, items in two windows, corrupt attachments, a 401 mid-run."""

from __future__ import annotations

import pytest

from devtools.local_world import start_world
from shared.cli.run import run_cycle
from shared.pipeline.ports import FeedAuthError
from tests.e2e.conftest import FAST, quiet
from tests.e2e.oracle import verdict
from tests.faults.test_faults import assert_exact_and_reported


def test_a_page_served_twice_and_an_item_in_two_windows_import_once(storage_connection):
    with start_world(storage_connection=storage_connection, overrides={**FAST, "MAX_WINDOW_HOURS": "6"}) as world:
        world.feed.repeat_page(1)
        world.feed.repeat_item_in_next_window(world.day.items[3]["id"])
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert_exact_and_reported(world, app, summary)
        app.close()


def test_a_corrupt_attachment_is_refetched_and_never_archived_wrong(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        with_files = [i for i in world.day.items if i.get("attachments")]
        flaky, broken = with_files[0]["attachments"][0], with_files[1]["attachments"][0]
        world.feed.corrupt_attachment(flaky["id"], times=1)      # bad once, then good: refetched
        world.feed.corrupt_attachment(broken["id"], times=None)  # always bad: named, never embedded
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert summary.attachments_corrupt == 1
        v = verdict(world)
        assert v.exact, str(v)
        for user in world.day.users:
            for message in world.graph.mailbox(user["address"]).get("WhatsApp Archiver", []):
                for attachment in message["attachments"]:
                    assert attachment["sha256"] != broken["sha256"] or attachment["name"] != broken["file_name"]
        report = app.report(summary.report_date, write=False)
        assert report.attachments_corrupt == 1
        assert report.partial >= 1  # the record with the broken file is marked partially imported
        app.close()


def test_a_401_mid_run_fails_the_run_clearly_and_leaves_the_checkpoint_for_the_next_run(storage_connection):
    # one window for the whole look-back, so the 401 lands inside the only window there is
    overrides = {**FAST, "FEED_PAGE_SIZE": "5", "MAX_WINDOW_HOURS": "72"}
    with start_world(storage_connection=storage_connection, overrides=overrides) as world:
        world.feed.fail_auth_after(2)
        app = world.archiver()
        with pytest.raises(FeedAuthError):
            run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert app.checkpoints.watermark() is None
        world.feed.fail_auth_after(None)
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert_exact_and_reported(world, app, summary)
        app.close()
