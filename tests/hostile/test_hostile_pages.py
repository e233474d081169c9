"""Pages a broken or hostile feed could serve: nested too deep for the parser, or a gzip bomb.

Neither can be skipped (the next cursor is inside the page), so each fails the run with a clear
feed error, the run record says failed, the checkpoint stays, memory stays bounded, and the next
run (once the feed serves proper pages again) lands the whole day exactly once.
"""

from __future__ import annotations

import tracemalloc

import httpx
import pytest

from devtools.feed_server import FeedServer
from devtools.local_world import start_world
from shared.adapters.feed_http import HttpFeed
from shared.cli.run import run_cycle
from shared.pipeline.ports import FeedError
from tests.e2e.conftest import FAST, quiet
from tests.faults.test_faults import assert_exact_and_reported
from tests.feed.conftest import DAY_END, DAY_START, TOKEN
from tests.hostile.helpers import MiB, gzip_bomb, nested_page

BOMB_INFLATED = 256 * MiB  # about 250 KB on the wire


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(BOMB_INFLATED)


@pytest.mark.parametrize("kind", ["nested", "gzip-bomb"])
def test_a_page_that_is_not_a_page_fails_the_run_clearly_and_the_next_run_lands_the_day(storage_connection, kind, bomb):
    overrides = {**FAST, "FEED_MAX_PAGE_BYTES": str(4 * MiB)}
    with start_world(storage_connection=storage_connection, overrides=overrides) as world:
        if kind == "nested":
            world.feed.serve_raw_page(nested_page(50_000))
        else:
            world.feed.serve_raw_page(bomb, content_encoding="gzip")
        app = world.archiver()
        with pytest.raises(FeedError) as caught:
            run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        message = str(caught.value)
        assert ("nested deeper" in message) if kind == "nested" else ("FEED_MAX_PAGE_BYTES" in message)
        runs = app.checkpoints.runs()
        assert [r["status"] for r in runs] == ["failed"] and runs[0]["error"].startswith("FeedError")
        assert app.checkpoints.watermark() is None
        app.close()

        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert_exact_and_reported(world, app, summary)
        assert sorted(r["status"] for r in app.checkpoints.runs()) == ["failed", "succeeded"]
        app.close()


def test_a_gzip_bomb_page_is_refused_within_the_limit_not_inflated_whole(sample, bomb):
    limit = 4 * MiB
    with FeedServer(sample.items, sample.attachments, token=TOKEN) as server:
        server.serve_raw_page(bomb, content_encoding="gzip")
        feed = HttpFeed(server.base_url, TOKEN, max_page_bytes=limit)
        tracemalloc.start()
        try:
            with pytest.raises(FeedError, match="larger than 4194304 bytes once decompressed"):
                list(feed.pages(DAY_START, DAY_END))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            feed.close()
    # the page holds at most the limit plus one inflated step; 256 MiB were on offer
    assert peak < 3 * limit, f"peak {peak / MiB:.1f} MiB for a {BOMB_INFLATED // MiB} MiB bomb"
    assert len(bomb) < MiB


def test_a_plain_page_over_the_limit_and_a_nested_one_are_feed_errors_not_crashes():
    big = b'{"items": [], "next_cursor": null, "pad": "' + b"x" * (2 * MiB) + b'"}'
    deep = nested_page(100_000)
    for body, words in ((big, "FEED_MAX_PAGE_BYTES"), (deep, "RecursionError")):
        feed = HttpFeed("https://feed.example", TOKEN, max_page_bytes=MiB,
                        transport=httpx.MockTransport(lambda _r, body=body: httpx.Response(200, content=body)))
        with pytest.raises(FeedError, match=words):
            list(feed.pages(DAY_START, DAY_END))
