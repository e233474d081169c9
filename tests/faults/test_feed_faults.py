"""The capture feed misbehaving: pages twice, items in two windows, corrupt attachments, a 401 mid-run."""

from __future__ import annotations

import pytest

from devtools.local_world import start_world
from shared import names
from shared.cli.run import run_cycle
from shared.pipeline.messages import item_key
from shared.pipeline.ports import FeedAuthError
from tests.e2e.conftest import FAST, quiet
from tests.e2e.oracle import FOLDER, landed, verdict
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
            for message in world.graph.mailbox(user["address"]).get(FOLDER, []):
                for attachment in message["attachments"]:
                    assert attachment["sha256"] != broken["sha256"] or attachment["name"] != broken["file_name"]
        report = app.report(summary.report_date, write=False)
        assert report.attachments_corrupt == 1
        assert report.partial >= 1  # the record with the broken file is marked partially imported
        app.close()


def test_a_401_mid_run_fails_the_run_clearly_lands_what_was_queued_and_leaves_the_checkpoint(storage_connection):
    # one window for the whole look-back, so the 401 lands inside the only window there is
    overrides = {**FAST, "FEED_PAGE_SIZE": "5", "MAX_WINDOW_HOURS": "72"}
    with start_world(storage_connection=storage_connection, overrides=overrides) as world:
        world.feed.fail_auth_after(2)
        app = world.archiver()
        with pytest.raises(FeedAuthError):
            run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert app.checkpoints.watermark() is None
        assert _archived(world) > 0  # the pages fetched before the 401 were archived, not left for the rerun
        # every copy of every item stored before the 401 landed, once; nothing is left waiting in the queues
        stored = {name.rsplit("/", 1)[-1].removesuffix(".json") for name in app.blobs.list(names.RAW)}
        queued = [i for i in world.day.expected if item_key(i) in stored]
        counts = landed(world)
        assert queued and all(counts[(i, mb.lower())] == 1 for i in queued for mb in world.day.expected[i])
        assert max(counts.values()) == 1
        assert app.queues.depth(names.ITEMS_QUEUE) == 0 and app.queues.depth(names.DELIVERIES_QUEUE) == 0
        world.feed.fail_auth_after(None)
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert_exact_and_reported(world, app, summary)
        app.close()


def _archived(world) -> int:
    return sum(landed(world).values())


def test_items_land_while_the_feed_is_still_answering_later_pages(storage_connection):
    """The run converts and delivers each page's items while the next page is fetched (as the Functions host
    does), so a slow feed does not hold back what it already sent."""
    import threading
    import time

    with start_world(storage_connection=storage_connection, overrides={**FAST, "FEED_PAGE_SIZE": "5"}) as world:
        world.feed.hold_pages_after(2)
        app = world.archiver()
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(summary=run_cycle(app, retry_delay_seconds=0.2,
                                                                                    progress=quiet)))
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (world.feed.pages_waiting() and _archived(world) > 0):
                time.sleep(0.1)
            assert world.feed.pages_waiting(), "the pull never asked for the third page"
            landed_while_held = _archived(world)
            assert landed_while_held > 0, "nothing landed while the feed held its third page"
        finally:
            world.feed.release_pages()
            runner.join(timeout=300)
        assert_exact_and_reported(world, app, result["summary"])
        assert _archived(world) > landed_while_held
        app.close()
