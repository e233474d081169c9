"""The storage clients' lean transport sends what azure-core's own RequestsTransport sends, byte for byte on the
wire (request line, headers in order, body), reads the answer alike, and fails alike (refused, timed out, cut off),
so azure-core's retry policies see the same errors."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from azure.core.exceptions import ServiceRequestError, ServiceResponseError, ServiceResponseTimeoutError
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest

from shared.adapters.storage.transport import storage_transport


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Recorder.seen.append((self.requestline, list(self.headers.items()), body))
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        payload = b"" if self.command == "HEAD" else b'{"value": "\xc3\xa9"}'
        self.send_response(201 if self.command == "PUT" else 200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", "r-1")
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the read-timeout case)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_MERGE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def requests_to_send(base: str) -> list[HttpRequest]:
    return [
        HttpRequest("GET", f"{base}/c?restype=container&comp=list&prefix=a%2Fb%20c&marker=",
                    headers={"x-ms-version": "2025-01-05", "Accept": "application/xml"}),
        HttpRequest("PUT", f"{base}/c/raw/item%201.json", content=b'{"id": "1", "\xc3\xa9": true}',
                    headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream",
                             "If-None-Match": "*"}),
        HttpRequest("POST", f"{base}/q/messages?visibilitytimeout=0",
                    content="<QueueMessage><MessageText>é</MessageText></QueueMessage>",
                    headers={"Content-Type": "application/xml; charset=utf-8"}),
        HttpRequest("PUT", f"{base}/c/stream", content=io.BytesIO(b"x" * 5000),
                    headers={"Content-Length": "5000", "x-ms-blob-type": "BlockBlob"}),
        HttpRequest("PUT", f"{base}/locks/slot-0?comp=lease", headers={"x-ms-lease-action": "acquire"}),
        HttpRequest("HEAD", f"{base}/c/attachments/abc"),
        HttpRequest("DELETE", f"{base}/q/messages/m1?popreceipt=AAA%3D"),
        HttpRequest("PATCH", f"{base}/ledger(PartitionKey='a',RowKey='b')", json={"status": "creating"},
                    headers={"If-Match": 'W/"datetime\'2026-11-27T00%3A00%3A00Z\'"', "Accept-Encoding": None}),
    ]


def send_all(transport, base: str):
    seen_before = len(Recorder.seen)
    answers = []
    with transport:
        for request in requests_to_send(base):
            response = transport.send(request, read_timeout=5)
            answers.append((response.status_code, response.headers.get("x-ms-request-id"),
                            response.headers.get("content-type"), response.read()))
    return Recorder.seen[seen_before:], answers


def no_full_session_path(monkeypatch) -> None:
    """From here on, a request that falls back to requests' own Session.request fails the test: what follows is
    the lean path, not its fallback (which would send what azure-core sends by construction)."""
    monkeypatch.setattr(requests.Session, "request", lambda *a, **k: pytest.fail("the lean path was not taken"))


def test_what_goes_on_the_wire_and_what_comes_back_is_what_azure_core_sends_itself(server, monkeypatch):
    core_wire, core_answers = send_all(RequestsTransport(use_env_settings=False), server)
    no_full_session_path(monkeypatch)
    lean_wire, lean_answers = send_all(storage_transport(), server)
    assert len(lean_wire) == len(requests_to_send(server))
    assert lean_wire == core_wire
    assert lean_answers == core_answers
    assert lean_answers[0] == (200, "r-1", "application/json; charset=utf-8", b'{"value": "\xc3\xa9"}')


def test_a_refused_connection_a_read_timeout_and_a_cut_answer_fail_as_with_azure_cores_own_transport(server,
                                                                                                     monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_url = f"http://127.0.0.1:{closed.getsockname()[1]}/c"
    closed.close()

    cutter = socket.socket()  # answers nothing: takes the request and closes the connection
    cutter.bind(("127.0.0.1", 0))
    cutter.listen(4)

    def cut():
        for _ in range(2):
            conn, _ = cutter.accept()
            conn.recv(65536)
            conn.close()

    threading.Thread(target=cut, daemon=True).start()
    cut_url = f"http://127.0.0.1:{cutter.getsockname()[1]}/c"

    def failure(make, url, **kwargs):
        with make() as transport:
            with pytest.raises(Exception) as caught:
                transport.send(HttpRequest("GET", url), **kwargs)
        return type(caught.value)

    def failures(make) -> list[type]:
        return [failure(make, refused_url), failure(make, f"{server}/slow", read_timeout=0.2),
                failure(make, cut_url, read_timeout=2)]

    expected = [ServiceRequestError, ServiceResponseTimeoutError, ServiceResponseError]
    assert failures(lambda: RequestsTransport(use_env_settings=False)) == expected
    no_full_session_path(monkeypatch)
    assert failures(storage_transport) == expected
    cutter.close()
