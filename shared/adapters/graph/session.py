"""One Graph session per process: the msgraph-sdk client, its asyncio loop thread, and the caches.

The ports are synchronous and called from several worker threads; the SDK is asyncio. A session
owns one event loop on a daemon thread; ``run(coro)`` submits a coroutine from any thread and
waits for it. The mailbox and the directory adapters of a process share one session (and so one
connection pool, one address -> user id cache); it closes when the last of them closes.

Retry policy (decided here, documented in the package docstring): the SDK's own RetryHandler stays
in the pipeline (msgraph-core's default middleware, less what does nothing here: ``graph_middleware``)
with a small budget (``MAX_RETRIES`` retries, waits over ``MAX_RETRY_WAIT`` seconds are not slept but
handed back to the queue as MailboxThrottled); creates (POST of a message, importMime, upload session) are sent with
retries switched off, because a re-POST after a 503 whose create was done makes a second copy.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import urlsplit

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import RetryHandlerOption
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import BodyInspectionHandler, HeadersInspectionHandler, UrlReplaceHandler
from kiota_http.middleware.retry_handler import RetryHandler
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler

from shared.pipeline.ports import MailboxPermanent, MailboxThrottled, MailboxTransient
from shared.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRIES = 1  # the SDK's own retries of idempotent requests on 429/503/504
MAX_RETRY_WAIT = 5.0  # seconds; a longer Retry-After is not slept in the function: the queue waits instead
DEFAULT_RETRY_AFTER = 5.0  # when Graph throttles without saying how long
PREFER_IMMUTABLE_IDS = 'IdType="ImmutableId"'


class GraphConfigError(RuntimeError):
    """The Graph adapter cannot be built as configured (e.g. no credential for a real endpoint)."""


def no_retry() -> list:
    """Request options for non-idempotent requests: the RetryHandler must not re-send them."""
    return [RetryHandlerOption(delay=0.0, max_retries=0, should_retry=False)]


def request_config(query=None, *, headers: dict[str, str] | None = None, retry: bool = True) -> RequestConfiguration:
    config = RequestConfiguration(query_parameters=query, options=None if retry else no_retry())
    for name, value in (headers or {}).items():
        config.headers.add(name, value)
    return config


# --------------------------------------------------------------------------- errors
def retry_after_of(headers) -> float | None:
    if not headers:
        return None
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
    except AttributeError:
        return None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime
        from datetime import datetime, timezone

        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


def api_error_code(exc: APIError) -> str | None:
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None)
    inner = getattr(err, "inner_error", None)
    inner_code = None
    if inner is not None:
        inner_code = (getattr(inner, "additional_data", None) or {}).get("code")
    return inner_code if code in ("ApplicationThrottled", "TooManyRequests") and inner_code else code


def api_error_message(exc: APIError) -> str:
    err = getattr(exc, "error", None)
    return (getattr(err, "message", None) or getattr(exc, "message", None) or type(exc).__name__)[:300]


def map_status(status: int | None, code: str | None, message: str, headers=None, what: str = "Graph request"):
    """An HTTP failure as the port's exception."""
    text = f"{what}: HTTP {status} {code or ''} {message}".strip()
    if status in (429, 503):
        wait = retry_after_of(headers)
        return MailboxThrottled(text, retry_after=wait if wait is not None else DEFAULT_RETRY_AFTER,
                                code=code, status=status)
    if status is None or status >= 500 or status in (408,):
        return MailboxTransient(text, code=code, status=status)
    return MailboxPermanent(text, code=code, status=status)


def map_exception(exc: BaseException, what: str):
    """Any failure of a Graph call as MailboxThrottled / MailboxTransient / MailboxPermanent."""
    if isinstance(exc, (MailboxPermanent, MailboxThrottled, MailboxTransient)):
        return exc
    if isinstance(exc, APIError):
        return map_status(exc.response_status_code, api_error_code(exc), api_error_message(exc),
                          exc.response_headers, what)
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, FutureTimeout)):
        return MailboxTransient(f"{what}: timed out ({type(exc).__name__})", code="Timeout")
    if isinstance(exc, (httpx.TransportError, OSError)):
        return MailboxTransient(f"{what}: connection failed ({type(exc).__name__}: {exc})", code="ConnectionError")
    return MailboxTransient(f"{what}: {type(exc).__name__}: {exc}", code=type(exc).__name__)


# --------------------------------------------------------------------------- retry budget
class _BoundedRetryHandler(RetryHandler):
    """The SDK's RetryHandler, except that it will not sleep more than MAX_RETRY_WAIT seconds."""

    def get_delay_time(self, retry_count, response=None, delay=RetryHandlerOption.DEFAULT_DELAY) -> float:
        wait = super().get_delay_time(retry_count, response, delay)
        return wait if wait <= MAX_RETRY_WAIT else RetryHandlerOption.MAX_DELAY  # >= MAX_DELAY: no retry


# kiota's default middleware that does nothing for this archiver: UrlReplace rewrites /users/TokenToReplace to /me,
# the two inspection handlers act only when a request asks for its headers or body to be kept. Each is one more hop
# (and, with OpenTelemetry on, one more span) on every Graph request.
UNUSED_MIDDLEWARE = (UrlReplaceHandler, HeadersInspectionHandler, BodyInspectionHandler)


def graph_middleware() -> list:
    """msgraph-core's default pipeline (redirects, retries, query parameter names, user agent, Graph telemetry), its
    RetryHandler bounded (``_BoundedRetryHandler``), without ``UNUSED_MIDDLEWARE``."""
    retry = _BoundedRetryHandler(options=RetryHandlerOption(delay=0.0, max_retries=MAX_RETRIES))
    middleware = [retry if type(m) is RetryHandler else m for m in KiotaClientFactory.get_default_middleware(None)
                  if not isinstance(m, UNUSED_MIDDLEWARE)]
    return [*middleware, GraphTelemetryHandler()]


# --------------------------------------------------------------------------- credentials
def build_auth_provider(settings: Settings, credential_factory: Callable[[Settings], Any] | None = None):
    """Anonymous only for a loopback endpoint; a real endpoint gets a managed identity (or the
    DefaultAzureCredential chain). Returns (provider, credential-to-close-or-None)."""
    if settings.graph_is_loopback:
        return AnonymousAuthenticationProvider(), None
    factory = credential_factory or _default_credential
    try:
        credential = factory(settings)
    except Exception as exc:  # noqa: BLE001 - any failure means: no credential, so no client
        raise GraphConfigError(
            f"cannot build a credential for GRAPH_ENDPOINT={settings.graph_endpoint}: {exc}. Set GRAPH_CLIENT_ID "
            "to the managed identity's client id (anonymous access is only allowed for a loopback test server)"
        ) from exc
    if credential is None:
        raise GraphConfigError(f"no credential for GRAPH_ENDPOINT={settings.graph_endpoint}; anonymous access is "
                               "only allowed for a loopback test server")
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider

    host = urlsplit(settings.graph_endpoint).hostname or ""
    provider = AzureIdentityAuthenticationProvider(credential, scopes=[f"{settings.graph_endpoint}/.default"],
                                                   allowed_hosts=[host])
    return provider, credential


def _default_credential(settings: Settings):
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if settings.graph_client_id:
        return ManagedIdentityCredential(client_id=settings.graph_client_id)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


# --------------------------------------------------------------------------- the session
class GraphSession:
    def __init__(self, settings: Settings, *, credential_factory=None):
        self.settings = settings
        self.endpoint = settings.graph_endpoint.rstrip("/")
        self.v1 = self.endpoint + "/v1.0"
        self.beta = self.endpoint + "/beta"
        self.timeout = float(settings.graph_timeout_seconds)
        self.auth_provider, self._credential = build_auth_provider(settings, credential_factory)
        self._lock = threading.Lock()
        self._refs = 0
        self._closed = False
        self.user_ids: dict[str, str] = {}  # lower-case address -> Entra object id
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="graph-loop", daemon=True)
        self._thread.start()
        try:
            self.client, self.adapter, self.http, self.upload_http = self.run(self._build(), what="building the client")
        except BaseException:
            self._stop_loop()
            raise

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _build(self):
        timeout = httpx.Timeout(self.timeout)
        http = httpx.AsyncClient(timeout=timeout, headers={"Prefer": PREFER_IMMUTABLE_IDS},
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                                 http2=not self.settings.graph_is_loopback)
        http = GraphClientFactory.create_with_custom_middleware(graph_middleware(), client=http)
        http.base_url = httpx.URL(self.v1)
        adapter = GraphRequestAdapter(self.auth_provider, client=http)
        adapter.base_url = self.v1
        client = GraphServiceClient(request_adapter=adapter)
        # the upload URL carries its own token: a plain client, no auth, no Graph middleware
        upload_http = httpx.AsyncClient(timeout=timeout, http2=False)
        return client, adapter, http, upload_http

    # ------------------------------------------------------------------ running coroutines
    def run(self, coro: Awaitable[T], *, what: str = "Graph request") -> T:
        if self._closed:
            raise MailboxTransient(f"{what}: the Graph session is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        # every request is bounded by the httpx timeout; this guard only catches a wedged loop
        guard = self.timeout * (MAX_RETRIES + 2) + MAX_RETRY_WAIT * (MAX_RETRIES + 1) + 30
        try:
            return future.result(timeout=guard)
        except FutureTimeout:
            future.cancel()
            raise MailboxTransient(f"{what}: no answer within {guard:.0f}s", code="Timeout") from None

    def call(self, make: Callable[[], Awaitable[T]], what: str) -> T:
        """Run one SDK call; every failure comes out as a port exception."""
        async def guarded():
            try:
                return await make()
            except Exception as exc:  # noqa: BLE001 - mapped right below
                raise map_exception(exc, what) from exc

        return self.run(guarded(), what=what)

    # ------------------------------------------------------------------ sharing and closing
    def acquire(self) -> "GraphSession":
        with self._lock:
            self._refs += 1
        return self

    def release(self) -> None:
        with self._lock:
            self._refs -= 1
            last = self._refs <= 0
        if last:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _forget(self)

        async def shutdown():
            for client in (self.http, self.upload_http):
                try:
                    await client.aclose()
                except Exception:  # noqa: BLE001 - best effort
                    log.debug("closing an http client failed", exc_info=True)
            close = getattr(self._credential, "close", None)
            if close:
                try:
                    await close()
                except Exception:  # noqa: BLE001
                    log.debug("closing the credential failed", exc_info=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        except Exception:  # noqa: BLE001
            log.debug("Graph session shutdown failed", exc_info=True)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


_SESSIONS: dict[tuple, GraphSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _key(settings: Settings) -> tuple:
    return (settings.graph_endpoint, settings.graph_client_id, settings.graph_timeout_seconds)


def shared_session(settings: Settings) -> GraphSession:
    """The process's session for these settings (created on first use), with one more reference."""
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(_key(settings))
        if session is None or session._closed:
            session = _SESSIONS[_key(settings)] = GraphSession(settings)
        return session.acquire()


def _forget(session: GraphSession) -> None:
    with _SESSIONS_LOCK:
        for k, v in list(_SESSIONS.items()):
            if v is session:
                del _SESSIONS[k]
