"""A stand-in for Meta's WhatsApp media endpoints, on 127.0.0.1 (tests, demo, bench; never deployed).

    GET /{version}/{media-id}            Bearer token -> {"messaging_product","url","mime_type","sha256"(hex),"file_size","id"}
    GET /download/{media-id}?sig=...     Bearer token -> the bytes (the url of the answer above)

Fault hooks, per media id (or "*" for every one):

- ``fail(media_id, times, status=500)``: the next ``times`` requests for it answer ``status`` (or drop with status None);
- ``slow(media_id, seconds)``: each byte download of it waits that long first;
- ``wrong_bytes(media_id, times=None)``: serve different bytes of the same length (``times`` downloads, None = always);
- ``expire(media_id)``: the media id answers 404 (past Meta's 7 days);
- ``expire_url_once(media_id)``: the next byte download answers 404 (the 5-minute url ran out).

``requests`` lists what was asked for (method, path, status) for assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from devtools.local_http import QuietServer, serve, shut

log = logging.getLogger(__name__)

TOKEN = "local-meta-token"  # the local server's access token; not a secret
VERSION = "v26.0"


class MetaMediaServer:
    def __init__(self, *, token: str = TOKEN, port: int = 0, version: str = VERSION):
        self.token, self.port, self.version = token, port, version
        self._lock = threading.RLock()
        self._media: dict[str, tuple[bytes, str]] = {}
        self.requests: list[dict] = []
        self._httpd: QuietServer | None = None
        self._thread: threading.Thread | None = None
        self.reset_faults()

    # ------------------------------------------------------------------ content
    def add(self, media_id: str, data: bytes, mime_type: str = "application/octet-stream") -> str:
        """Serve ``data`` under ``media_id``; returns its sha256 (hex)."""
        with self._lock:
            self._media[media_id] = (data, mime_type)
        return hashlib.sha256(data).hexdigest()

    # ------------------------------------------------------------------ faults
    def reset_faults(self) -> None:
        with self._lock:
            self._fail: dict[str, list] = {}
            self._slow: dict[str, float] = {}
            self._wrong: dict[str, int | None] = {}
            self._expired: set[str] = set()
            self._expire_url: set[str] = set()

    def fail(self, media_id: str, times: int, status: int | None = 500) -> None:
        with self._lock:
            self._fail[media_id] = [times, status]

    def slow(self, media_id: str, seconds: float) -> None:
        with self._lock:
            self._slow[media_id] = seconds

    def wrong_bytes(self, media_id: str, times: int | None = None) -> None:
        with self._lock:
            self._wrong[media_id] = times

    def expire(self, media_id: str) -> None:
        with self._lock:
            self._expired.add(media_id)

    def expire_url_once(self, media_id: str) -> None:
        with self._lock:
            self._expire_url.add(media_id)

    def _take_fail(self, media_id: str):
        with self._lock:
            for key in (media_id, "*"):
                entry = self._fail.get(key)
                if entry and entry[0] > 0:
                    entry[0] -= 1
                    return entry[1] if entry[1] is not None else "drop"
        return None

    def _take_wrong(self, media_id: str) -> bool:
        with self._lock:
            for key in (media_id, "*"):
                if key in self._wrong:
                    left = self._wrong[key]
                    if left is None:
                        return True
                    if left > 0:
                        self._wrong[key] = left - 1
                        return True
        return False

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """What WHATSAPP_GRAPH_BASE_URL points at: the root with the version."""
        return f"http://127.0.0.1:{self.port}/{self.version}"

    def start(self) -> "MetaMediaServer":
        if self._httpd is None:
            self._httpd, self._thread = serve(type("MetaHandler", (_Handler,), {"meta": self}), self.port, "meta-media")
            self.port = self._httpd.server_address[1]
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            shut(httpd, self._thread)

    def __enter__(self) -> "MetaMediaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    meta: MetaMediaServer
    protocol_version = "HTTP/1.1"
    server_version = "LocalMetaMedia/1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        log.debug("meta media server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        entry = {"method": "GET", "path": path, "status": None}
        self.meta.requests.append(entry)
        download = path.startswith("/download/")
        prefix = "/download/" if download else f"/{self.meta.version}/"
        if not path.startswith(prefix):
            return self._json(entry, 404, {"error": {"message": f"no route {path}", "code": 803}})
        media_id = unquote(path[len(prefix):])
        failure = self.meta._take_fail(media_id)
        if failure == "drop":
            entry["status"] = "dropped"
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if failure is not None:
            return self._json(entry, failure, {"error": {"message": "injected", "code": 2}})
        if self.headers.get("Authorization") != f"Bearer {self.meta.token}":
            return self._json(entry, 401, {"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}})
        with self.meta._lock:
            found = self.meta._media.get(media_id)
            expired = media_id in self.meta._expired
            url_expired = download and media_id in self.meta._expire_url
            if url_expired:
                self.meta._expire_url.discard(media_id)
        if found is None or expired:
            return self._json(entry, 404, {"error": {"message": "Unsupported get request", "code": 100}})
        data, mime = found
        if not download:
            host = f"http://127.0.0.1:{self.meta.port}"
            return self._json(entry, 200, {"messaging_product": "whatsapp", "url": f"{host}/download/{media_id}?sig=local",
                                           "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
                                           "file_size": len(data), "id": media_id})
        if url_expired:
            return self._json(entry, 404, {"error": {"message": "url expired", "code": 100}})
        delay = self.meta._slow.get(media_id, self.meta._slow.get("*", 0.0))
        if delay:
            time.sleep(delay)
        if self.meta._take_wrong(media_id):
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:] if data else b"\x00"
        entry["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _json(self, entry: dict, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.meta_media_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7303)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args(argv)
    server = MetaMediaServer(token=args.token, port=args.port).start()
    print(f"Meta media stand-in on {server.base_url} (WHATSAPP_GRAPH_BASE_URL); Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
