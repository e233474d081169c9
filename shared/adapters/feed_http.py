"""The capture feed's HTTP pull client (../shared/feed-contract.md, part A), on httpx.

``HttpFeed`` fulfils the ``Feed`` port: ``pages()`` walks one half-open window ``[since, until)``
page by page (it never holds more than one page), ``download_attachment()`` streams one file into
a sink. Failures are sorted into the port's errors:

- 401/403                      -> ``FeedAuthError`` (never retried; names the URL and FEED_TOKEN)
- 429, 5xx, network, timeouts  -> retried with exponential backoff, honouring ``Retry-After``
                                  (each wait capped), then ``FeedTransientError``
- any other non-2xx            -> ``FeedError`` with the first 300 characters of the body
- a 200 that is not a page     -> ``FeedError`` (so is one nested too deep for the JSON parser,
                                  and one larger than ``max_page_bytes`` once decompressed: a
                                  page is read through a bounded inflater, never inflated whole)
- an attachment longer than the ``max_bytes`` asked for -> ``AttachmentTooLarge`` (never retried)

The token only ever goes into the Authorization header: it is scrubbed from every error message,
and nothing here logs item content (ids, URLs without the token, counts and statuses only).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import zlib
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import BinaryIO, Callable, Iterator
from urllib.parse import quote

import httpx

from shared.domain.bounded import for_log
from shared.pipeline.ports import AttachmentTooLarge, FeedAuthError, FeedError, FeedPage, FeedTransientError

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
MAX_PAGE_BYTES = 32 * 1024 * 1024  # FEED_MAX_PAGE_BYTES' default: 500 items of up to ~64 KB each
PAGE_ENCODINGS = "gzip, deflate"  # what a page may come compressed with: both inflate through zlib, bounded
MAX_RETRY_AFTER_SECONDS = 365 * 24 * 3600.0  # the parser's ceiling; the client caps each wait far lower
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date; None if unreadable.

    Never raises and never returns a negative number (a date in the past means 0).
    """
    if value is None:
        return None
    try:
        text = str(value).strip()
        if not text:
            return None
        match = _SECONDS.match(text)
        if match:
            return min(float(match.group(1)), MAX_RETRY_AFTER_SECONDS)
        when = parsedate_to_datetime(text)
        if when is None:
            return None
        if when.tzinfo is None:  # "-0000" in an HTTP date: UTC by RFC 9110
            when = when.replace(tzinfo=timezone.utc)
        now = now or datetime.now(timezone.utc)
        seconds = (when - now).total_seconds()
        if math.isnan(seconds):
            return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
    except Exception:  # noqa: BLE001 - a header we cannot read is "no advice", never a crash
        return None


def rfc3339(moment: datetime) -> str:
    """UTC RFC 3339 with a Z; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


class _Retry(Exception):
    """Internal: this attempt failed transiently; wait ``after`` (server's advice) or back off."""

    def __init__(self, reason: str, after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.after = after


class HttpFeed:
    """The Feed port over HTTP. Thread-safe enough for one pull at a time; call ``close()`` when done."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 500,
        timeout: float = 60.0,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        max_page_bytes: int = MAX_PAGE_BYTES,
    ):
        if not 1 <= page_size <= 1000:
            raise ValueError(f"page_size must be 1..1000 (the feed contract), got {page_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.max_page_bytes = max_page_bytes
        self._sleep = sleep
        self._token = token
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "whatsapp-archiver-feed/1"},
            follow_redirects=False,
            transport=transport,
        )

    # ------------------------------------------------------------------ the port
    def pages(self, since: datetime, until: datetime) -> Iterator[FeedPage]:
        """Pages of ``[since, until)`` on captured_at, fetched lazily one at a time."""
        params: dict[str, str] = {"since": rfc3339(since), "until": rfc3339(until), "page_size": str(self.page_size)}
        url = f"{self.base_url}/v1/items"
        seen_same = 0
        cursor: str | None = None
        while True:
            body = self._with_retries(url, params, lambda response: self._read_page(response, url),
                                      headers={"Accept-Encoding": PAGE_ENCODINGS})
            page = self._parse_page(body, url)
            yield page
            if page.next_cursor is None:
                return
            if page.next_cursor == cursor:  # a feed that answers a cursor with itself would loop forever
                seen_same += 1
                if seen_same >= 3:
                    raise FeedError(f"GET {url}: the feed returned the same next_cursor {seen_same + 1} times in a row")
            else:
                seen_same = 0
            cursor = page.next_cursor
            params = {"cursor": cursor}

    def download_attachment(self, attachment_id: str, sink: BinaryIO, max_bytes: int | None = None) -> int:
        """Stream one attachment into ``sink`` (from its current position); return the byte count.

        A retry after a partial write rewinds and truncates the sink back to where it started. With
        ``max_bytes``, a body that goes past it stops there and raises ``AttachmentTooLarge``: a file
        is never written to disk beyond what the caller said it may be.
        """
        url = f"{self.base_url}/v1/attachments/{quote(attachment_id, safe='')}"
        try:
            start = sink.tell()
        except (AttributeError, OSError, ValueError):
            start = 0

        dirty = False

        def receive(response: httpx.Response) -> int:
            nonlocal dirty
            if dirty:  # an earlier attempt wrote part of the body: start again from a clean sink
                sink.seek(start)
                sink.truncate()
            written = 0
            for chunk in response.iter_bytes(CHUNK_BYTES):
                dirty = True
                if max_bytes is not None and written + len(chunk) > max_bytes:
                    raise AttachmentTooLarge(f"attachment {for_log(attachment_id)}: the feed sent more than the "
                                             f"{max_bytes} bytes expected; stopped there")
                sink.write(chunk)
                written += len(chunk)
            expected = response.headers.get("Content-Length")
            encoding = response.headers.get("Content-Encoding", "identity").lower()
            if expected is not None and encoding in ("", "identity"):
                try:
                    want = int(expected)
                except ValueError:
                    want = None
                if want is not None and want != written:
                    raise _Retry(f"body ended after {written} of {want} bytes")
            return written

        try:
            written = self._with_retries(url, None, receive, headers={"Accept-Encoding": "identity"})
        except FeedError:
            if dirty:  # never leave a partial body behind for a caller to mistake for the file
                sink.seek(start)
                sink.truncate()
            raise
        log.debug("feed attachment %s: %d bytes", for_log(attachment_id), written)
        return written

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpFeed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_seconds * (2 ** (attempt - 1)), self.max_wait_seconds)

    def _with_retries(self, url: str, params: dict | None, handle: Callable[[httpx.Response], object], *,
                      headers: dict | None = None):
        """One GET, retried on transient failures; ``handle`` consumes a 2xx response inside the attempt."""
        shown = for_log(self._scrub(url), 240)
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                request = self._client.build_request("GET", url, params=params, headers=headers)
                shown = for_log(self._scrub(str(request.url)), 240)  # a hostile id makes a URL of any length
                response = self._client.send(request, stream=True)
                try:
                    self._check_status(response, shown)
                    return handle(response)
                finally:
                    response.close()
            except _Retry as exc:
                last, after = exc.reason, exc.after
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:  # our side is wrong: retrying won't help
                raise FeedError(f"GET {shown}: {type(exc).__name__}: {self._scrub(str(exc))}") from None
            except httpx.InvalidURL as exc:  # e.g. an id so long the URL passes httpx's limit: this request only
                raise FeedError(f"GET {shown}: no valid URL can be made of it ({for_log(str(exc), 120)})") from None
            except httpx.TransportError as exc:  # connect/read/write errors, timeouts, dropped connections
                last, after = f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}", None
            except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
                raise FeedError(f"GET {shown}: {type(exc).__name__}: {self._scrub(str(exc))}") from None
            if attempt == self.max_attempts:
                break
            wait = min(after if after is not None else self._backoff(attempt), self.max_wait_seconds)
            log.warning("feed GET %s: %s (attempt %d/%d); retrying in %.1f s", shown, last, attempt, self.max_attempts, wait)
            self._sleep(wait)
        raise FeedTransientError(f"GET {shown}: {last}; gave up after {self.max_attempts} attempts")

    def _check_status(self, response: httpx.Response, shown: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise FeedAuthError(
                f"the capture feed refused the request: GET {shown} answered {status} "
                f"({'unauthorized' if status == 401 else 'forbidden'}); check FEED_TOKEN (wrong, expired or revoked?)"
            )
        if status == 429 or 500 <= status < 600:
            try:
                response.read()  # small error bodies: read them so the connection can be reused
            except httpx.HTTPError:
                pass
            raise _Retry(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")))
        try:
            response.read()
            text = response.text
        except (httpx.HTTPError, UnicodeDecodeError):
            text = ""
        snippet = self._scrub(" ".join(text.split()))[:300]
        raise FeedError(f"GET {shown} answered {status}: {snippet or '(empty body)'}")

    def _read_page(self, response: httpx.Response, shown: str) -> bytes:
        """The page's body, decompressed, never more than ``max_page_bytes`` (a gzip bomb stops there).

        Read raw and inflated here in bounded steps (zlib's ``max_length``), so memory holds at most
        the limit plus one chunk whatever the compression ratio. A connection dropped mid-body raises
        a TransportError: retried.
        """
        limit = self.max_page_bytes
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        try:
            chunks = response.iter_raw(CHUNK_BYTES)
            first = next(chunks, b"")
        except httpx.StreamConsumed:  # read already (an in-memory transport in tests): httpx decoded it
            chunks, first, encoding = iter(()), response.content, "identity"
        chunks = _chain(first, chunks)
        too_large = FeedError(f"GET {shown}: the page is larger than {limit} bytes once decompressed "
                              "(FEED_MAX_PAGE_BYTES); ask the feed's provider, or lower FEED_PAGE_SIZE")
        body = bytearray()
        if encoding in ("", "identity"):
            for chunk in chunks:
                body += chunk
                if len(body) > limit:
                    raise too_large
            return bytes(body)
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise FeedError(f"GET {shown}: the page came with Content-Encoding {for_log(encoding, 40)}; "
                            f"only {PAGE_ENCODINGS} or none were asked for")
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        try:
            for chunk in chunks:
                data = chunk
                while data and not inflater.eof:
                    body += inflater.decompress(data, limit + 1 - len(body))
                    if len(body) > limit:
                        raise too_large
                    data = inflater.unconsumed_tail
            body += inflater.flush()  # all input was fed in bounded steps: only zlib's last few bytes are left
        except zlib.error as exc:
            raise FeedError(f"GET {shown}: the page's {encoding} body cannot be decompressed ({exc})") from None
        if len(body) > limit:
            raise too_large
        return bytes(body)

    def _parse_page(self, body: bytes, url: str) -> FeedPage:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FeedError(f"GET {url}: the 200 body is not JSON ({type(exc).__name__}, {len(body)} bytes)") from None
        except RecursionError:
            raise FeedError(f"GET {url}: the 200 body ({len(body)} bytes) is nested deeper than the JSON parser "
                            "allows (RecursionError): not a page of the contract; ask the feed's provider") from None
        if not isinstance(data, dict):
            raise FeedError(f"GET {url}: the 200 body is a JSON {type(data).__name__}, not an object with 'items'")
        items = data.get("items")
        if not isinstance(items, list):
            raise FeedError(f"GET {url}: the 200 body has no 'items' list (keys: {sorted(data)[:10]})")
        if "next_cursor" not in data:
            raise FeedError(f"GET {url}: the 200 body has no 'next_cursor' (null on the last page, per the contract)")
        cursor = data["next_cursor"]
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            raise FeedError(f"GET {url}: 'next_cursor' must be a non-empty string or null, got {type(cursor).__name__}")
        return FeedPage(items=items, next_cursor=cursor)
