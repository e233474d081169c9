"""`python -m shared webhook serve`: Meta's callback URL without the Functions host.

A stdlib ``ThreadingHTTPServer`` serving ``GET``/``POST /api/whatsapp/webhook`` through the very same
use case as the ``whatsapp_webhook`` Function (``Archiver.on_webhook``). A POST whose Content-Length is
over WHATSAPP_MAX_BODY_BYTES is refused (413) before its body is read. SIGTERM or SIGINT stops it
cleanly: requests in flight finish, then the process exits 0. Run ``python -m shared run`` (or the
Functions) to turn what arrived into records.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from shared.pipeline.webhook_intake import WEBHOOK_PATH, body_too_large

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # shutdown waits for requests in flight: an acknowledged body is a stored body
    block_on_close = True


def make_server(app, host: str, port: int) -> ThreadingHTTPServer:
    config = app.webhook_config

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "WhatsAppArchiverWebhook/1"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
            log.info("webhook server: " + format, *args)

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> dict | None:
            split = urlsplit(self.path)
            if split.path.rstrip("/") != WEBHOOK_PATH:
                self._answer(404, f"not found; the webhook is {WEBHOOK_PATH}".encode())
                return None
            return dict(parse_qsl(split.query, keep_blank_values=True))

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            query = self._route()
            if query is not None:
                r = app.on_webhook("GET", query, dict(self.headers.items()), b"")
                self._answer(r.status, r.body, r.content_type)

        def do_POST(self) -> None:  # noqa: N802
            query = self._route()
            if query is None:
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                return self._answer(411, b"Content-Length required")
            refused = body_too_large(int(length), config)
            if refused is not None:
                self.close_connection = True  # the unread body must not be taken for the next request
                app.count_webhook(refused)
                return self._answer(refused.status, refused.body, refused.content_type)
            body = self.rfile.read(int(length))
            r = app.on_webhook("POST", query, dict(self.headers.items()), body)
            self._answer(r.status, r.body, r.content_type)

    return _Server((host, port), Handler)


def serve(app, host: str, port: int, *, ready=lambda url: print(url, flush=True)) -> int:
    if app.webhook_config is None:
        print("the WhatsApp webhook is off: set WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN and WHATSAPP_ACCESS_TOKEN",
              file=sys.stderr)
        return 2
    app.ensure_storage()
    server = make_server(app, host, port)
    bound_host, bound_port = server.server_address[:2]
    stopping = threading.Event()

    def stop(signum, _frame) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, name="webhook-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        ready(f"listening on http://{bound_host}:{bound_port}{WEBHOOK_PATH}")
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("webhook server stopped", file=sys.stderr, flush=True)
    return 0
