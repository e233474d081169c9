"""Backlog at the ceiling: one mailbox with N copies waiting, drained against Exchange's limits.

    .venv/bin/python -m devtools.bench backlog [--copies 2000] [--scale 10]

The local Graph server enforces what Exchange does per app per mailbox: 4 concurrent requests and
10,000 requests in a sliding 10 minutes (``--scale S`` divides the count and the window by S, the rate
staying the same, so that the window binds within the bench; the default budget is scaled the same way), every
request taking ``--latency-ms`` (120). The copies wait in the deliveries queue as the pipeline leaves
them (records rendered and stored, one DeliveryMessage per copy, small records inline) and are drained by
``shared.pipeline.runner.drain`` with ``--workers`` (8) workers, twice in the same run: with the older budget (900 per
60 s) and with the default one (9,500 per 600 s). The ceiling is what the limits allow: N creates through
4 slots of ``latency`` each after the folder's set-up (2 requests), a request starting no sooner than the
window admits it (with 2,000 copies at ``--scale 10`` the set-up makes it a third window). A naive run (the same
creates straight through the adapter by 4 threads, nothing else) shows what the machine and the local server
themselves allow. The local Graph server runs in a process of its own, as Graph is apart from the archiver in
Azure (``--servers-in-process``: in this one).
"""

from __future__ import annotations

import base64
import copy
import heapq
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared import names

MAILBOX = "backlog@contoso.com"
FOLDER = "WhatsApp Archiver"
EXCHANGE_LIMIT = (10_000, 600.0)  # requests per app per mailbox, sliding window seconds
CONCURRENCY = 4


SETUP_REQUESTS = 2  # a mailbox's first copy: find the archive folder, create it (one after the other)


def ceiling_seconds(copies: int, latency: float, concurrency: int, rate_limit: tuple[int, float] | None,
                    setup: int = SETUP_REQUESTS) -> float:
    """The fastest N creates can go: after ``setup`` requests in a row (the folder), ``concurrency`` at a time, each
    ``latency`` long, and (sliding window, the set-up counted) the k-th request no sooner than ``window`` after the
    (k - limit)-th started."""
    slots = [setup * latency] * concurrency
    starts: list[float] = [i * latency for i in range(setup)]
    end = 0.0
    for k in range(setup, setup + copies):
        start = heapq.heappop(slots)
        if rate_limit is not None and k >= rate_limit[0]:
            start = max(start, starts[k - rate_limit[0]] + rate_limit[1])
        starts.append(start)
        heapq.heappush(slots, start + latency)
        end = max(end, start + latency)
    return end


def render_backlog(copies: int) -> list[tuple[str, bytes, str]]:
    """``copies`` distinct records (item id, eml, item class) rendered from the sample day's items, ids made unique."""
    from devtools.naive import DayAttachments
    from devtools.sample_day import generate_day
    from shared.domain.items import ItemRejected, parse_item
    from shared.domain.record import RenderOptions, render_record

    day = generate_day((datetime.now(timezone.utc) - timedelta(days=1)).date(), scale=1)
    out, options, files, n = [], RenderOptions(), DayAttachments(day.attachments), 0
    while len(out) < copies:
        for raw in day.items:
            if len(out) >= copies:
                break
            raw = copy.deepcopy(raw)
            raw["id"] = f"{raw['id']}-b{n:05d}"
            n += 1
            try:
                item = parse_item(raw)
            except ItemRejected:
                continue
            record = render_record(item, mailbox_of=lambda _p: None, attachments=files, options=options)
            out.append((item.id, record.eml, record.item_class))
    return out


def queue_backlog(app, records: list[tuple[str, bytes, str]], mailbox: str = MAILBOX) -> str:
    """Leave the records as convert would with delivery at convert off: the record in mime/, a pending copy row,
    one DeliveryMessage per copy on the deliveries queue (the record inline when small). Returns the report date."""
    from shared.pipeline.messages import INLINE_EML_MAX, DeliveryMessage, item_key

    report_date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    for item_id, eml, item_class in records:
        key = item_key(item_id)
        mime_blob = f"{report_date}/{key}.eml"
        app.blobs.put(names.MIME, mime_blob, eml, content_type="message/rfc822")
        app.tracking.copy_pending(report_date, key, mailbox, item_id=item_id, source="", item_type="message")
        inline = base64.b64encode(eml).decode("ascii") if len(eml) <= INLINE_EML_MAX else None
        app.queues.send(names.DELIVERIES_QUEUE, DeliveryMessage(
            item_id=item_id, item_type="message", mailbox=mailbox, mime_blob=mime_blob, item_class=item_class,
            report_date=report_date, eml_b64=inline).model_dump())
    return report_date


@dataclass
class BacklogRun:
    label: str
    copies: int
    seconds: float
    throttled: int
    landed: int
    lost: int
    doubled: int
    requests: int
    requeued: int


def run_backlog(label: str, records, *, budget: tuple[int, int], rate_limit: tuple[int, float] | None,
                latency: float, workers: int = 8, overrides: dict | None = None, servers_apart: bool = True) -> BacklogRun:
    from devtools.local_world import start_world
    from shared.adapters.storage.budget import MailboxRequestBudget
    from shared.pipeline.runner import drain

    with start_world(overrides=overrides or {}, servers_apart=servers_apart) as world:
        world.graph.add_user(MAILBOX)
        app = world.archiver()
        if (app.budget.per_window, app.budget.window) != budget:  # a scaled budget (the settings start at 60 s)
            app.budget = MailboxRequestBudget(app.tables, budget[0], window_seconds=budget[1])
        queue_backlog(app, records)
        world.graph.latency, world.graph.concurrency_limit = latency, CONCURRENCY
        world.graph.rate_limit = rate_limit
        first = len(world.graph.requests)
        started = time.perf_counter()
        stats = drain(app.queues, names.DELIVERIES_QUEUE, app.on_delivery, max_dequeue_count=app.max_dequeue_count,
                      retry_delay_seconds=1.0, workers=workers, visibility_timeout=120)
        seconds = time.perf_counter() - started
        seen = world.graph.requests[first:]
        landed = Counter(m.get("archiveItemId") for m in world.graph.mailbox(MAILBOX).get(FOLDER, []))
        app.close()
    want = {item_id for item_id, _eml, _cls in records}
    return BacklogRun(label=label, copies=len(records), seconds=seconds,
                      throttled=sum(1 for r in seen if r["status"] == 429), landed=sum(landed.values()),
                      lost=sum(1 for i in want if not landed.get(i)), doubled=sum(1 for n in landed.values() if n > 1),
                      requests=sum(1 for r in seen if r["mailbox"]), requeued=stats.outcomes.get("requeued", 0))


def run_naive(records, *, rate_limit: tuple[int, float] | None, latency: float,
              servers_apart: bool = True) -> tuple[float, int]:
    """The same creates sent straight through the adapter by 4 threads (no storage, queue, ledger, slots or budget;
    a 429 slept for its Retry-After in the thread): what this machine and the local server allow.
    Returns (seconds, 429s)."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import ExitStack

    from devtools.naive import create_until_landed
    from devtools.remote_servers import open_graph
    from shared.adapters.graph import build_graph_mailbox
    from shared.pipeline.ports import ArchiveCopy
    from shared.settings import load_settings

    with ExitStack() as stack:
        graph = open_graph(stack, apart=servers_apart)
        graph.add_user(MAILBOX)
        graph.latency, graph.concurrency_limit, graph.rate_limit = latency, CONCURRENCY, rate_limit
        mailbox = build_graph_mailbox(load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true",
                                                    GRAPH_ENDPOINT=graph.base_url))

        def create(record) -> None:
            item_id, eml, item_class = record
            create_until_landed(mailbox, folder, ArchiveCopy(mailbox=MAILBOX, archive_id=item_id, eml=eml,
                                                             item_class=item_class))

        started = time.perf_counter()
        folder = mailbox.ensure_folder(MAILBOX, FOLDER)
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(pool.map(create, records))
        seconds = time.perf_counter() - started
        mailbox.close()
        return seconds, sum(1 for r in graph.requests if r["status"] == 429)


def bench_backlog(copies: int = 2000, *, scale: int = 1, latency_ms: float = 120.0, workers: int = 8,
                  servers_apart: bool = True) -> None:
    latency = latency_ms / 1000.0
    limit = (EXCHANGE_LIMIT[0] // scale, EXCHANGE_LIMIT[1] / scale)
    records = render_backlog(copies)
    ceiling = ceiling_seconds(copies, latency, CONCURRENCY, limit)
    # before: the older setting as deployed (900 per 60 s, also under a scaled limit: it is what a deployment had);
    # after: the default, scaled like Exchange's window (the settings start at 60 s, so a scaled one is built here)
    runs = [("before: 900 per 60 s", (900, 60), {"MAILBOX_REQUESTS_PER_MINUTE": "900"}),
            (f"after: {9500 // scale} per {600 // scale} s", (9500 // scale, 600 // scale), {})]
    print(f"backlog: {copies} copies for one mailbox; local Graph: {latency_ms:.0f} ms a request, {CONCURRENCY} concurrent, "
          f"{limit[0]} requests per {limit[1]:g} s sliding{' (Exchange scaled 1/' + str(scale) + ')' if scale > 1 else ''}; "
          f"{workers} workers; the local Graph server {'in a process of its own' if servers_apart else 'in this process'} "
          "(measured under load: compare same-run figures only)")
    print(f"  ceiling from the limits: {ceiling:7.2f} s  {copies / ceiling:6.1f} copies/s")
    naive, naive_429s = run_naive(records, rate_limit=limit, latency=latency, servers_apart=servers_apart)
    print(f"  {'naive: 4 threads, direct':24s} {naive:7.2f} s  {copies / naive:6.1f} copies/s  ratio {ceiling / naive:4.2f} "
          f"(what this machine and the local server allow: no storage, queue, ledger or budget)  429s {naive_429s}")
    for label, budget, overrides in runs:
        r = run_backlog(label, records, budget=budget, rate_limit=limit, latency=latency, workers=workers,
                        overrides=overrides, servers_apart=servers_apart)
        print(f"  {label:24s} {r.seconds:7.2f} s  {r.copies / r.seconds:6.1f} copies/s  ratio {ceiling / r.seconds:4.2f} "
              f"(goal >= 0.9)  429s {r.throttled}, requeued {r.requeued}, Graph requests {r.requests}; "
              f"{r.landed} landed, {r.lost} lost, {r.doubled} doubled; {naive / r.seconds:4.2f} of naive")
