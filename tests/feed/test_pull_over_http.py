"""The pull use case over the real HTTP client and the local feed, on Azurite: the feed's faults
as the fault-injection tests use them, seen at the pull (no Graph needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from devtools.feed_server import FeedServer
from devtools.sample_day import generate_day
from shared import names
from shared.adapters.feed_http import HttpFeed
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.clients import QUEUE_POLICIES
from shared.adapters.storage.queues import QueueStore
from shared.adapters.storage.tables import CheckpointStore, Tables, Tracking
from shared.pipeline.ports import FeedAuthError
from shared.pipeline.pull import pull_delta
from tests.feed.conftest import DAY, TOKEN


class Store:
    def __init__(self, conn: str):
        self.blobs = BlobStore(BlobServiceClient.from_connection_string(conn))
        self.queues = QueueStore(QueueServiceClient.from_connection_string(conn, **QUEUE_POLICIES))
        tables = Tables(TableServiceClient.from_connection_string(conn))
        self.blobs.ensure_containers()
        self.queues.ensure_queues()
        tables.ensure_tables()
        self.checkpoints = CheckpointStore(tables)
        self.tracking = Tracking(tables)

    def pull(self, feed, now: datetime, *, max_window_hours: int = 24, lookback: int = 72):
        return pull_delta(feed=feed, blobs=self.blobs, queues=self.queues, checkpoints=self.checkpoints,
                          tracking=self.tracking, max_window_hours=max_window_hours, first_lookback_hours=lookback,
                          now=lambda: now)

    def raw_ids(self) -> list[str]:
        return [json.loads(self.blobs.get(names.RAW, n)).get("id") for n in self.blobs.list(names.RAW)]


@pytest.fixture
def world(storage_connection):
    sample = generate_day(DAY)
    with FeedServer(sample.items, sample.attachments, token=TOKEN) as server:
        feed = HttpFeed(server.base_url, TOKEN, page_size=50, sleep=lambda _s: None)
        yield sample, server, feed, Store(storage_connection)
        feed.close()


NEXT_DAY = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)


@pytest.mark.parametrize("now_hours", [0.1, 6, 13.25, 23.9])
def test_a_401_after_two_pages_fails_before_any_checkpoint_whatever_the_time_of_day(world, now_hours):
    """As tests/faults: a 72 h first look-back in 24 h windows, pages of 5, 401 after 2 pages.

    The empty first window (72 h back) completes and may move the checkpoint; the window holding
    the first items never does, whatever time of day the run starts: it has more than two pages.
    """
    sample, server, _feed, store = world
    feed = HttpFeed(server.base_url, TOKEN, page_size=5, sleep=lambda _s: None)
    server.fail_auth_after(2)
    with pytest.raises(FeedAuthError):
        store.pull(feed, NEXT_DAY + timedelta(hours=now_hours))
    first_captured = datetime.fromisoformat(sample.items[0]["captured_at"].replace("Z", "+00:00"))
    watermark = store.checkpoints.watermark()
    assert watermark is None or watermark <= first_captured
    assert len(store.raw_ids()) == 10  # two pages of five, then the 401
    server.fail_auth_after(None)
    result = store.pull(feed, NEXT_DAY + timedelta(hours=now_hours))
    assert store.checkpoints.watermark() == NEXT_DAY + timedelta(hours=now_hours)
    assert result.items == len(sample.items)
    feed.close()


def test_a_page_served_twice_and_a_resent_item_are_stored_once(world):
    sample, server, feed, store = world
    server.repeat_page(1)
    server.repeat_item_in_next_window(sample.items[3]["id"])
    result = store.pull(feed, NEXT_DAY + timedelta(hours=13), max_window_hours=6)
    assert result.items > len(sample.items) + 1  # the repeated page and the re-send came through
    raw = store.raw_ids()
    assert sorted(raw) == sorted(i["id"] for i in sample.items)  # stored once each (same bytes: same blob)


def test_corrupt_attachments_are_refetched_or_reported(world):
    sample, server, feed, store = world
    with_files = [i for i in sample.items if i.get("attachments")]
    flaky, broken = with_files[0]["attachments"][0], with_files[1]["attachments"][0]
    server.corrupt_attachment(flaky["id"], times=1)
    server.corrupt_attachment(broken["id"], times=None)
    result = store.pull(feed, NEXT_DAY + timedelta(hours=13))
    assert result.attachments_corrupt == 1
    stored = set(store.blobs.list(names.ATTACHMENTS))
    assert flaky["sha256"] in stored and broken["sha256"] not in stored
    every = {f["sha256"] for i in sample.items for f in (i.get("attachments") or [])
             + ([i["call"]["recording"]] if i.get("call", {}).get("recording") else [])}
    assert stored == every - {broken["sha256"]}


def test_an_attachment_the_feed_no_longer_has_is_reported_and_the_rest_of_the_window_still_lands(storage_connection):
    sample = generate_day(DAY)
    with_file = next(i for i in sample.items if i.get("attachments"))
    gone = with_file["attachments"][0]
    attachments = {k: v for k, v in sample.attachments.items() if k != gone["id"]}  # the feed answers 404
    with FeedServer(sample.items, attachments, token=TOKEN) as server:
        feed = HttpFeed(server.base_url, TOKEN, page_size=50, sleep=lambda _s: None)
        store = Store(storage_connection)
        result = store.pull(feed, NEXT_DAY + timedelta(hours=1))
        feed.close()
    assert result.items == len(sample.items)  # the run goes on and moves its checkpoint
    assert result.attachments_corrupt == 1
    assert store.checkpoints.watermark() == NEXT_DAY + timedelta(hours=1)
    assert not store.blobs.exists(names.ATTACHMENTS, gone["sha256"])
    row = store.tracking.get_item(result.report_date, with_file["id"])
    assert row["corrupt_attachments"] == gone["id"]
