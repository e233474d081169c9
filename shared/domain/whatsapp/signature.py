"""Meta's webhook authentication: the POST signature and the GET subscription handshake.

``X-Hub-Signature-256: sha256=<hex>`` is HMAC-SHA256 of the exact raw body bytes keyed with the
App Secret. Meta escapes non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/`` before signing, so a body
parsed and serialised again never verifies: always verify the bytes as received.

Pure functions, constant-time comparisons, no logging.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

PREFIX = "sha256="
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def sign(raw_body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value Meta would send for ``raw_body``."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify_signature(raw_body: bytes, header_value: str | None, app_secret: str) -> bool:
    """True only when ``header_value`` is ``sha256=<64 hex>`` matching the HMAC of ``raw_body``.

    A missing, empty or malformed header is False, never an exception. An empty app secret is
    refused (False): a deployment without a secret must not accept anything.
    """
    if not app_secret or not isinstance(header_value, str) or not isinstance(raw_body, (bytes, bytearray)):
        return False
    value = header_value.strip()
    if not value[: len(PREFIX)].lower() == PREFIX:
        return False
    given = value[len(PREFIX):]
    if not _HEX64.match(given):
        return False
    expected = sign(bytes(raw_body), app_secret)[len(PREFIX):]
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii"))


def verify_handshake(query: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo back, or None when the request is not a valid subscription.

    Valid: ``hub.mode == "subscribe"``, ``hub.verify_token`` equal (constant time) to ours, and a
    non-empty challenge. The GET carries no signature; do not check one.
    """
    if not verify_token:
        return None
    mode = query.get("hub.mode")
    token = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if mode != "subscribe" or not isinstance(token, str) or not isinstance(challenge, str) or not challenge:
        return None
    if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), verify_token.encode("utf-8", "surrogatepass")):
        return None
    return challenge
