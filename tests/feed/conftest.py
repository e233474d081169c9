from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from devtools.feed_server import FeedServer
from devtools.sample_day import generate_day

TOKEN = "s3cret-feed-token-0123456789"
DAY = date(2026, 11, 22)
DAY_START = datetime(2026, 11, 22, tzinfo=timezone.utc)
DAY_END = DAY_START + timedelta(days=1)


@pytest.fixture(scope="session")
def sample():
    return generate_day(DAY)


@pytest.fixture
def server(sample):
    with FeedServer(sample.items, sample.attachments, token=TOKEN) as s:
        yield s


class Sleeps(list):
    """A fake ``sleep`` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


def item(item_id: str, captured_at: str) -> dict:
    """A minimal contract item (the server only needs id and captured_at to window it)."""
    return {
        "id": item_id, "type": "message", "captured_at": captured_at, "sent_at": captured_at,
        "conversation": {"id": "c1", "kind": "direct"}, "sender": {"phone": "+447700900123"}, "recipients": [],
        "text": "hi",
    }
