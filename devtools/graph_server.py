"""A local, in-memory stand-in for the slice of Microsoft Graph the archiver uses.

Speaks Graph's documented protocol (paths, OData ``$filter`` forms, JSON shapes, error shape
``{"error": {"code", "message", "innerError"}}``) so the real msgraph-sdk can talk to it:

- directory: ``GET /v1.0/users/{id|upn}``, ``GET /v1.0/users?$filter=...`` (mail, userPrincipalName,
  ``proxyAddresses/any(p:p eq 'smtp:...')``, joined with ``or``/``and``), ``$count`` + ``ConsistencyLevel``;
- mailbox: ``GET /v1.0/users/{id}/mailFolders/inbox``, ``GET|POST /v1.0/users/{id}/mailFolders``
  (``displayName eq '...'`` filter; a duplicate name answers 409 ``ErrorFolderExists``),
  ``GET|POST .../mailFolders/{fid}/messages`` (JSON create honouring the MAPI extended properties
  PR_MESSAGE_FLAGS, delivery and sent times, message class, named properties; like Graph, a message
  created without PR_MESSAGE_FLAGS is a draft and ``sentDateTime``/``receivedDateTime`` in the body
  are ignored), ``POST /v1.0/users/{id}/messages/{mid}/move`` (``destinationId``: a folder id or
  ``deleteditems``; the id stays, as with ``Prefer: IdType="ImmutableId"``),
  ``PATCH|DELETE /v1.0/users/{id}/messages/{mid}`` (also under a folder; like Exchange,
  DELETE is a soft delete: the message moves to the user's "Deleted Items" folder, where the user
  and Content Search see it), ``POST .../messages/{mid}/permanentDelete`` (gone from every folder;
  kept in ``purged(address)``, the stand-in for the Recoverable Items Purges folder),
  ``POST .../messages/{mid}/attachments/createUploadSession`` + ``PUT`` chunks to the upload URL
  (``Content-Range``; an ``Authorization`` header there is refused with 401, as Exchange does),
  ``POST /beta/users/{id}/mailFolders/{fid}/importMime`` (base64 MIME, non-draft, unread).
- anything else answers 501 ``NotImplementedInLocalGraph`` so a gap is obvious.

Test controls: ``latency`` (seconds; ``latency_ms`` / ``--latency-ms`` at start), ``concurrency_limit`` (429 ``ApplicationThrottled``/``MailboxConcurrency``
when more requests to one mailbox are in flight), ``rate_limit = (requests, window_seconds)`` (Exchange's
10,000 per 600 s per app per mailbox: a sliding window over the admitted requests that touch the mailbox,
the same ones ``concurrency_limit`` counts; over it, 429 ``ApplicationThrottled`` with a ``Retry-After`` of
the whole seconds until the window admits one more; the 429s themselves are not counted), ``max_in_flight(address)``, ``max_in_flight_total()``, ``reset_peaks()``,
``inject(Fault(...))``. ``requests`` logs each request's arrival (``at``, monotonic), ``mailbox`` (user id or None), ``status`` and ``retry_after``.
Loopback only, memory only, thread-safe. Never deployed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.local_http import QuietServer, run_in_thread, shut

ARCHIVE_PROPERTY_NAME = "archiveitemid"
MAX_UPLOAD_CHUNK = 4 * 1024 * 1024
DELETED_ITEMS = "deleteditems"  # the well-known folder a soft DELETE moves a message to
FAULT_KINDS = ("429", "503", "500", "400", "timeout", "drop", "commit_then_drop", "commit_then_503")


@dataclass
class Fault:
    """The next ``times`` requests matching method and path substring misbehave (None = forever).

    kinds: "429" / "503" (with Retry-After), "500", "400" (a BadRequest, e.g. a filter Graph cannot take), "timeout" (held past the client's timeout, then
    answered 504 without being performed), "drop" (connection closed, not performed),
    "commit_then_drop" (performed, then the connection is closed), "commit_then_503" (performed,
    then answered 503 with Retry-After). ``probability`` < 1: each matching request misbehaves with
    that chance (the server's seeded ``rng``), e.g. a steady 3% of 429s with ``times=None``.
    """

    kind: str
    method: str = "*"
    path_contains: str = ""
    times: int | None = 1
    retry_after: float | None = None
    probability: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, *, inner_code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.inner_code = status, code, message, inner_code
        self.headers = headers or {}


class _Dropped(Exception):
    """Close the connection without an answer."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str = "AAMkAD") -> str:
    return prefix + uuid.uuid4().hex + uuid.uuid4().hex[:8]


def _norm_prop_id(prop_id: str) -> str:
    return " ".join(str(prop_id).split()).lower()


# =========================================================================== OData $filter
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),:])|(?P<word>[A-Za-z_$@][\w$@./-]*)"
                    r"|(?P<num>-?\d+(?:\.\d+)?))")


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        out.append((kind, value))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _FilterParser:
    """``expr := and_expr ('or' and_expr)*``, ``and_expr := atom ('and' atom)*``,
    ``atom := '(' expr ')' | path 'eq' literal | path '/any(' var ':' expr ')'``."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def parse(self):
        node = self._or()
        if self.i != len(self.tokens):
            self._fail("unexpected trailing tokens")
        return node

    def _fail(self, why: str):
        raise GraphError(400, "BadRequest", f"Invalid filter clause: {why} in '{self.text}'.")

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def _take(self, kind=None, value=None):
        tok = self._peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and str(tok[1]).lower() != value):
            self._fail(f"expected {value or kind}")
        self.i += 1
        return tok

    def _or(self):
        nodes = [self._and()]
        while self._peek() == ("word", "or") or (self._peek()[0] == "word" and self._peek()[1].lower() == "or"):
            self.i += 1
            nodes.append(self._and())
        return ("or", nodes) if len(nodes) > 1 else nodes[0]

    def _and(self):
        nodes = [self._atom()]
        while self._peek()[0] == "word" and self._peek()[1].lower() == "and":
            self.i += 1
            nodes.append(self._atom())
        return ("and", nodes) if len(nodes) > 1 else nodes[0]

    def _atom(self):
        kind, value = self._peek()
        if kind == "punct" and value == "(":
            self.i += 1
            node = self._or()
            self._take("punct")
            return node
        if kind != "word":
            self._fail("expected a property")
        self.i += 1
        path = value
        if path.lower().endswith("/any"):
            self._take("punct")  # (
            var = self._take("word")[1]
            self._take("punct")  # :
            inner = self._or()
            self._take("punct")  # )
            return ("any", path[: -len("/any")], var, inner)
        op = self._take("word")[1].lower()
        if op != "eq":
            self._fail(f"operator '{op}' is not supported here")
        lit_kind, lit = self._peek()
        if lit_kind == "str":
            self.i += 1
            return ("eq", path, lit)
        if lit_kind == "word" and lit.lower() in ("true", "false", "null"):
            self.i += 1
            return ("eq", path, {"true": True, "false": False, "null": None}[lit.lower()])
        if lit_kind == "num":
            self.i += 1
            return ("eq", path, float(lit))
        self._fail("expected a literal")


def _resolve(path: str, obj, scope: dict):
    parts = path.split("/")
    if parts[0] in scope:
        value = scope[parts[0]]
        parts = parts[1:]
    else:
        value = obj
    for part in parts:
        if isinstance(value, dict):
            key = next((k for k in value if k.lower() == part.lower()), None)
            value = value.get(key) if key is not None else None
        else:
            return None
    return value


def _equal(left, right) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()  # Entra and Exchange compare strings case-insensitively
    return left == right


def evaluate(node, obj, scope: dict | None = None) -> bool:
    scope = scope or {}
    op = node[0]
    if op == "or":
        return any(evaluate(n, obj, scope) for n in node[1])
    if op == "and":
        return all(evaluate(n, obj, scope) for n in node[1])
    if op == "eq":
        return _equal(_resolve(node[1], obj, scope), node[2])
    if op == "any":
        _, path, var, inner = node
        values = _resolve(path, obj, scope) or []
        return any(evaluate(inner, obj, {**scope, var: v}) for v in values)
    raise AssertionError(op)


def parse_filter(text: str):
    return _FilterParser(text).parse()


# A realistic bad day (issue 14's figures): on every create, 3% 429, 3% 503, 2% 500 and 4% created but
# the answer lost; steady rates drawn from the server's seeded rng. Used by the fault tests and the bench.
REALISTIC_FAULT_MIX = [
    Fault(kind="429", method="POST", path_contains="/messages", times=None, retry_after=1, probability=0.03),
    Fault(kind="503", method="POST", path_contains="/messages", times=None, retry_after=1, probability=0.03),
    Fault(kind="500", method="POST", path_contains="/messages", times=None, probability=0.02),
    Fault(kind="commit_then_drop", method="POST", path_contains="/messages", times=None, probability=0.04),
]


# =========================================================================== the store
@dataclass
class _User:
    id: str
    address: str
    display_name: str
    enabled: bool
    has_mailbox: bool
    aliases: tuple[str, ...]
    folders: dict = field(default_factory=dict)  # folder id -> {"id", "displayName", "isHidden", "messages": [..]}
    purged: list = field(default_factory=list)  # permanently deleted messages (Recoverable Items Purges)

    def directory_view(self) -> dict:
        proxies = [f"SMTP:{self.address}"] + [f"smtp:{a}" for a in self.aliases]
        return {"id": self.id, "displayName": self.display_name, "mail": self.address,
                "userPrincipalName": self.address, "accountEnabled": self.enabled, "proxyAddresses": proxies}


@dataclass
class _Upload:
    token: str
    user: _User
    message: dict
    name: str
    content_type: str
    size: int
    is_inline: bool
    received: bytearray = field(default_factory=bytearray)


def _message_view(m: dict, select: list[str] | None = None) -> dict:
    view = {k: v for k, v in m.items() if k not in ("mime", "extendedProperties", "attachments", "_folder",
                                                 "itemClass", "messageClass", "archiveItemId")}
    view["@odata.etag"] = 'W/"' + m["changeKey"] + '"'
    view["parentFolderId"] = m["_folder"]
    if select:
        keep = {s.lower() for s in select} | {"id", "@odata.etag"}
        view = {k: v for k, v in view.items() if k.lower() in keep}
    return view


class GraphServer:
    """See the module docstring. ``base_url`` is the host root; the adapter appends ``/v1.0``."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, latency_ms: float = 0.0, seed: int = 2026):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the local Graph server binds loopback only")
        self._lock = threading.RLock()
        self._users: dict[str, _User] = {}
        self._uploads: dict[str, _Upload] = {}
        self._faults: list[Fault] = []
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._peak_total = 0
        self.latency: float = latency_ms / 1000.0  # seconds added to every request (Azure-like round trips)
        self.rng = random.Random(seed)  # draws for faults with a probability
        self.concurrency_limit: int | None = None
        self.rate_limit: tuple[int, float] | None = None  # (requests, window seconds) per mailbox, sliding; None: off
        self._admitted: dict[str, deque] = {}  # mailbox key -> arrival times (monotonic) inside the rate window
        self.timeout_hold_seconds: float = 3.0  # a "timeout" fault holds the request this long
        self.throttle_retry_after: float = 1.0
        self.requests: list[dict] = []  # method, path, and the headers the tests look at
        self.upload_authorization_seen = 0
        self._httpd = QuietServer((host, port), _make_handler(self), "local-graph")  # bound now: base_url is known
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "GraphServer":
        if self._thread is None:
            self._thread = run_in_thread(self._httpd)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            shut(self._httpd, self._thread)
            self._thread = None
        else:
            self._httpd.server_close()

    def __enter__(self) -> "GraphServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ setup and inspection
    def add_user(self, address: str, enabled: bool = True, has_mailbox: bool = True, display_name: str | None = None,
                 aliases=()) -> str:
        address = address.strip().lower()
        with self._lock:
            user = _User(id=str(uuid.uuid4()), address=address, display_name=display_name or address.split("@")[0],
                         enabled=enabled, has_mailbox=has_mailbox, aliases=tuple(a.strip().lower() for a in aliases))
            self._users[user.id] = user
            return user.id

    def user_id(self, address: str) -> str | None:
        user = self._find_user(address)
        return user.id if user else None

    def mailbox(self, address: str) -> dict[str, list[dict]]:
        """Folder display name -> copies of the messages stored there (only folders that exist)."""
        user = self._find_user(address)
        if user is None:
            return {}
        with self._lock:
            return {f["displayName"]: [self._stored_view(m) for m in f["messages"]] for f in user.folders.values()}

    def purged(self, address: str) -> list[dict]:
        """Messages removed with permanentDelete (invisible to the user; kept here for the tests)."""
        user = self._find_user(address)
        with self._lock:
            return [self._stored_view(m) for m in user.purged] if user else []

    def inject(self, fault: Fault) -> None:
        """Arm a copy of ``fault``: its ``times`` counts down here, so one Fault can serve many tests."""
        with self._lock:
            self._faults.append(replace(fault))

    def armed_faults(self) -> list[Fault]:
        """The injected faults as armed here, ``times`` counting what is left of each."""
        with self._lock:
            return [replace(f) for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_peaks(self) -> None:
        """Forget the peaks so far (``max_in_flight``, ``max_in_flight_total`` count from here)."""
        with self._lock:
            self._peak, self._peak_total = {}, 0

    def max_in_flight_total(self) -> int:
        """The most requests that touch a mailbox (any mailbox) this server had in flight at once."""
        with self._lock:
            return self._peak_total

    def max_in_flight(self, address: str) -> int:
        user = self._find_user(address)
        with self._lock:
            return self._peak.get(user.id, 0) if user else 0

    @staticmethod
    def _stored_view(m: dict) -> dict:
        out = {k: v for k, v in m.items() if k not in ("_folder",)}
        out["attachments"] = [dict(a) for a in m["attachments"]]
        out["extendedProperties"] = dict(m["extendedProperties"])
        out["parentFolderId"] = m["_folder"]
        return out

    # ------------------------------------------------------------------ internals
    def _find_user(self, key: str) -> _User | None:
        key = unquote(key).strip().lower()
        with self._lock:
            if key in self._users:
                return self._users[key]
            for user in self._users.values():
                if user.id.lower() == key or user.address == key or key in user.aliases:
                    return user
        return None

    def _take_fault(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method not in ("*", method) or fault.path_contains not in target:
                    continue
                if fault.probability < 1.0 and self.rng.random() >= fault.probability:
                    continue
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                return fault
        return None

    def _enter(self, mailbox_key: str | None, at: float) -> GraphError | None:
        """Count a request in flight for a mailbox; the 429 to answer when over the concurrency or rate limit."""
        if mailbox_key is None:
            return None
        with self._lock:
            n = self._in_flight.get(mailbox_key, 0) + 1
            self._in_flight[mailbox_key] = n
            self._peak[mailbox_key] = max(self._peak.get(mailbox_key, 0), n)
            self._peak_total = max(self._peak_total, sum(self._in_flight.values()))
            if self.concurrency_limit is not None and n > self.concurrency_limit:
                return GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                                  inner_code="MailboxConcurrency",
                                  headers={"Retry-After": _secs(self.throttle_retry_after)})
            if self.rate_limit is not None:
                limit, window = self.rate_limit
                times = self._admitted.setdefault(mailbox_key, deque())
                while times and times[0] <= at - window:
                    times.popleft()
                if len(times) >= limit:
                    # the window admits one more when the oldest request in it leaves it
                    wait = math.ceil(times[len(times) - limit] + window - at)
                    return GraphError(429, "ApplicationThrottled", "Application is over its MailboxRequests limit.",
                                      inner_code="MailboxRequests", headers={"Retry-After": str(max(1, wait))})
                times.append(at)
            return None

    def _leave(self, mailbox_key: str | None) -> None:
        if mailbox_key is None:
            return
        with self._lock:
            self._in_flight[mailbox_key] -= 1


# =========================================================================== request handling
_USER_PATH = re.compile(r"^/(v1\.0|beta)/users/([^/]+)(/.*)?$")


def _make_handler(server: GraphServer):
    class Handler(_Handler):
        graph = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    graph: GraphServer
    protocol_version = "HTTP/1.1"
    server_version = "LocalGraph/1.0"
    # TCP_NODELAY: the status line and headers go out in one write and the body in another; with Nagle on, the
    # body waited for the client's delayed ACK (~40 ms a response on Linux), a cost Graph does not have
    disable_nagle_algorithm = True
    _log: dict | None = None  # this request's entry in GraphServer.requests
    _mailbox_in_flight: str | None = None  # the mailbox this request counts against while in flight

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _handle(self, method: str) -> None:
        g = self.graph
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # the client went away mid-request (a killed archiver): like Exchange, act on nothing;
            # an empty body read as "{}" here once created a bare draft the archiver never asked for
            self.close_connection = True
            return
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        target = path + ("?" + unquote(split.query) if split.query else "")
        at = time.monotonic()
        mailbox_key = self._mailbox_key(path)
        self._log = {"method": method, "path": target, "prefer": self.headers.get("Prefer"),
                     "authorization": bool(self.headers.get("Authorization")),
                     "consistency": self.headers.get("ConsistencyLevel"), "at": at, "mailbox": mailbox_key,
                     "status": None, "retry_after": None}
        with g._lock:
            g.requests.append(self._log)
        self._mailbox_in_flight = mailbox_key
        refused = g._enter(mailbox_key, at)
        try:
            if g.latency:
                time.sleep(g.latency)
            if refused is not None:
                raise refused
            fault = g._take_fault(method, target)
            if fault is not None:
                self._apply_fault_before(fault)
            status, payload, headers = self._route(method, path, query, body)
            if fault is not None and fault.kind == "commit_then_drop":
                raise _Dropped()
            if fault is not None and fault.kind == "commit_then_503":
                raise GraphError(503, "ServiceUnavailable", "The service is temporarily unavailable.",
                                 headers={"Retry-After": _secs(fault.retry_after if fault.retry_after is not None else 1)})
            self._send(status, payload, headers)
        except GraphError as exc:
            err = {"code": exc.code, "message": exc.message,
                   "innerError": {"date": _iso(_now()), "request-id": str(uuid.uuid4()),
                                  "client-request-id": self.headers.get("client-request-id") or str(uuid.uuid4())}}
            if exc.inner_code:
                err["innerError"]["code"] = exc.inner_code
            self._send(exc.status, {"error": err}, exc.headers)
        except _Dropped:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except Exception as exc:  # noqa: BLE001 - a bug here must show as a Graph-shaped 500, not a hang
            self._send(500, {"error": {"code": "generalException", "message": f"local server bug: {exc!r}",
                                       "innerError": {}}}, {})
        finally:
            self._leave_mailbox()

    def _leave_mailbox(self) -> None:
        """The request no longer counts as in flight: called before its answer is written (as Exchange sees it,
        a request whose answer the client holds is done), and again, harmlessly, when the handler ends."""
        key, self._mailbox_in_flight = self._mailbox_in_flight, None
        self.graph._leave(key)

    def _mailbox_key(self, path: str) -> str | None:
        """Requests that touch a mailbox (Exchange counts their concurrency), keyed by the user's id."""
        m = _USER_PATH.match(path)
        if m and m.group(3) and re.match(r"^/(mailFolders|messages)", m.group(3), re.I):
            user = self.graph._find_user(m.group(2))
            return user.id if user else None
        if path.startswith("/upload/"):
            up = self.graph._uploads.get(path.split("/")[2])
            return up.user.id if up else None
        return None

    def _apply_fault_before(self, fault: Fault) -> None:
        g = self.graph
        if fault.kind == "429":
            raise GraphError(429, "TooManyRequests", "Too many requests.", inner_code="ApplicationThrottled",
                             headers={"Retry-After": _secs(fault.retry_after if fault.retry_after is not None else 1)})
        if fault.kind == "503":
            headers = {"Retry-After": _secs(fault.retry_after)} if fault.retry_after is not None else {}
            raise GraphError(503, "ServiceUnavailable", "The service is temporarily unavailable.", headers=headers)
        if fault.kind == "500":
            raise GraphError(500, "InternalServerError", "Something went wrong on the server.")
        if fault.kind == "400":
            raise GraphError(400, "BadRequest", "Invalid filter clause (injected).")
        if fault.kind == "timeout":
            time.sleep(g.timeout_hold_seconds)
            raise GraphError(504, "GatewayTimeout", "The request timed out.")
        if fault.kind == "drop":
            raise _Dropped()

    def _send(self, status: int, payload, headers: dict | None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        if self._log is not None:
            self._log["status"] = status
            self._log["retry_after"] = (headers or {}).get("Retry-After")
        self._leave_mailbox()
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ------------------------------------------------------------------ routing
    def _route(self, method: str, path: str, query: dict, body: bytes):
        g = self.graph
        if path.startswith("/upload/"):
            if method != "PUT":
                raise GraphError(405, "MethodNotAllowed", "Only PUT is allowed on an upload URL.")
            return self._upload_put(path.split("/")[2], body)
        if path.rstrip("/") == "/v1.0/users" and method == "GET":
            return self._list_users(query)
        m = _USER_PATH.match(path)
        if not m:
            return self._not_implemented(method, path)
        version, user_key, rest = m.group(1), m.group(2), (m.group(3) or "").rstrip("/")
        user = g._find_user(user_key)
        if user is None:
            if rest:
                raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user_key}' is invalid.")
            raise GraphError(404, "Request_ResourceNotFound",
                             f"Resource '{user_key}' does not exist or one of its queried reference-property "
                             "objects are not present.")
        if not rest:
            if method != "GET":
                return self._not_implemented(method, path)
            return 200, _select(user.directory_view(), query), {}
        if not user.has_mailbox:
            raise GraphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, "
                             "or is hosted on-premise.")
        parts = [p for p in rest.split("/") if p]
        low = [p.lower() for p in parts]
        if version == "beta":
            if len(parts) == 3 and low[0] == "mailfolders" and low[2] == "importmime" and method == "POST":
                return self._import_mime(user, parts[1], body)
            return self._not_implemented(method, path)
        if low[0] == "mailfolders":
            if len(parts) == 1:
                if method == "GET":
                    return self._list_folders(user, query)
                if method == "POST":
                    return self._create_folder(user, body)
            elif len(parts) == 2 and method == "GET":
                return 200, _select(self._folder_view(self._folder(user, parts[1])), query), {}
            elif len(parts) >= 3 and low[2] == "messages":
                folder = self._folder(user, parts[1])
                if len(parts) == 3:
                    if method == "GET":
                        return self._list_messages(folder, query)
                    if method == "POST":
                        return self._create_message(user, folder, body)
                else:
                    return self._message_route(method, user, parts[3:], query, body, folder)
        elif low[0] == "messages" and len(parts) >= 2:
            return self._message_route(method, user, parts[1:], query, body, None)
        return self._not_implemented(method, path)

    def _not_implemented(self, method: str, path: str):
        raise GraphError(501, "NotImplementedInLocalGraph",
                         f"The local Graph server does not implement {method} {path}; add it to devtools/graph_server.py.")

    def _message_route(self, method, user, parts, query, body, folder):
        message = self._message(user, parts[0], folder)
        low = [p.lower() for p in parts]
        if len(parts) == 1:
            if method == "GET":
                view = _message_view(message, _select_list(query))
                expand = query.get("$expand", "")
                m = re.fullmatch(r"\s*singleValueExtendedProperties(?:\(\$filter=(.*)\))?\s*", expand, re.I | re.S)
                if expand and not m:
                    raise GraphError(501, "NotImplementedInLocalGraph", f"$expand={expand} is not implemented here.")
                if m:
                    props = [{"id": k, "value": v} for k, v in message["extendedProperties"].items()]
                    if m.group(1):
                        node = parse_filter(m.group(1))
                        props = [p for p in props if evaluate(node, p)]
                    view["singleValueExtendedProperties"] = props
                return 200, view, {}
            if method == "PATCH":
                return self._patch_message(message, body)
            if method == "DELETE":  # a soft delete: moved to Deleted Items
                with self.graph._lock:
                    self._unfile(user, message)
                    if message["_folder"] != DELETED_ITEMS:
                        deleted = user.folders.setdefault(DELETED_ITEMS, {
                            "id": DELETED_ITEMS, "displayName": "Deleted Items", "isHidden": False, "messages": []})
                        message["_folder"] = DELETED_ITEMS
                        deleted["messages"].append(message)
                return 204, None, {}
        if len(parts) == 2 and low[1] == "move" and method == "POST":
            return self._move_message(user, message, body)
        if len(parts) == 2 and low[1] == "permanentdelete" and method == "POST":
            with self.graph._lock:
                self._unfile(user, message)
                user.purged.append(message)
            return 204, None, {}
        if len(parts) == 3 and low[1] == "attachments" and low[2] == "createuploadsession" and method == "POST":
            return self._create_upload_session(user, message, body)
        if len(parts) == 2 and low[1] == "attachments" and method == "GET":
            return 200, {"value": [{k: v for k, v in a.items() if k != "sha256"} for a in message["attachments"]]}, {}
        return self._not_implemented(method, "/".join(parts))

    @staticmethod
    def _unfile(user: _User, message: dict) -> None:
        f = user.folders[message["_folder"]]
        f["messages"] = [m for m in f["messages"] if m["id"] != message["id"]]

    # ------------------------------------------------------------------ directory
    def _list_users(self, query: dict):
        g = self.graph
        flt = query.get("$filter")
        with g._lock:
            users = list(g._users.values())
        views = [u.directory_view() for u in users]
        if flt:
            needs_advanced = "proxyaddresses" in flt.lower() or " or " in flt.lower()
            if needs_advanced and (self.headers.get("ConsistencyLevel", "").lower() != "eventual"
                                   or query.get("$count", "").lower() != "true"):
                raise GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause "
                                 "specified; this query needs ConsistencyLevel: eventual and $count=true.")
            node = parse_filter(flt)
            views = [v for v in views if evaluate(node, v)]
        out = {"@odata.context": "$metadata#users", "value": [_select(v, query) for v in views]}
        if query.get("$count", "").lower() == "true":
            out["@odata.count"] = len(views)
        return 200, out, {}

    # ------------------------------------------------------------------ folders
    @staticmethod
    def _folder_view(f: dict) -> dict:
        return {"id": f["id"], "displayName": f["displayName"], "parentFolderId": "msgfolderroot",
                "childFolderCount": 0, "unreadItemCount": sum(1 for m in f["messages"] if not m["isRead"]),
                "totalItemCount": len(f["messages"]), "isHidden": f["isHidden"]}

    def _folder(self, user: _User, key: str) -> dict:
        with self.graph._lock:
            if key.lower() == "inbox":
                return {"id": "inbox-" + user.id, "displayName": "Inbox", "isHidden": False, "messages": []}
            f = user.folders.get(key)
        if f is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return f

    def _list_folders(self, user: _User, query: dict):
        hidden = query.get("includeHiddenFolders", "").lower() == "true"
        with self.graph._lock:
            folders = [self._folder_view(f) for f in user.folders.values() if hidden or not f["isHidden"]]
        if query.get("$filter"):
            node = parse_filter(query["$filter"])
            folders = [f for f in folders if evaluate(node, f)]
        return 200, {"value": [_select(f, query) for f in folders]}, {}

    def _create_folder(self, user: _User, body: bytes):
        data = _json(body)
        name = data.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise GraphError(400, "ErrorInvalidRequest", "displayName is required.")
        with self.graph._lock:
            if any(f["displayName"].lower() == name.lower() for f in user.folders.values()):
                raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
            fid = _new_id("AQMkAD")
            user.folders[fid] = {"id": fid, "displayName": name, "isHidden": bool(data.get("isHidden", False)),
                                 "messages": []}
            return 201, self._folder_view(user.folders[fid]), {}

    # ------------------------------------------------------------------ messages
    def _message(self, user: _User, mid: str, folder: dict | None) -> dict:
        with self.graph._lock:
            folders = [folder] if folder is not None else list(user.folders.values())
            for f in folders:
                for m in f["messages"]:
                    if m["id"] == mid:
                        return m
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _move_message(self, user: _User, message: dict, body: bytes):
        target = _json(body).get("destinationId")
        if not isinstance(target, str) or not target:
            raise GraphError(400, "ErrorInvalidRequest", "destinationId is required.")
        with self.graph._lock:
            if target.lower() == DELETED_ITEMS:  # the same folder a soft DELETE moves to
                folder = user.folders.setdefault(DELETED_ITEMS, {
                    "id": DELETED_ITEMS, "displayName": "Deleted Items", "isHidden": False, "messages": []})
            else:
                folder = user.folders.get(target)
            if folder is None:
                raise GraphError(404, "ErrorItemNotFound", "The destination folder was not found in the store.")
            source = user.folders[message["_folder"]]
            source["messages"] = [m for m in source["messages"] if m["id"] != message["id"]]
            message["_folder"] = folder["id"]
            message["changeKey"] = uuid.uuid4().hex
            folder["messages"].append(message)
        return 201, _message_view(message), {}

    def _list_messages(self, folder: dict, query: dict):
        with self.graph._lock:
            messages = list(folder["messages"])
        if query.get("$filter"):
            node = parse_filter(query["$filter"])
            messages = [m for m in messages if evaluate(node, _filterable(m))]
        top = int(query.get("$top") or 10)
        select = _select_list(query)
        return 200, {"value": [_message_view(m, select) for m in messages[:top]]}, {}

    def _create_message(self, user: _User, folder: dict, body: bytes):
        data = _json(body)
        props = {}
        for p in data.get("singleValueExtendedProperties") or []:
            if not isinstance(p, dict) or "id" not in p:
                raise GraphError(400, "ErrorInvalidProperty", "An extended property needs an id and a value.")
            props[_norm_prop_id(p["id"])] = p.get("value")
        flags = props.get(_norm_prop_id("Integer 0x0E07"))
        now = _now()
        message = {
            "id": _new_id(), "changeKey": uuid.uuid4().hex, "_folder": folder["id"],
            "createdDateTime": _iso(now), "lastModifiedDateTime": _iso(now),
            "subject": data.get("subject") or "",
            "body": data.get("body") or {"contentType": "text", "content": ""},
            "from": data.get("from"), "sender": data.get("sender") or data.get("from"),
            "toRecipients": data.get("toRecipients") or [], "ccRecipients": data.get("ccRecipients") or [],
            "internetMessageId": data.get("internetMessageId") or f"<{uuid.uuid4().hex}@local.graph>",
            "importance": data.get("importance") or "normal",
            "mime": None,
        }
        if flags is not None:
            try:
                flag_bits = int(flags)
            except (TypeError, ValueError):
                raise GraphError(400, "ErrorInvalidExtendedPropertyValue", "PR_MESSAGE_FLAGS must be an integer.") from None
            message["isDraft"] = bool(flag_bits & 0x8)
            message["isRead"] = bool(flag_bits & 0x1)
        else:
            message["isDraft"] = True
            message["isRead"] = True  # Graph creates drafts read
        message["attachments"] = []
        for a in data.get("attachments") or []:
            if str(a.get("@odata.type", "")).lower() != "#microsoft.graph.fileattachment":
                raise GraphError(400, "ErrorInvalidRequest", "Only fileAttachment is supported on create here.")
            raw = base64.b64decode(a.get("contentBytes") or "")
            message["attachments"].append(_attachment(a.get("name") or "attachment", a.get("contentType"), raw,
                                                      bool(a.get("isInline")), a.get("contentId")))
        _apply_props(message, props, now, on_create=True)
        with self.graph._lock:
            folder["messages"].append(message)
        return 201, _message_view(message), {"Location": f"/v1.0/users/{user.id}/messages/{message['id']}"}

    def _patch_message(self, message: dict, body: bytes):
        data = _json(body)
        with self.graph._lock:
            if "isRead" in data:
                message["isRead"] = bool(data["isRead"])
            props = {_norm_prop_id(p["id"]): p.get("value") for p in data.get("singleValueExtendedProperties") or []}
            _apply_props(message, props, _now(), on_create=False)
            message["changeKey"] = uuid.uuid4().hex
            message["lastModifiedDateTime"] = _iso(_now())
        return 200, _message_view(message), {}

    def _import_mime(self, user: _User, folder_key: str, body: bytes):
        folder = self._folder(user, folder_key)
        try:
            mime = base64.b64decode(b"".join(body.split()), validate=True)
        except ValueError:
            raise GraphError(400, "ErrorMimeContentInvalidBase64String", "The MIME content is not valid base64.") from None
        if not mime.strip():
            raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is empty.")
        parsed = BytesParser(policy=policy.default).parsebytes(mime)
        now = _now()
        date = parsed["Date"].datetime if parsed["Date"] is not None else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
        html = parsed.get_body(preferencelist=("html",))
        text = parsed.get_body(preferencelist=("plain",))
        body_part = html or text
        body_obj = {"contentType": "html" if html is not None else "text",
                    "content": body_part.get_content() if body_part is not None else ""}
        attachments = []
        for part in _leaf_parts(parsed):
            if part is html or part is text:
                continue
            raw = part.get_payload(decode=True) if not part.is_multipart() else part.as_bytes()
            if part.get_content_type() == "message/rfc822":
                raw = part.get_payload(0).as_bytes()
            attachments.append(_attachment(part.get_filename() or "attachment", part.get_content_type(), raw or b"",
                                           part.get_content_disposition() == "inline", part.get("Content-ID")))
        message = {
            "id": _new_id(), "changeKey": uuid.uuid4().hex, "_folder": folder["id"],
            "createdDateTime": _iso(now), "lastModifiedDateTime": _iso(now),
            "subject": str(parsed.get("Subject", "")), "body": body_obj,
            "from": _recipients(parsed, "From")[:1][0] if _recipients(parsed, "From") else None,
            "toRecipients": _recipients(parsed, "To"), "ccRecipients": _recipients(parsed, "Cc"),
            "internetMessageId": str(parsed.get("Message-ID", "")).strip() or f"<{uuid.uuid4().hex}@local.graph>",
            "importance": "normal", "isDraft": False, "isRead": False, "attachments": attachments, "mime": mime,
            "sentDateTime": _iso(date or now), "receivedDateTime": _iso(now),
        }
        message["sender"] = message["from"]
        message["extendedProperties"] = {}
        message["itemClass"] = message["messageClass"] = "IPM.Note"
        message["archiveItemId"] = None
        message["hasAttachments"] = bool(attachments)
        with self.graph._lock:
            folder["messages"].append(message)
        return 201, _message_view(message), {}

    # ------------------------------------------------------------------ upload sessions
    def _create_upload_session(self, user: _User, message: dict, body: bytes):
        data = _json(body)
        item = next((v for k, v in data.items() if k.lower() == "attachmentitem"), None)
        if not isinstance(item, dict):
            raise GraphError(400, "ErrorInvalidRequest", "AttachmentItem is required.")
        size = item.get("size")
        if not isinstance(size, int) or size <= 0:
            raise GraphError(400, "ErrorInvalidRequest", "AttachmentItem.size must be a positive integer.")
        if size > 150 * 1024 * 1024:
            raise GraphError(413, "ErrorAttachmentSizeLimitExceeded", "The attachment exceeds 150 MB.")
        if str(item.get("attachmentType", "file")).lower() != "file":
            raise GraphError(400, "ErrorInvalidRequest", "Only file attachments are supported here.")
        token = uuid.uuid4().hex
        with self.graph._lock:
            self.graph._uploads[token] = _Upload(token=token, user=user, message=message, name=item.get("name") or "attachment",
                                                 content_type=item.get("contentType") or "application/octet-stream",
                                                 size=size, is_inline=bool(item.get("isInline")))
        return 201, {"@odata.context": "$metadata#microsoft.graph.uploadSession",
                     "uploadUrl": f"{self.graph.base_url}/upload/{token}",
                     "expirationDateTime": _iso(datetime.fromtimestamp(time.time() + 6 * 3600, timezone.utc)),
                     "nextExpectedRanges": ["0-"]}, {}

    def _upload_put(self, token: str, body: bytes):
        g = self.graph
        if self.headers.get("Authorization"):
            with g._lock:
                g.upload_authorization_seen += 1
            raise GraphError(401, "InvalidAuthenticationToken",
                             "An Authorization header is not accepted on an upload URL (it carries its own token).")
        with g._lock:
            up = g._uploads.get(token)
        if up is None:
            raise GraphError(404, "ErrorItemNotFound", "The upload session does not exist or has expired.")
        m = re.fullmatch(r"\s*bytes (\d+)-(\d+)/(\d+)\s*", self.headers.get("Content-Range", ""))
        if not m:
            raise GraphError(400, "InvalidContentRange", "Content-Range 'bytes start-end/total' is required.")
        start, end, total = map(int, m.groups())
        if total != up.size or end < start or end - start + 1 != len(body) or end >= total:
            raise GraphError(400, "InvalidContentRange", "Content-Range does not match the session or the body.")
        if len(body) > MAX_UPLOAD_CHUNK:
            raise GraphError(413, "RequestEntityTooLarge", "An upload chunk must not exceed 4 MB.")
        with g._lock:
            if start != len(up.received):
                raise GraphError(416, "InvalidRange", f"Expected the range starting at {len(up.received)}.",
                                 headers={})
            up.received.extend(body)
            if len(up.received) < up.size:
                return 200, {"expirationDateTime": _iso(datetime.fromtimestamp(time.time() + 6 * 3600, timezone.utc)),
                             "nextExpectedRanges": [f"{len(up.received)}-"]}, {}
            att = _attachment(up.name, up.content_type, bytes(up.received), up.is_inline, None)
            up.message["attachments"].append(att)
            up.message["hasAttachments"] = True
            del g._uploads[token]
        return 201, None, {"Location": f"{g.base_url}/v1.0/users/{up.user.id}/messages/{up.message['id']}"
                                       f"/attachments/{att['id']}"}


# =========================================================================== helpers
def _secs(value: float | None) -> str:
    return str(max(0, int(round(value if value is not None else 1))))


def _json(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise GraphError(400, "BadRequest", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return data


def _select_list(query: dict) -> list[str] | None:
    sel = query.get("$select")
    return [s.strip() for s in sel.split(",") if s.strip()] if sel else None


def _select(view: dict, query: dict) -> dict:
    sel = _select_list(query)
    if not sel:
        return view
    keep = {s.lower() for s in sel} | {"id"}
    return {k: v for k, v in view.items() if k.lower() in keep}


def _attachment(name: str, content_type: str | None, raw: bytes, inline: bool, content_id) -> dict:
    return {"id": _new_id("AAMkATT"), "@odata.type": "#microsoft.graph.fileAttachment", "name": name,
            "contentType": content_type or "application/octet-stream", "size": len(raw), "isInline": inline,
            "contentId": str(content_id).strip("<>") if content_id else None,
            "sha256": hashlib.sha256(raw).hexdigest()}


def _filterable(m: dict) -> dict:
    return {"internetMessageId": m["internetMessageId"], "subject": m["subject"], "isRead": m["isRead"],
            "isDraft": m["isDraft"],
            "singleValueExtendedProperties": [{"id": k, "value": v} for k, v in m["extendedProperties"].items()]}


def _apply_props(message: dict, props: dict, now: datetime, *, on_create: bool) -> None:
    """Store extended properties and derive what Graph shows from them."""
    ext = message.setdefault("extendedProperties", {})
    ext.update({k: v for k, v in props.items()})
    flags = ext.get(_norm_prop_id("Integer 0x0E07"))
    if flags is not None and not on_create:
        message["isRead"] = bool(int(flags) & 0x1)  # the draft state is fixed at creation, as in Exchange
    for tag, key in (("systemtime 0x0e06", "receivedDateTime"), ("systemtime 0x0039", "sentDateTime")):
        if tag in ext:
            try:
                message[key] = _iso(datetime.fromisoformat(str(ext[tag]).replace("Z", "+00:00")))
            except ValueError:
                raise GraphError(400, "ErrorInvalidExtendedPropertyValue", f"{tag} is not a date-time.") from None
        elif on_create:
            message[key] = message["createdDateTime"]
    message["itemClass"] = message["messageClass"] = ext.get("string 0x001a") or "IPM.Note"
    message["archiveItemId"] = next((v for k, v in ext.items()
                                     if k.startswith("string {") and k.endswith(" name " + ARCHIVE_PROPERTY_NAME)), None)
    message["inReplyTo"] = ext.get("string 0x1042")
    message["references"] = ext.get("string 0x1039")
    message["hasAttachments"] = bool(message.get("attachments"))


def _recipients(parsed, header: str) -> list[dict]:
    h = parsed[header]
    if h is None:
        return []
    try:
        return [{"emailAddress": {"name": a.display_name or a.addr_spec, "address": a.addr_spec}} for a in h.addresses]
    except AttributeError:
        return [{"emailAddress": {"name": str(h), "address": str(h)}}]


def _leaf_parts(msg):
    if msg.get_content_type() == "message/rfc822" and msg is not None:
        yield msg
        return
    if msg.is_multipart():
        for part in msg.iter_parts():
            yield from _leaf_parts(part)
    else:
        yield msg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.graph_server", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=7302)
    parser.add_argument("--user", action="append", default=[], help="an address to create as an enabled user with a mailbox")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request (e.g. 120: what Azure sees)")
    args = parser.parse_args(argv)
    server = GraphServer(port=args.port, latency_ms=args.latency_ms)
    for address in args.user:
        server.add_user(address)
    server.start()
    print(f"local Graph on {server.base_url} (adapter base {server.base_url}/v1.0); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
