"""A local capture feed speaking ../shared/feed-contract.md (part A, HTTP pull), served from memory.

For the demo, the end-to-end and the fault-injection tests, and for pointing a Functions host at
(``python -m devtools.feed_server --port 7301``). Standard library only; binds 127.0.0.1.

    server = FeedServer(items, attachments, token="t")   # port=0: an ephemeral port
    server.start(); server.base_url                      # "http://127.0.0.1:PORT"
    ... server.stop()

What it serves:

- ``GET /v1/items?since=..&until=..&page_size=..``, then ``?cursor=..``: the items whose
  ``captured_at`` is in ``[since, until)``, ordered by (captured_at, id), ``page_size`` 1..1000
  (default 500; 400 outside). ``next_cursor`` is opaque (url-safe base64 of JSON state), null on
  the last page. An item whose ``captured_at`` cannot be read is in no window.
- ``GET /v1/attachments/{id}``: the bytes, with Content-Type (from the item that names the file)
  and Content-Length; 404 for an unknown id.
- 401 when the bearer token is wrong or missing.

Fault hooks (all thread-safe, all may be set before or during a run):

- ``repeat_page(n)``: the first page number ``n`` (1-based, within its window) that is served with
  at least one item after the hook is set is served twice: its ``next_cursor`` leads to the very
  same page once more, whose own ``next_cursor`` then goes on as normal (null if it was the last).
  Empty pages are skipped so the hook lands on a window that has items.
- ``repeat_item_in_next_window(item_id)``: the provider re-sends the item: it also heads the
  first page of the first window requested whose ``since`` is later than the item's captured_at
  (the window after its own, when windows are pulled in order). Once.
- ``corrupt_attachment(attachment_id, times)``: the next ``times`` downloads of it get wrong
  bytes of the right length (``None``: every download).
- ``fail_auth_after(n)``: after ``n`` more item pages that carry at least one item (empty pages,
  i.e. empty windows, do not count), answer 401 to every request; ``None`` lifts it.
- ``throttle(times, retry_after)``: the next ``times`` requests get 429 with ``Retry-After``
  (a number of seconds, or a string sent as is, e.g. an HTTP date).
- ``fail_next(times, status=503, retry_after=None, path_contains="")``: the next ``times``
  matching requests get that status.
- ``drop_next(times, path_contains="", after_bytes=0)``: the next ``times`` matching requests get
  their connection closed: with no answer (``after_bytes=0``) or after the headers and
  ``after_bytes`` bytes of the body.
- ``repeat_item_in_next_window(item_id, changes={...})``: as above, but the re-sent copy has
  ``changes`` merged into it (the provider re-sends the item with different content).
- ``add_items(items, attachments)``: more items (and attachment bytes) served from now on, e.g. a
  hostile item; ``attachment_bytes(attachment_id, data)`` serves other bytes for one attachment
  (e.g. more or fewer than its item declares).
- ``serve_raw_page(body, times=1, content_encoding=None)``: the next ``times`` item pages are
  answered 200 with these bytes as they are (a page nested too deep, a gzip bomb with
  ``content_encoding="gzip"``).
- ``hold_pages_after(n)``: answer ``n`` more item pages, then hold later page requests until
  ``release_pages()`` (a slow feed; ``pages_waiting()`` says whether one is held now).
- ``reset_faults()``; ``requests``: a copy of the request log, one dict per request
  (``method``, ``path``, ``query``, ``status``, ``kind`` = items|attachment|other), no headers.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.local_http import QuietServer, serve, shut

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
WRITE_CHUNK = 256 * 1024


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (Z or offset) as an aware UTC datetime; None if unreadable or naive."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc)


def _encode_cursor(state: dict) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(state, dict) or not {"s", "u", "o", "p", "n", "x"} <= set(state):
        return None
    return state


def _attachment_types(items: list[dict]) -> dict[str, str]:
    """attachment id -> content type, from every attachment and call recording the items name."""
    types: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        files = list(item.get("attachments") or []) if isinstance(item.get("attachments"), list) else []
        call = item.get("call")
        if isinstance(call, dict) and isinstance(call.get("recording"), dict):
            files.append(call["recording"])
        for f in files:
            if isinstance(f, dict) and isinstance(f.get("id"), str) and isinstance(f.get("content_type"), str):
                types.setdefault(f["id"], f["content_type"])
    return types


@dataclass
class _Fault:
    status: int | None  # None: drop the connection
    remaining: int
    path_contains: str = ""
    retry_after: Any = None
    after_bytes: int = 0


class FeedServer:
    """The capture feed, in memory, on 127.0.0.1. See the module docstring for the hooks."""

    def __init__(self, items: list[dict], attachments: dict[str, bytes], *, token: str, port: int = 0):
        self.token = token
        self.port = port
        self._lock = threading.RLock()
        self._holding = 0  # item page requests held by hold_pages_after right now
        self._released = threading.Event()  # set: no page is held (one event for good: a held request waits on it)
        self._attachments = dict(attachments)
        self._types = _attachment_types(items)
        # (captured_at, id, item), sorted: the order the contract serves them in
        keyed = []
        for item in items:
            moment = parse_time(item.get("captured_at")) if isinstance(item, dict) else None
            if moment is None:
                log.warning("feed server: an item without a readable captured_at is in no window")
                continue
            item_id = item.get("id") if isinstance(item.get("id"), str) else ""
            keyed.append((moment, item_id, item))
        keyed.sort(key=lambda t: (t[0], t[1]))
        self._sorted = keyed
        self._by_id = {item_id: (moment, item) for moment, item_id, item in keyed if item_id}
        self._log: list[dict] = []
        self._httpd: QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.reset_faults()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FeedServer":
        if self._httpd is not None:
            return self
        self._httpd, self._thread = serve(type("FeedHandler", (_Handler,), {"feed": self}), self.port, "feed-server")
        self.port = self._httpd.server_address[1]
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        shut(httpd, self._thread)
        self._thread = None
        with self._lock:
            open_connections = list(self._connections)
            self._connections.clear()
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "FeedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ fault hooks
    def reset_faults(self) -> None:
        with self._lock:
            self._repeat_page: int | None = None
            self._resend: dict[str, bool] = {}  # item id -> already re-sent
            self._corrupt: dict[str, int | None] = {}
            self._auth_budget: int | None = None
            self._faults: list[_Fault] = []
            self._resend_changes: dict[str, dict] = {}
            self._raw_pages: list[list] = []  # [body, remaining, content_encoding]
            self._hold_after: int | None = None  # item pages answered before the rest wait for release_pages()
            self._pages_served = 0
            self._released.set()  # a page held now is let go

    def repeat_page(self, n: int) -> None:
        if n < 1:
            raise ValueError("pages are numbered from 1")
        with self._lock:
            self._repeat_page = n

    def repeat_item_in_next_window(self, item_id: str, changes: dict | None = None) -> None:
        if item_id not in self._by_id:
            raise KeyError(f"no item {item_id!r} in this feed")
        with self._lock:
            self._resend[item_id] = False
            if changes:
                self._resend_changes[item_id] = dict(changes)

    def add_items(self, items: list[dict], attachments: dict[str, bytes] | None = None) -> None:
        with self._lock:
            self._attachments.update(attachments or {})
            for attachment_id, content_type in _attachment_types(items).items():
                self._types.setdefault(attachment_id, content_type)
            for item in items:
                moment = parse_time(item.get("captured_at"))
                item_id = item.get("id") if isinstance(item.get("id"), str) else ""
                if moment is None or not item_id:
                    raise ValueError("add_items: every item needs an id and a readable captured_at")
                self._sorted.append((moment, item_id, item))
                self._by_id[item_id] = (moment, item)
            self._sorted.sort(key=lambda t: (t[0], t[1]))

    def attachment_bytes(self, attachment_id: str, data: bytes) -> None:
        with self._lock:
            self._attachments[attachment_id] = data

    def serve_raw_page(self, body: bytes, times: int = 1, content_encoding: str | None = None) -> None:
        with self._lock:
            self._raw_pages.append([body, times, content_encoding])

    def take_raw_page(self) -> tuple[bytes, str | None] | None:
        with self._lock:
            for entry in self._raw_pages:
                if entry[1] > 0:
                    entry[1] -= 1
                    return entry[0], entry[2]
        return None

    def hold_pages_after(self, n: int) -> None:
        """Answer ``n`` more item pages, then hold every later one until ``release_pages()`` (a slow feed)."""
        with self._lock:
            self._hold_after, self._pages_served = n, 0
            self._released.clear()

    def release_pages(self) -> None:
        with self._lock:
            self._hold_after = None
            self._released.set()

    def pages_waiting(self) -> bool:
        """True while an item page request is held by ``hold_pages_after``."""
        with self._lock:
            return self._holding > 0

    def _hold_if_asked(self) -> None:
        with self._lock:
            if self._hold_after is None:
                return
            self._pages_served += 1
            if self._pages_served <= self._hold_after:
                return
            self._holding += 1
        try:
            self._released.wait(timeout=120)  # never hang a test for good
        finally:
            with self._lock:
                self._holding -= 1

    def corrupt_attachment(self, attachment_id: str, times: int | None = 1) -> None:
        with self._lock:
            self._corrupt[attachment_id] = times

    def fail_auth_after(self, n: int | None) -> None:
        with self._lock:
            self._auth_budget = n

    def throttle(self, times: int, retry_after: float | int | str = 1) -> None:
        with self._lock:
            self._faults.append(_Fault(status=429, remaining=times, retry_after=retry_after))

    def fail_next(self, times: int, status: int = 503, *, retry_after: Any = None, path_contains: str = "") -> None:
        with self._lock:
            self._faults.append(_Fault(status=status, remaining=times, retry_after=retry_after, path_contains=path_contains))

    def drop_next(self, times: int, *, path_contains: str = "", after_bytes: int = 0) -> None:
        with self._lock:
            self._faults.append(_Fault(status=None, remaining=times, path_contains=path_contains, after_bytes=after_bytes))

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._log]

    # ------------------------------------------------------------------ serving (called by the handler)
    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.path_contains in path:
                    fault.remaining -= 1
                    return fault
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    def _window(self, since: datetime, until: datetime) -> list[str]:
        return [item_id for moment, item_id, _ in self._sorted if since <= moment < until and item_id]

    def items_page(self, query: dict[str, list[str]]) -> tuple[int, dict]:
        """(status, JSON body) for GET /v1/items. Decides and updates the fault state under the lock."""
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        cursor = one("cursor")
        replay = False
        if cursor is not None:
            state = _decode_cursor(cursor)
            if state is None:
                return 400, {"error": "bad_cursor", "message": "the cursor is not one this feed issued"}
            since, until = parse_time(state["s"]), parse_time(state["u"])
            if since is None or until is None:
                return 400, {"error": "bad_cursor", "message": "the cursor is not one this feed issued"}
            try:
                offset, page_size, number, extra = int(state["o"]), int(state["p"]), int(state["n"]), list(state["x"])
            except (TypeError, ValueError):
                return 400, {"error": "bad_cursor", "message": "the cursor is not one this feed issued"}
            if offset < 0 or not 1 <= page_size <= MAX_PAGE_SIZE or any(i not in self._by_id for i in extra):
                return 400, {"error": "bad_cursor", "message": "the cursor is not one this feed issued"}
            replay = bool(state.get("r"))
        else:
            since, until = parse_time(one("since")), parse_time(one("until"))
            if since is None or until is None:
                return 400, {"error": "bad_request", "message": "since and until are required RFC 3339 timestamps"}
            raw_size = one("page_size")
            try:
                page_size = DEFAULT_PAGE_SIZE if raw_size is None else int(raw_size)
            except ValueError:
                page_size = -1
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                return 400, {"error": "bad_request", "message": f"page_size must be 1..{MAX_PAGE_SIZE}"}
            offset, number = 0, 1
            with self._lock:  # the provider re-sends: a pending item heads the first window after its own
                extra = []
                for item_id, done in self._resend.items():
                    if not done and self._by_id[item_id][0] < since:
                        extra.append(item_id)
                        self._resend[item_id] = True
        ids = extra + self._window(since, until)
        chunk = ids[offset:offset + page_size]
        next_offset = offset + page_size
        state = {"s": since.isoformat(), "u": until.isoformat(), "p": page_size, "x": extra}
        next_cursor = _encode_cursor({**state, "o": next_offset, "n": number + 1}) if next_offset < len(ids) else None
        with self._lock:
            if self._auth_budget is not None and chunk:
                self._auth_budget -= 1
            if not replay and chunk and self._repeat_page is not None and number == self._repeat_page:
                self._repeat_page = None
                next_cursor = _encode_cursor({**state, "o": offset, "n": number, "r": 1})
        served = []
        for position, item_id in enumerate(chunk, offset):
            item = self._by_id[item_id][1]
            if position < len(extra) and item_id in self._resend_changes:  # the re-sent copy, changed
                item = {**item, **self._resend_changes[item_id]}
            served.append(item)
        return 200, {"items": served, "next_cursor": next_cursor}

    def attachment(self, attachment_id: str) -> tuple[bytes, str] | None:
        data = self._attachments.get(attachment_id)
        if data is None:
            return None
        with self._lock:
            if attachment_id in self._corrupt:
                left = self._corrupt[attachment_id]
                if left is None or left > 0:
                    if left is not None:
                        self._corrupt[attachment_id] = left - 1
                    data = _corrupted(data)
        return data, self._types.get(attachment_id, "application/octet-stream")

    def auth_blocked(self) -> bool:
        with self._lock:
            return self._auth_budget is not None and self._auth_budget <= 0

    def record(self, entry: dict) -> None:
        with self._lock:
            self._log.append(entry)


def _corrupted(data: bytes) -> bytes:
    """Same length, different bytes (an empty file becomes one byte: still a mismatch)."""
    if not data:
        return b"\x00"
    flipped = bytearray(data)
    for i in {0, len(flipped) // 2, len(flipped) - 1}:
        flipped[i] ^= 0xFF
    return bytes(flipped)


class _Handler(BaseHTTPRequestHandler):
    feed: FeedServer  # set on the per-server subclass
    protocol_version = "HTTP/1.1"
    server_version = "LocalCaptureFeed/1"
    timeout = 30  # idle keep-alive connections close after this

    def setup(self) -> None:
        super().setup()
        with self.feed._lock:
            self.feed._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.feed._lock:
                self.feed._connections.discard(self.connection)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("feed server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        kind = "items" if path == "/v1/items" else "attachment" if path.startswith("/v1/attachments/") else "other"
        entry = {"method": "GET", "path": path, "query": {k: v[-1] for k, v in query.items()}, "kind": kind, "status": None}
        self.feed.record(entry)

        fault = self.feed._take_fault(path)
        if fault is not None and fault.status is None and not fault.after_bytes:
            entry["status"] = "dropped"
            self._drop()
            return
        if fault is not None and fault.status is not None:
            headers = {}
            if fault.retry_after is not None:
                ra = fault.retry_after
                headers["Retry-After"] = str(int(ra)) if isinstance(ra, (int, float)) and float(ra).is_integer() else str(ra)
            return self._json(entry, fault.status, {"error": "injected", "message": f"injected {fault.status}"}, headers)
        if self.feed.auth_blocked() or self.headers.get("Authorization") != f"Bearer {self.feed.token}":
            return self._json(entry, 401, {"error": "unauthorized", "message": "missing, wrong or expired bearer token"},
                              {"WWW-Authenticate": 'Bearer realm="capture-feed"'})

        if kind == "items":
            self.feed._hold_if_asked()
            raw_page = self.feed.take_raw_page()
            if raw_page is not None:
                return self._raw(entry, *raw_page)
            status, body = self.feed.items_page(query)
            return self._json(entry, status, body)
        if kind == "attachment":
            attachment_id = unquote(path[len("/v1/attachments/"):])
            found = self.feed.attachment(attachment_id)
            if found is None:
                return self._json(entry, 404, {"error": "not_found", "message": "no such attachment"})
            data, content_type = found
            cut = fault.after_bytes if fault is not None else None
            return self._bytes(entry, data, content_type, cut)
        return self._json(entry, 404, {"error": "not_found", "message": f"no route {path}"})

    def do_POST(self) -> None:  # noqa: N802
        entry = {"method": "POST", "path": urlsplit(self.path).path, "query": {}, "kind": "other", "status": None}
        self.feed.record(entry)
        self._json(entry, 405, {"error": "method_not_allowed", "message": "the feed is read-only"}, {"Allow": "GET"})

    # ------------------------------------------------------------------ writing
    def _json(self, entry: dict, status: int, body: dict, headers: dict | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _raw(self, entry: dict, body: bytes, content_encoding: str | None) -> None:
        entry["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if content_encoding:
            self.send_header("Content-Encoding", content_encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _bytes(self, entry: dict, data: bytes, content_type: str, cut: int | None) -> None:
        entry["status"] = 200 if cut is None else "dropped"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        view = memoryview(data)
        end = len(data) if cut is None else min(cut, len(data))
        try:
            for start in range(0, end, WRITE_CHUNK):
                self.wfile.write(view[start:min(start + WRITE_CHUNK, end)])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        if cut is not None:
            self.wfile.flush()
            self._drop()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    from devtools.sample_day import generate_day

    parser = argparse.ArgumentParser(prog="python -m devtools.feed_server", description="Serve a generated day as a capture feed.")
    parser.add_argument("--port", type=int, default=7301)
    parser.add_argument("--token", default=None, help="the bearer token to accept (default: $FEED_TOKEN or local-dev-token)")
    parser.add_argument("--day", type=date.fromisoformat, default=None, help="the capture day (default: yesterday, UTC)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    import os

    token = args.token or os.environ.get("FEED_TOKEN") or "local-dev-token"
    day = args.day or (datetime.now(timezone.utc).date() - timedelta(days=1))
    sample = generate_day(day, seed=args.seed, scale=args.scale)
    server = FeedServer(sample.items, sample.attachments, token=token, port=args.port).start()
    print(f"capture feed on {server.base_url}: {len(sample.items)} items captured on {day}, "
          f"{len(sample.attachments)} attachments; Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
