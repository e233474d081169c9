"""A window that fails for any reason leaves a run record saying failed (with why), and the checkpoint."""

from __future__ import annotations

import pytest

from devtools.local_world import start_world
from shared.bootstrap import Archiver
from shared.pipeline.ports import FeedPage
from tests.e2e.conftest import FAST


class BrokenFeed:
    """A feed adapter with a bug: one good page, then an error that is no FeedError."""

    def __init__(self, items):
        self.items = items

    def pages(self, since, until):
        yield FeedPage(items=self.items[:3], next_cursor="next")
        raise KeyError("a bug in the feed adapter")

    def download_attachment(self, attachment_id, sink, max_bytes=None):
        raise AssertionError("not reached")


def test_a_window_failing_on_an_error_that_is_not_a_feed_error_marks_the_run_failed(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        plain = [i for i in world.day.items if not i.get("attachments") and not i.get("call")]
        app = Archiver(world.settings(), feed=BrokenFeed(plain))
        app.ensure_storage()
        with pytest.raises(KeyError):
            app.pull()
        runs = app.checkpoints.runs()
        assert [r["status"] for r in runs] == ["failed"], "a failed window must not leave the run 'running'"
        assert runs[0]["error"].startswith("KeyError") and runs[0]["finished"]
        assert app.checkpoints.watermark() is None
        app.close()
