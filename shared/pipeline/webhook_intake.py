"""whatsapp_webhook: Meta's callback URL, as one pure request -> response function over ports.

The Function binding (``function_app.whatsapp_webhook``) and the CLI server
(``python -m shared webhook serve``) both call ``handle_request``:

- ``GET``: the ``hub.*`` verification handshake against WHATSAPP_VERIFY_TOKEN -> 200 + challenge, else 403.
- ``POST``: body over WHATSAPP_MAX_BODY_BYTES -> 413; ``X-Hub-Signature-256`` missing or wrong -> 401 (checked
  over the raw bytes before anything else is done with them: nothing unverified is ever stored); then the
  body is stored as received (``webhooks/{day}/{sha256}.json``), a pointer is queued on ``webhooks``, 200.
  Storing comes before the 200 (Meta keeps nothing: what we acknowledge must be ours). If the store fails:
  500, Meta retries. If queueing fails after the store: still 200, because the body is safe and the sweep
  (``normalise_webhook.upkeep``: `python -m shared run`, the pull_delta timer) queues stored bodies the normaliser never marked.

No parsing happens here: a signed body that is not JSON or not Meta's shape is stored all the same and
the normaliser counts it as unknown. Nothing from the body is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping, Protocol

from pydantic import BaseModel, ConfigDict

from shared import names
from shared.domain.whatsapp.signature import verify_handshake, verify_signature

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-hub-signature-256"
WEBHOOK_PATH = "/api/whatsapp/webhook"


class WebhookMessage(BaseModel):
    """webhooks queue: one per stored body."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    blob: str  # path inside the webhooks container
    received_at: str
    traceparent: str | None = None


@dataclass(frozen=True)
class WebhookConfig:
    app_secret: str
    verify_token: str
    max_body_bytes: int


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    outcome: str = ""  # accepted | replayed | queue_failed | challenge | forbidden | unsigned | bad_signature | too_large | ...


class BodyStore(Protocol):
    def store(self, body: bytes, received_at: datetime): ...  # -> StoredBody(name, received_at, created)


class Queues(Protocol):
    def send(self, queue: str, payload: dict) -> None: ...


def _text(status: int, text: str, outcome: str) -> WebhookResponse:
    return WebhookResponse(status, text.encode("utf-8"), outcome=outcome)


def body_too_large(content_length: int | None, config: WebhookConfig | None) -> WebhookResponse | None:
    """The 413 for a body over the limit, else None. Servers that can refuse before reading the body
    (the CLI server checks Content-Length first) call it directly; ``handle_request`` calls it too."""
    if config is None or content_length is None or content_length <= config.max_body_bytes:
        return None
    log.warning("whatsapp webhook: body of %d bytes refused (WHATSAPP_MAX_BODY_BYTES=%d)", content_length, config.max_body_bytes)
    return _text(413, f"body larger than {config.max_body_bytes} bytes (WHATSAPP_MAX_BODY_BYTES)", "too_large")


def handle_request(
    method: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    config: WebhookConfig | None,
    bodies: BodyStore,
    queues: Queues,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    traceparent: Callable[[], str | None] = lambda: None,
) -> WebhookResponse:
    if config is None:
        return _text(404, "the WhatsApp webhook is not configured here (WHATSAPP_APP_SECRET and the others are unset)",
                     "not_configured")
    method = method.upper()
    if method == "GET":
        challenge = verify_handshake(dict(query), config.verify_token)
        if challenge is None:
            log.warning("whatsapp webhook: verification handshake refused (wrong or missing hub.verify_token / hub.mode)")
            return _text(403, "verification refused", "forbidden")
        return _text(200, challenge, "challenge")
    if method != "POST":
        return _text(405, "GET (verification) or POST (notifications) only", "method_not_allowed")
    refused = body_too_large(len(body), config)
    if refused is not None:
        return refused
    signature = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER)
    if not signature:
        log.warning("whatsapp webhook: POST without X-Hub-Signature-256 refused; nothing stored")
        return _text(401, "missing X-Hub-Signature-256", "unsigned")
    if not verify_signature(body, signature, config.app_secret):
        log.warning("whatsapp webhook: POST with a wrong X-Hub-Signature-256 refused; nothing stored "
                    "(is WHATSAPP_APP_SECRET the app's current App Secret?)")
        return _text(401, "bad signature", "bad_signature")
    received = now()
    try:
        stored = bodies.store(body, received)
    except Exception as exc:  # noqa: BLE001 - not stored: Meta must retry, so no 200
        log.error("whatsapp webhook: storing a signed body failed (%s); answering 500 so Meta retries", type(exc).__name__)
        return _text(500, "could not store the notification; retry", "store_failed")
    if not stored.created:
        # Already stored: already queued, or (had its first delivery died between store and queue) found by the
        # sweep. Not queued again: copies of one body normalised side by side would queue its items twice.
        return _text(200, "ok (already stored)", "replayed")
    message = WebhookMessage(blob=stored.name, received_at=stored.received_at.isoformat(), traceparent=traceparent())
    try:
        queues.send(names.WEBHOOKS_QUEUE, message.model_dump())
    except Exception as exc:  # noqa: BLE001 - stored is safe: the sweep queues it later
        log.error("whatsapp webhook: body %s stored but not queued (%s); the sweep will queue it", stored.name,
                  type(exc).__name__)
        return _text(200, "ok (stored; queued later)", "queue_failed")
    return _text(200, "ok", "accepted")
