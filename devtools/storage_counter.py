"""Count every Azure Storage request this process sends, by service, container/table/queue and HTTP method.

Wraps azure-core's ``RequestsTransport.send`` (the one transport all three storage SDKs use here), so it
sees exactly what goes on the wire: retries, batches (one ``$batch`` POST is one request, as Azure
bills it), 404s and 409s included. For the bench and the tests only; nothing deployed imports it.

    with StorageCounter(connection_string) as counter:
        ...
    print(counter.table())
"""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import unquote, urlsplit

from azure.core.pipeline.transport import RequestsTransport


def _endpoints(connection_string: str) -> dict[int, str]:
    """port -> 'blob' | 'queue' | 'table' from an Azurite-style connection string."""
    out = {}
    for part in connection_string.split(";"):
        key, _, value = part.partition("=")
        for service in ("Blob", "Queue", "Table"):
            if key == f"{service}Endpoint" and value:
                port = urlsplit(value).port
                if port:
                    out[port] = service.lower()
    return out


class StorageCounter:
    def __init__(self, connection_string: str):
        self.services = _endpoints(connection_string)
        self.counts: Counter = Counter()  # (service, resource, method, status class) -> n
        self._lock = threading.Lock()
        self._original = None

    def _classify(self, request, status: int | None) -> tuple[str, str, str, str]:
        url = urlsplit(request.url)
        service = self.services.get(url.port, url.hostname or "?")
        parts = [p for p in unquote(url.path).split("/") if p]
        if parts and parts[0] == "devstoreaccount1":
            parts = parts[1:]
        resource = parts[0].split("(")[0] if parts else "(account)"
        if service == "table" and resource == "$batch":
            resource = "$batch"
        code = "ok" if status is not None and status < 400 else str(status)
        return service, resource, request.method, code

    def __enter__(self) -> "StorageCounter":
        original = self._original = RequestsTransport.send
        counter = self

        def send(transport, request, **kwargs):
            try:
                response = original(transport, request, **kwargs)
            except Exception:
                counter._add(request, None)
                raise
            counter._add(request, response.status_code)
            return response

        RequestsTransport.send = send
        return self

    def _add(self, request, status) -> None:
        key = self._classify(request, status)
        with self._lock:
            self.counts[key] += 1

    def __exit__(self, *exc) -> None:
        RequestsTransport.send = self._original

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def table(self, per: int | None = None) -> str:
        """One line per (service, resource, method, status), largest first; ``per``: also divide by it."""
        with self._lock:
            rows = sorted(self.counts.items(), key=lambda kv: -kv[1])
        lines = []
        for (service, resource, method, code), n in rows:
            share = f"{n / per:6.2f}/copy" if per else ""
            lines.append(f"    {service:5s} {resource:18s} {method:6s} {code:4s} {n:6d} {share}")
        return "\n".join(lines)


# What each counted request is for, by (service, resource, method), for the bench's breakdown.
PURPOSES = {
    ("table", "ledger", "POST"): "ledger: claim a copy (insert as 'creating') before its create",
    ("table", "ledger", "PATCH"): "ledger: mark delivered (message id, outcome), or hand a claim back",
    ("table", "ledger", "GET"): "ledger: read an existing row (a retry, a re-pulled item)",
    ("table", "ledger", "PUT"): "ledger: take over a lapsed or handed-back claim (ETag-conditional)",
    ("table", "$batch", "POST"): "tracking: a page's pulled item rows / an item row + its copies' outcomes",
    ("table", "tracking", "PATCH"): "tracking: one row (a copy settled through the deliveries queue, a failure)",
    ("table", "tracking", "GET"): "tracking: current outcome before a non-landed one is written",
    ("table", "tracking", "POST"): "tracking: a copy's pending row (re-conversion)",
    ("table", "directorycache", "GET"): "directory cache: an address this process has not looked up yet",
    ("table", "directorycache", "PUT"): "directory cache: store a Graph answer",
    ("table", "mailboxbudget", "GET"): "request budget: read a mailbox's window row",
    ("table", "mailboxbudget", "PUT"): "request budget: reserve a chunk (ETag-conditional)",
    ("table", "mailboxbudget", "POST"): "request budget: first row of a mailbox",
    ("table", "checkpoints", "PATCH"): "pull: run record",
    ("table", "checkpoints", "PUT"): "pull: watermark",
    ("table", "checkpoints", "GET"): "pull: watermark read",
    ("table", "Tables", "POST"): "start-up: ensure tables",
    ("blob", "raw", "PUT"): "pull: raw item as received",
    ("blob", "raw", "GET"): "convert: raw item too large to ride in its message",
    ("blob", "mime", "PUT"): "convert: the rendered record (.eml)",
    ("blob", "unmapped", "PUT"): "convert: an unmapped item's entry (kept for reprocess-unmapped)",
    ("blob", "mime", "GET"): "deliver: a record too large to ride in its message",
    ("blob", "locks", "PUT"): "mailbox slots: lease acquire/renew/release (and creating a slot blob once)",
    ("blob", "attachments", "PUT"): "pull: attachment bytes",
    ("blob", "attachments", "HEAD"): "pull: attachment already stored?",
    ("blob", "attachments", "GET"): "convert: attachment bytes to embed",
    ("queue", "items", "POST"): "pull: one items message per item",
    ("queue", "items", "GET"): "convert: receive a batch of items",
    ("queue", "items", "DELETE"): "convert: item done",
    ("queue", "deliveries", "POST"): "a copy handed back to the deliveries queue",
    ("queue", "deliveries", "GET"): "deliver: receive a batch (or poll an empty queue)",
    ("queue", "deliveries", "DELETE"): "deliver: copy settled",
}


def purpose(service: str, resource: str, method: str) -> str:
    return PURPOSES.get((service, resource, method), "set-up and other (containers, queues, reports, config)")


def breakdown(counter: StorageCounter, copies: int) -> str:
    """Requests per copy grouped by purpose, largest first."""
    groups: Counter = Counter()
    with counter._lock:
        for (service, resource, method, _code), n in counter.counts.items():
            groups[(service, resource, method)] += n
    lines = []
    for (service, resource, method), n in groups.most_common():
        lines.append(f"    {n / max(copies, 1):5.2f}  {n:6d}  {service:5s} {resource:15s} {method:6s} "
                     f"{purpose(service, resource, method)}")
    return "\n".join(lines)


def half_way(world):
    """Where the first half of the world's day ends: its noon (UTC)."""
    from datetime import datetime, time as dtime, timezone

    return datetime.combine(world.day.day, dtime(12, 0), tzinfo=timezone.utc)


def run_day_in_two_halves(world, app, *, workers: int | None = None, counter: "StorageCounter | None" = None,
                          timings: dict | None = None):
    """Pull and settle the first half of the world's day (set-up, first look-ups, slot blobs), then the second
    half with ``counter`` counting: the second half is the steady state. ``workers``: messages handled at once
    per queue (default: as the Functions host on one instance, host.json's batchSize + newBatchThreshold).
    Returns the second half's summary; ``timings`` gets each half's wall and process CPU seconds ("cold", "warm")."""
    import time

    from shared.bootstrap import host_queue_concurrency
    from shared.cli.run import pull_and_drain

    workers = workers or host_queue_concurrency()

    noon = half_way(world)
    wall, cpu = time.perf_counter(), time.process_time()
    _pulled, first = pull_and_drain(app, workers=workers, retry_delay_seconds=0.2, visibility_timeout=30, now=lambda: noon)
    if timings is not None:
        timings["cold"] = (time.perf_counter() - wall, time.process_time() - cpu, first.delivered)
    if counter is not None:
        counter.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    _pulled, summary = pull_and_drain(app, workers=workers, retry_delay_seconds=0.2, visibility_timeout=30)
    if timings is not None:
        timings["warm"] = (time.perf_counter() - wall, time.process_time() - cpu, summary.delivered)
    return summary
