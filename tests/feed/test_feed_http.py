"""HttpFeed (shared/adapters/feed_http.py) against the local FeedServer, and against httpx.MockTransport
where a misbehaviour is easier to script by hand."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import tempfile
import threading
import tracemalloc
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from devtools.feed_server import FeedServer
from shared.adapters.feed_http import HttpFeed
from shared.pipeline.ports import FeedAuthError, FeedError, FeedPage, FeedTransientError
from tests.feed.conftest import DAY_END, DAY_START, TOKEN, item


def feed_for(server: FeedServer, sleeps=None, **kw) -> HttpFeed:
    return HttpFeed(server.base_url, TOKEN, sleep=sleeps if sleeps is not None else (lambda _s: None), **kw)


def ids(feed: HttpFeed, since=DAY_START, until=DAY_END) -> list[str]:
    return [i["id"] for page in feed.pages(since, until) for i in page.items]


def item_requests(server: FeedServer) -> list[dict]:
    return [r for r in server.requests if r["kind"] == "items"]


# --------------------------------------------------------------------------- paging
def test_small_pages_bring_every_item_of_the_window_once_in_order(server, sample):
    with feed_for(server, page_size=7) as feed:
        got = ids(feed)
    assert got == [i["id"] for i in sample.items]
    assert len(set(got)) == len(got)
    requests = item_requests(server)
    assert len(requests) == -(-len(sample.items) // 7)
    first, *rest = requests
    assert first["query"] == {"since": "2026-11-22T00:00:00Z", "until": "2026-11-23T00:00:00Z", "page_size": "7"}
    assert all(set(r["query"]) == {"cursor"} for r in rest)


def test_pages_are_fetched_lazily_one_at_a_time(server, sample):
    with feed_for(server, page_size=5) as feed:
        pages = feed.pages(DAY_START, DAY_END)
        first = next(pages)
        assert isinstance(first, FeedPage) and len(first.items) == 5 and first.next_cursor
        assert len(item_requests(server)) == 1
        second = next(pages)
        assert len(item_requests(server)) == 2
        assert [i["id"] for i in first.items + second.items] == [i["id"] for i in sample.items[:10]]


def test_the_window_is_half_open_on_captured_at():
    items = [
        item("before", "2026-11-21T23:59:59.999999Z"),
        item("at-since", "2026-11-22T00:00:00Z"),
        item("inside-offset", "2026-11-22T13:00:00+01:00"),  # 12:00Z
        item("last-microsecond", "2026-11-22T23:59:59.999999Z"),
        item("at-until", "2026-11-23T00:00:00Z"),
    ]
    with FeedServer(items, {}, token=TOKEN) as server, feed_for(server, page_size=2) as feed:
        assert ids(feed) == ["at-since", "inside-offset", "last-microsecond"]
        assert ids(feed, DAY_END, DAY_END + timedelta(hours=1)) == ["at-until"]
        assert ids(feed, DAY_START - timedelta(hours=1), DAY_START) == ["before"]
        noon = DAY_START + timedelta(hours=12)
        assert ids(feed, DAY_START, noon) + ids(feed, noon, DAY_END) == ["at-since", "inside-offset", "last-microsecond"]


def test_since_and_until_are_sent_as_utc_rfc3339_with_z(server):
    berlin = timezone(timedelta(hours=1))
    with feed_for(server) as feed:
        list(feed.pages(datetime(2026, 11, 22, 1, 0, tzinfo=berlin), datetime(2026, 11, 22, 3, 0, 0, 500000, tzinfo=berlin)))
    query = item_requests(server)[0]["query"]
    assert query["since"] == "2026-11-22T00:00:00Z"
    assert query["until"] == "2026-11-22T02:00:00.500000Z"
    assert query["page_size"] == "500"


def test_an_empty_window_is_one_empty_last_page(server):
    with feed_for(server) as feed:
        pages = list(feed.pages(DAY_END + timedelta(days=3), DAY_END + timedelta(days=4)))
    assert pages == [FeedPage(items=[], next_cursor=None)]


def test_a_page_served_twice_comes_through_twice_for_the_pipeline_to_dedupe(server, sample):
    server.repeat_page(2)
    with feed_for(server, page_size=6) as feed:
        got = ids(feed)
    everything = [i["id"] for i in sample.items]
    assert got == everything[:12] + everything[6:12] + everything[12:]


def test_an_item_resent_in_the_next_window_comes_in_both(server, sample):
    resent = sample.items[3]["id"]
    server.repeat_item_in_next_window(resent)
    noon = DAY_START + timedelta(hours=12)
    with feed_for(server, page_size=10) as feed:
        morning, afternoon = ids(feed, DAY_START, noon), ids(feed, noon, DAY_END)
        again = ids(feed, noon, DAY_END)
    assert resent in morning and afternoon[0] == resent
    assert resent not in again  # re-sent once
    assert sorted(set(morning + afternoon)) == sorted(i["id"] for i in sample.items)


def test_a_cursor_that_answers_with_itself_is_an_error_not_an_endless_loop():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [], "next_cursor": "same"})

    feed = HttpFeed("https://feed.example", TOKEN, transport=httpx.MockTransport(handler))
    with pytest.raises(FeedError, match="same next_cursor"):
        list(feed.pages(DAY_START, DAY_END))


def test_page_size_outside_the_contract_is_refused_up_front():
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="page_size"):
            HttpFeed("https://feed.example", TOKEN, page_size=bad)


# --------------------------------------------------------------------------- auth
def test_a_wrong_token_is_an_auth_error_naming_the_url_and_never_the_token(sample):
    with FeedServer(sample.items, sample.attachments, token="the-right-one") as server, feed_for(server) as feed:
        with pytest.raises(FeedAuthError) as caught:
            list(feed.pages(DAY_START, DAY_END))
    message = str(caught.value)
    assert TOKEN not in message
    assert "401" in message and "check FEED_TOKEN" in message and f"{server.base_url}/v1/items" in message
    assert len(server.requests) == 1  # not retried


def test_403_is_an_auth_error_too_and_the_attachment_path_checks_it(server, sample):
    server.fail_next(1, status=403)
    with feed_for(server) as feed:
        with pytest.raises(FeedAuthError, match="403"):
            feed.download_attachment(next(iter(sample.attachments)), io.BytesIO())


def test_a_401_after_some_pages_fails_the_walk(server):
    server.fail_auth_after(2)
    with feed_for(server, page_size=5) as feed:
        got = []
        with pytest.raises(FeedAuthError):
            for page in feed.pages(DAY_START, DAY_END):
                got.extend(page.items)
    assert len(got) == 10
    server.fail_auth_after(None)
    with feed_for(server, page_size=5) as feed:
        assert len(ids(feed)) > 10


def test_the_token_never_reaches_the_logs(server, sample, caplog, sleeps):
    caplog.set_level(logging.DEBUG)
    server.throttle(1, 1)
    server.fail_next(1, status=500)
    server.drop_next(1)
    with feed_for(server, sleeps, page_size=20) as feed:
        ids(feed)
        for attachment_id in sample.attachments:
            feed.download_attachment(attachment_id, io.BytesIO())
    assert len(sleeps) == 3
    assert TOKEN not in caplog.text
    assert "Whiteboard" not in caplog.text and "Guten Morgen" not in caplog.text  # no item content either


# --------------------------------------------------------------------------- throttling and transient failures
def test_429_with_retry_after_seconds_is_honoured(server, sample, sleeps):
    server.throttle(2, 7)
    with feed_for(server, sleeps) as feed:
        assert ids(feed) == [i["id"] for i in sample.items]
    assert sleeps == [7.0, 7.0]


def test_429_with_an_http_date_is_honoured(server, sleeps):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    server.throttle(1, format_datetime(when, usegmt=True))
    with feed_for(server, sleeps) as feed:
        ids(feed)
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 31


def test_each_wait_is_capped(server, sleeps):
    server.throttle(1, 86400)
    with feed_for(server, sleeps, max_wait_seconds=60) as feed:
        ids(feed)
    assert sleeps == [60.0]


def test_a_retry_after_in_the_past_means_no_wait(server, sleeps):
    server.throttle(1, "Wed, 21 Oct 2015 07:28:00 GMT")
    with feed_for(server, sleeps) as feed:
        ids(feed)
    assert sleeps == [0.0]


def test_5xx_is_retried_with_exponential_backoff(server, sample, sleeps):
    server.fail_next(3, status=502)
    with feed_for(server, sleeps, backoff_seconds=0.5) as feed:
        assert len(ids(feed)) == len(sample.items)
    assert sleeps == [0.5, 1.0, 2.0]


def test_5xx_that_outlasts_the_retries_is_a_transient_error(server, sleeps):
    server.fail_next(100, status=503, retry_after=2)
    with feed_for(server, sleeps, max_attempts=4) as feed:
        with pytest.raises(FeedTransientError) as caught:
            ids(feed)
    assert sleeps == [2.0, 2.0, 2.0]  # no sleep after the last attempt
    assert "503" in str(caught.value) and "4 attempts" in str(caught.value) and TOKEN not in str(caught.value)
    assert len(server.requests) == 4


def test_a_dropped_connection_is_retried(server, sample, sleeps):
    server.drop_next(2, path_contains="/v1/items")
    with feed_for(server, sleeps, page_size=10) as feed:
        assert ids(feed) == [i["id"] for i in sample.items]
    assert len(sleeps) == 2
    assert [r["status"] for r in server.requests[:2]] == ["dropped", "dropped"]


def test_connections_that_keep_dropping_end_in_a_transient_error(server, sleeps):
    server.drop_next(100)
    with feed_for(server, sleeps, max_attempts=3) as feed:
        with pytest.raises(FeedTransientError, match="3 attempts"):
            ids(feed)


def test_a_feed_that_never_answers_times_out_and_is_a_transient_error(sleeps):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # accept, then say nothing
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        feed = HttpFeed(f"http://127.0.0.1:{listener.getsockname()[1]}", TOKEN, timeout=0.3, max_attempts=2, sleep=sleeps)
        with pytest.raises(FeedTransientError, match="Timeout"):
            ids(feed)
        feed.close()
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    assert len(sleeps) == 1


def test_nothing_listening_is_a_transient_error(sleeps):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with HttpFeed(f"http://127.0.0.1:{port}", TOKEN, max_attempts=2, sleep=sleeps) as feed:
        with pytest.raises(FeedTransientError, match="ConnectError"):
            ids(feed)


# --------------------------------------------------------------------------- other errors
def test_other_4xx_is_a_feed_error_with_the_start_of_the_body_and_no_token():
    body = f"teapot says no; you sent {TOKEN}; " + "x" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return httpx.Response(418, text=body)

    calls = []
    feed = HttpFeed("https://feed.example", TOKEN, transport=httpx.MockTransport(lambda r: calls.append(r) or handler(r)))
    with pytest.raises(FeedError) as caught:
        list(feed.pages(DAY_START, DAY_END))
    assert not isinstance(caught.value, (FeedAuthError, FeedTransientError))
    message = str(caught.value)
    assert "418" in message and "teapot says no" in message and TOKEN not in message
    assert len(message) < 500
    assert len(calls) == 1


def test_an_unknown_attachment_is_a_feed_error(server):
    with feed_for(server) as feed:
        with pytest.raises(FeedError, match="404"):
            feed.download_attachment("no-such-file", io.BytesIO())


@pytest.mark.parametrize("body", [
    b"<html>maintenance</html>",
    b"",
    b"[]",
    b'{"data": []}',
    b'{"items": {}, "next_cursor": null}',
    b'{"items": []}',
    b'{"items": [], "next_cursor": 7}',
])
def test_a_malformed_200_body_is_a_feed_error(body):
    feed = HttpFeed("https://feed.example", TOKEN, transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    with pytest.raises(FeedError) as caught:
        list(feed.pages(DAY_START, DAY_END))
    assert not isinstance(caught.value, FeedTransientError)


# --------------------------------------------------------------------------- attachments
def test_every_attachment_streams_whole_and_hashes_to_its_sha256(server, sample):
    declared = {}
    for it in sample.items:
        for att in it.get("attachments") or []:
            declared[att["id"]] = att
        if isinstance(it.get("call"), dict) and it["call"].get("recording"):
            declared[it["call"]["recording"]["id"]] = it["call"]["recording"]
    assert set(declared) == set(sample.attachments)
    with feed_for(server) as feed:
        for attachment_id, meta in declared.items():
            sink = io.BytesIO()
            assert feed.download_attachment(attachment_id, sink) == meta["size"]
            assert hashlib.sha256(sink.getvalue()).hexdigest() == meta["sha256"]


def test_attachment_ids_are_url_quoted():
    odd = "att/with space?&#%2F..ü"
    with FeedServer([], {odd: b"odd bytes"}, token=TOKEN) as server, feed_for(server) as feed:
        sink = io.BytesIO()
        assert feed.download_attachment(odd, sink) == 9
        assert sink.getvalue() == b"odd bytes"
        assert server.requests[0]["path"].startswith("/v1/attachments/att%2Fwith%20space%3F%26%23%252F")


def test_a_large_attachment_streams_with_flat_memory():
    size = 5 * 1024 * 1024
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    with FeedServer([], {"big": data}, token=TOKEN) as server, feed_for(server) as feed, \
            tempfile.TemporaryFile() as sink:
        feed.download_attachment("big", io.BytesIO(b"warm-up"))  # first-use allocations out of the way
        tracemalloc.start()
        try:
            written = feed.download_attachment("big", sink)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert written == size
        sink.seek(0)
        assert hashlib.sha256(sink.read()).hexdigest() == digest
    assert peak < size // 4, f"peak {peak} bytes while streaming {size}"


def test_a_download_cut_short_is_retried_into_a_clean_sink(server, sample, sleeps):
    attachment_id, data = max(sample.attachments.items(), key=lambda kv: len(kv[1]))
    server.drop_next(1, path_contains="/v1/attachments/", after_bytes=len(data) // 2)
    sink = io.BytesIO()
    sink.write(b"PREFIX")  # the sink is written from where it stood, and reset to there
    with feed_for(server, sleeps) as feed:
        assert feed.download_attachment(attachment_id, sink) == len(data)
    assert sink.getvalue() == b"PREFIX" + data
    assert len(sleeps) == 1
    assert [r["status"] for r in server.requests] == ["dropped", 200]


def test_a_spooled_temp_file_sink_is_reset_too(server, sample, sleeps):
    attachment_id, data = max(sample.attachments.items(), key=lambda kv: len(kv[1]))
    server.drop_next(1, path_contains="/v1/attachments/", after_bytes=len(data) - 10)
    with feed_for(server, sleeps) as feed, tempfile.SpooledTemporaryFile(max_size=len(data) // 3) as sink:
        assert feed.download_attachment(attachment_id, sink) == len(data)
        sink.seek(0)
        assert sink.read() == data


def test_a_corrupt_attachment_is_wrong_bytes_of_the_right_length(server, sample):
    attachment_id, data = next(iter(sample.attachments.items()))
    server.corrupt_attachment(attachment_id, times=1)
    with feed_for(server) as feed:
        bad, good = io.BytesIO(), io.BytesIO()
        assert feed.download_attachment(attachment_id, bad) == len(data)
        assert feed.download_attachment(attachment_id, good) == len(data)
    assert bad.getvalue() != data and hashlib.sha256(bad.getvalue()).hexdigest() != hashlib.sha256(data).hexdigest()
    assert good.getvalue() == data


def test_an_always_corrupt_attachment_stays_corrupt(server, sample):
    attachment_id, data = list(sample.attachments.items())[1]
    server.corrupt_attachment(attachment_id, times=None)
    with feed_for(server) as feed:
        for _ in range(3):
            sink = io.BytesIO()
            feed.download_attachment(attachment_id, sink)
            assert sink.getvalue() != data


def test_a_throttled_attachment_download_honours_retry_after(server, sample, sleeps):
    attachment_id, data = next(iter(sample.attachments.items()))
    server.throttle(1, 3)
    with feed_for(server, sleeps) as feed:
        sink = io.BytesIO()
        feed.download_attachment(attachment_id, sink)
    assert sink.getvalue() == data and sleeps == [3.0]


def test_a_body_shorter_than_its_content_length_is_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, headers={"Content-Length": "10"}, content=b"short")
        return httpx.Response(200, content=b"0123456789")

    sleeps: list[float] = []
    feed = HttpFeed("https://feed.example", TOKEN, transport=httpx.MockTransport(handler), sleep=sleeps.append)
    sink = io.BytesIO()
    assert feed.download_attachment("a", sink) == 10
    assert sink.getvalue() == b"0123456789" and len(calls) == 2


def test_a_download_that_keeps_breaking_leaves_the_sink_as_it_found_it(server, sample, sleeps):
    attachment_id, data = max(sample.attachments.items(), key=lambda kv: len(kv[1]))
    server.drop_next(100, path_contains="/v1/attachments/", after_bytes=len(data) // 2)
    sink = io.BytesIO(b"KEEP")
    sink.seek(4)
    with feed_for(server, sleeps, max_attempts=3) as feed:
        with pytest.raises(FeedTransientError, match="3 attempts"):
            feed.download_attachment(attachment_id, sink)
    assert sink.getvalue() == b"KEEP"
