"""Serving a local stand-in (the capture feed, Meta's media API, Graph) on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


class QuietServer(ThreadingHTTPServer):
    """A client hanging up (a killed archiver, an injected drop) is normal here, not a traceback."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], name: str):
        super().__init__(address, handler)
        self.name = name

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        log.exception("%s: error serving %s", self.name, client_address)


def serve(handler: type[BaseHTTPRequestHandler], port: int, name: str) -> tuple[QuietServer, threading.Thread]:
    """Start serving on 127.0.0.1:``port`` (0: any free port; ``httpd.server_address[1]`` says which)."""
    httpd = QuietServer(("127.0.0.1", port), handler, name)
    return httpd, run_in_thread(httpd)


def run_in_thread(httpd: QuietServer) -> threading.Thread:
    """Serve ``httpd`` (bound already) from a daemon thread; ``shut`` stops it."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"{httpd.name}-{httpd.server_address[1]}", daemon=True)
    thread.start()
    return thread


def shut(httpd: QuietServer, thread: threading.Thread | None) -> None:
    httpd.shutdown()
    httpd.server_close()
    if thread is not None:
        thread.join(timeout=5)
