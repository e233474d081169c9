"""Send webhook notifications the way Meta does (tests, demo, bench; never deployed).

Meta serialises the JSON with non-ASCII escaped as ``\\uXXXX`` and ``/`` as ``\\/``, signs those exact
bytes with HMAC-SHA256 keyed by the App Secret, and POSTs them with ``X-Hub-Signature-256: sha256=<hex>``.
The signing here is written independently of ``shared.domain.whatsapp.signature`` on purpose: a test
that signed with the code under test could not catch it being wrong.

    python -m devtools.meta_sender --url http://127.0.0.1:7071/api/whatsapp/webhook --secret S payload.json ...
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from pathlib import Path

import httpx


def meta_bytes(payload) -> bytes:
    """The body as Meta sends it: compact JSON, non-ASCII as \\uXXXX, '/' as '\\/'."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, *, app_secret: str | None, header: str | None = None, client: httpx.Client | None = None,
         timeout: float = 30.0) -> httpx.Response:
    """POST ``body``; signed with ``app_secret`` unless ``header`` gives the X-Hub-Signature-256 value (or both None: unsigned)."""
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    value = header if header is not None else signature(body, app_secret) if app_secret is not None else None
    if value is not None:
        headers["X-Hub-Signature-256"] = value
    if client is not None:
        return client.post(url, content=body, headers=headers)
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


def send(url: str, payload, app_secret: str, **kw) -> httpx.Response:
    return post(url, meta_bytes(payload), app_secret=app_secret, **kw)


def verify(url: str, verify_token: str, challenge: str = "1158201444") -> httpx.Response:
    """The GET handshake Meta makes when the callback URL is saved."""
    return httpx.get(url, params={"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.meta_sender", description="POST signed webhook payloads as Meta does.")
    parser.add_argument("--url", required=True, help="the callback URL, e.g. http://127.0.0.1:7071/api/whatsapp/webhook")
    parser.add_argument("--secret", required=True, help="the App Secret (WHATSAPP_APP_SECRET of the receiver)")
    parser.add_argument("files", nargs="+", type=Path, help="JSON payload files (re-serialised the way Meta does)")
    args = parser.parse_args(argv)
    worst = 0
    for path in args.files:
        response = send(args.url, json.loads(path.read_text(encoding="utf-8")), args.secret)
        print(f"{path}: {response.status_code} {response.text[:80]}")
        worst = max(worst, 0 if response.status_code == 200 else 1)
    return worst


if __name__ == "__main__":
    sys.exit(main())
