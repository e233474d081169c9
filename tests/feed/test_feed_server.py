"""The local capture feed (devtools/feed_server.py) speaks the contract, seen with a plain HTTP client."""

from __future__ import annotations

import base64
import json
import threading

import httpx
import pytest

from devtools.feed_server import FeedServer
from tests.feed.conftest import TOKEN, item

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WINDOW = {"since": "2026-11-22T00:00:00Z", "until": "2026-11-23T00:00:00Z"}


def get(server: FeedServer, path: str, params=None, headers=AUTH) -> httpx.Response:
    return httpx.get(server.base_url + path, params=params, headers=headers, timeout=10)


def test_binds_loopback_on_an_ephemeral_port(server):
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.port > 0


def test_page_size_defaults_to_500_and_must_be_1_to_1000(sample):
    many = [item(f"i{n:04d}", f"2026-11-22T10:{n // 60 % 60:02d}:{n % 60:02d}Z") for n in range(1200)]
    with FeedServer(many, {}, token=TOKEN) as server:
        body = get(server, "/v1/items", WINDOW).json()
        assert len(body["items"]) == 500 and body["next_cursor"]
        assert len(get(server, "/v1/items", {**WINDOW, "page_size": 1000}).json()["items"]) == 1000
        assert len(get(server, "/v1/items", {**WINDOW, "page_size": 1}).json()["items"]) == 1
        for bad in (0, 1001, -3, "ten", ""):
            response = get(server, "/v1/items", {**WINDOW, "page_size": bad})
            assert response.status_code == 400, bad


def test_since_and_until_are_required_rfc3339(server):
    assert get(server, "/v1/items", {"since": WINDOW["since"]}).status_code == 400
    assert get(server, "/v1/items", {"since": "yesterday", "until": WINDOW["until"]}).status_code == 400
    assert get(server, "/v1/items", {"since": "2026-11-22T00:00:00", "until": WINDOW["until"]}).status_code == 400  # no zone


def test_items_ordered_by_captured_at_then_id_and_the_last_cursor_is_null():
    items = [item("b", "2026-11-22T10:00:00Z"), item("a", "2026-11-22T10:00:00Z"), item("c", "2026-11-22T09:00:00+00:00"),
             item("d", "2026-11-22T10:00:00.5Z")]
    with FeedServer(items, {}, token=TOKEN) as server:
        first = get(server, "/v1/items", {**WINDOW, "page_size": 3}).json()
        assert [i["id"] for i in first["items"]] == ["c", "a", "b"]
        second = get(server, "/v1/items", {"cursor": first["next_cursor"]}).json()
        assert [i["id"] for i in second["items"]] == ["d"] and second["next_cursor"] is None


def test_the_cursor_is_opaque_and_a_forged_one_is_refused(server):
    cursor = get(server, "/v1/items", {**WINDOW, "page_size": 2}).json()["next_cursor"]
    assert isinstance(cursor, str) and "2026" not in cursor
    for forged in ("nonsense!", base64.urlsafe_b64encode(b'{"o": 1}').decode(), ""):
        assert get(server, "/v1/items", {"cursor": forged}).status_code == 400


def test_a_wrong_or_missing_token_is_401_everywhere(server, sample):
    attachment_id = next(iter(sample.attachments))
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        assert get(server, "/v1/items", WINDOW, headers).status_code == 401
        assert get(server, f"/v1/attachments/{attachment_id}", None, headers).status_code == 401


def test_attachments_come_with_their_content_type_and_length(server, sample):
    types = {}
    for it in sample.items:
        for att in it.get("attachments") or []:
            types[att["id"]] = att["content_type"]
    for attachment_id, content_type in types.items():
        response = get(server, f"/v1/attachments/{attachment_id}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == content_type
        assert int(response.headers["Content-Length"]) == len(sample.attachments[attachment_id])
        assert response.content == sample.attachments[attachment_id]
    assert get(server, "/v1/attachments/missing").status_code == 404


def test_requests_are_logged_without_headers(server):
    get(server, "/v1/items", WINDOW)
    get(server, "/v1/nowhere")
    log = server.requests
    assert [(r["kind"], r["status"]) for r in log] == [("items", 200), ("other", 404)]
    assert TOKEN not in json.dumps(log)


def test_throttle_answers_429_with_retry_after_the_next_n_requests(server):
    server.throttle(2, 5)
    server_date = "Wed, 21 Oct 2026 07:28:00 GMT"
    first, second = get(server, "/v1/items", WINDOW), get(server, "/v1/items", WINDOW)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "5")
    assert second.status_code == 429
    assert get(server, "/v1/items", WINDOW).status_code == 200
    server.throttle(1, server_date)
    assert get(server, "/v1/items", WINDOW).headers["Retry-After"] == server_date


def test_fail_auth_after_counts_pages_with_items_and_lifts_with_none(server):
    server.fail_auth_after(1)
    empty = {"since": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"}
    assert get(server, "/v1/items", empty).status_code == 200  # an empty page does not count
    assert get(server, "/v1/items", {**WINDOW, "page_size": 2}).status_code == 200
    assert get(server, "/v1/items", WINDOW).status_code == 401
    assert get(server, "/v1/attachments/whatever").status_code == 401
    server.fail_auth_after(None)
    assert get(server, "/v1/items", WINDOW).status_code == 200


def test_repeat_page_lands_on_the_first_page_n_with_items_and_only_once(server, sample):
    server.repeat_page(1)
    empty = get(server, "/v1/items", {"since": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"}).json()
    assert empty == {"items": [], "next_cursor": None}  # skipped: no items
    first = get(server, "/v1/items", {**WINDOW, "page_size": 4}).json()
    again = get(server, "/v1/items", {"cursor": first["next_cursor"]}).json()
    after = get(server, "/v1/items", {"cursor": again["next_cursor"]}).json()
    assert again["items"] == first["items"]
    assert [i["id"] for i in after["items"]] == [i["id"] for i in sample.items[4:8]]
    fresh = get(server, "/v1/items", {**WINDOW, "page_size": 4}).json()
    assert get(server, "/v1/items", {"cursor": fresh["next_cursor"]}).json()["items"] != fresh["items"]


def test_repeat_page_on_the_last_page_repeats_it_then_ends():
    items = [item("only", "2026-11-22T10:00:00Z")]
    with FeedServer(items, {}, token=TOKEN) as server:
        server.repeat_page(1)
        first = get(server, "/v1/items", WINDOW).json()
        assert first["next_cursor"] is not None
        again = get(server, "/v1/items", {"cursor": first["next_cursor"]}).json()
        assert again == {"items": first["items"], "next_cursor": None}


def test_an_unknown_item_cannot_be_resent(server):
    with pytest.raises(KeyError):
        server.repeat_item_in_next_window("no-such-item")


def test_concurrent_requests_are_served(server, sample):
    results: list[int] = []

    def worker():
        for attachment_id in sample.attachments:
            results.append(get(server, f"/v1/attachments/{attachment_id}").status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * (8 * len(sample.attachments))


def test_stop_is_idempotent_and_frees_the_port(sample):
    server = FeedServer(sample.items, sample.attachments, token=TOKEN).start()
    url = server.base_url
    server.stop()
    server.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/v1/items", timeout=2)
