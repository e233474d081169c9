"""Meta's media endpoints (WhatsApp Cloud API), on httpx: fetch one file a webhook named by media id.

1. ``GET {WHATSAPP_GRAPH_BASE_URL}/{media-id}`` with ``Authorization: Bearer`` -> ``{url, mime_type, sha256, file_size}``;
2. ``GET url`` with the same bearer -> the bytes (the url lives 5 minutes: a 404 there asks step 1 again).
A pre-signed ``url`` carried by the webhook itself is tried first.

Errors are the Feed port's (the normaliser treats media failures as the pull treats feed attachment failures):

- 404 on the media id (expired after 7 days, or unknown), more than 100 MB, 401/403 -> ``MediaUnavailable``
  (not retried: the record names the file as unavailable);
- 429, 5xx, network errors -> retried with exponential backoff, then ``FeedTransientError``.

The token goes only into the Authorization header and is scrubbed from every message.
"""

from __future__ import annotations

import logging
import time
from typing import BinaryIO, Callable
from urllib.parse import quote

import httpx

from shared.pipeline.ports import FeedError, FeedTransientError

log = logging.getLogger(__name__)

MAX_MEDIA_BYTES = 100 * 1024 * 1024  # Meta's largest (documents); error 131052 beyond it
CHUNK = 64 * 1024


class MediaUnavailable(FeedError):
    """This file cannot be had (expired, unknown, too large, refused): retrying will not help."""


class _Retry(Exception):
    pass


class _Expired(Exception):
    """The short-lived url answered 404: ask for a fresh one."""


class WhatsAppMedia:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0, max_attempts: int = 4,
                 backoff_seconds: float = 1.0, max_wait_seconds: float = 30.0, max_bytes: int = MAX_MEDIA_BYTES,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.max_attempts, self.backoff_seconds, self.max_wait_seconds = max_attempts, backoff_seconds, max_wait_seconds
        self.max_bytes = max_bytes
        self._sleep, self._token = sleep, token
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, transport=transport,
                                    headers={"Authorization": f"Bearer {token}", "User-Agent": "whatsapp-archiver-media/1"})

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def download(self, media_id: str, sink: BinaryIO, *, url: str | None = None) -> int:
        """Stream the file into ``sink`` (from its current position); return the byte count."""
        start = sink.tell()
        last = ""
        presigned = url
        for attempt in range(1, self.max_attempts + 1):
            sink.seek(start)
            sink.truncate()
            try:
                target = presigned or self._metadata_url(media_id)
                return self._fetch(target, sink, media_id)
            except _Expired:
                last = "the download url answered 404 (expired)"
                presigned = None
                continue  # a fresh url at once, no wait
            except _Retry as exc:
                last = str(exc)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}"
            except httpx.HTTPError as exc:
                raise MediaUnavailable(f"media {media_id}: {type(exc).__name__}: {self._scrub(str(exc))}") from None
            presigned = None  # after a failure go through the media id: the pre-signed url may be what fails
            if attempt < self.max_attempts:
                wait = min(self.backoff_seconds * 2 ** (attempt - 1), self.max_wait_seconds)
                log.warning("whatsapp media %s: %s (attempt %d/%d); retrying in %.1f s", media_id, last, attempt,
                            self.max_attempts, wait)
                self._sleep(wait)
        sink.seek(start)
        sink.truncate()
        raise FeedTransientError(f"media {media_id}: {last}; gave up after {self.max_attempts} attempts")

    def _metadata_url(self, media_id: str) -> str:
        shown = f"{self.base_url}/{quote(media_id, safe='')}"
        response = self._client.get(shown)
        self._check(response, f"GET {shown}", media_id, metadata=True)
        try:
            data = response.json()
            url = data["url"]
        except (ValueError, KeyError, TypeError):
            raise _Retry(f"GET {shown}: the answer has no 'url'") from None
        size = data.get("file_size")
        if isinstance(size, int) and size > self.max_bytes:
            raise MediaUnavailable(f"media {media_id}: {size} bytes, over the {self.max_bytes}-byte limit; not downloaded")
        return url

    def _fetch(self, url: str, sink: BinaryIO, media_id: str) -> int:
        with self._client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
            if response.status_code == 404:
                raise _Expired()
            self._check(response, "GET <media url>", media_id, metadata=False)
            written = 0
            for chunk in response.iter_bytes(CHUNK):
                written += len(chunk)
                if written > self.max_bytes:
                    raise MediaUnavailable(f"media {media_id}: more than {self.max_bytes} bytes; not kept")
                sink.write(chunk)
            expected = response.headers.get("Content-Length")
            if expected and expected.isdigit() and int(expected) != written:
                raise _Retry(f"body ended after {written} of {expected} bytes")
            return written

    def _check(self, response: httpx.Response, what: str, media_id: str, *, metadata: bool) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        response.read()
        if status == 429 or status >= 500:
            raise _Retry(f"{what} answered {status}")
        if status == 404 and metadata:
            raise MediaUnavailable(f"media {media_id}: Meta no longer has it (404; media ids live 7 days)")
        if status in (401, 403):
            raise MediaUnavailable(f"media {media_id}: {what} refused ({status}); check WHATSAPP_ACCESS_TOKEN")
        raise MediaUnavailable(f"media {media_id}: {what} answered {status}")

    def close(self) -> None:
        self._client.close()
