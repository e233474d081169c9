"""`python -m shared run`: one complete cycle in-process, as the Functions host would run it."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from shared import names
from shared.bootstrap import Archiver
from shared.pipeline.pull import PullResult
from shared.pipeline.runner import DrainStats, drain

DELIVERIES_PACE = 1.0  # seconds between asks of the deliveries queue while items are still being converted


@dataclass
class CycleSummary:
    report_date: str
    pulled: int = 0
    converted: int = 0
    rejected: int = 0
    unmapped: int = 0
    delivered: int = 0
    partial: int = 0
    skipped: int = 0
    failed: int = 0
    poisoned: int = 0
    requeued: int = 0
    attachments_corrupt: int = 0
    transcripts: int = 0  # transcript mode: conversation-day records rendered
    webhook_bodies: int = 0  # WhatsApp webhook bodies normalised into items (issue 9)
    feed_configured: bool = True
    queue_stats: dict[str, DrainStats] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"items pulled      {self.pulled}",
            f"converted         {self.converted}",
            f"rejected          {self.rejected}   (kept under rejected/ with the reason)",
            f"unmapped          {self.unmapped}   (kept under unmapped/; reprocess-unmapped after fixing the mapping)",
            f"copies delivered  {self.delivered}   (of which partially imported: {self.partial})",
            f"skipped (already archived) {self.skipped}",
            f"failed            {self.failed}   (poison messages: {self.poisoned})",
        ]
        if self.transcripts:
            out.insert(2, f"transcripts built {self.transcripts}   (transcript mode: one per conversation, day and mailbox)")
        if self.webhook_bodies:
            out.insert(1, f"webhook bodies    {self.webhook_bodies}   (WhatsApp Cloud API notifications normalised into items)")
        if not self.feed_configured:
            out.insert(0, "capture feed      not configured (FEED_BASE_URL unset): nothing pulled")
        return out


def drain_all(app: Archiver, *, workers: int = 4, retry_delay_seconds: float | None = None, max_idle_seconds: float = 600.0,
              visibility_timeout: int = 300, progress=lambda _m: None, summary: CycleSummary | None = None,
              producing: Callable[[], bool] = lambda: False, arrivals: threading.Event | None = None) -> CycleSummary:
    """Drain the items queue (``producing``: a pull still adding to it; ``arrivals``: set when it queued some) and,
    beside it, the deliveries queue, as the Functions host runs both triggers at once: a copy handed back at
    convert (throttled, its mailbox paused, its attempt failed) is retried while the other items are still
    converting, not after the last of them. Transcripts (transcript mode) are built once the items are drained;
    the deliveries drain ends after that, when its queue is empty."""
    summary = summary or CycleSummary(report_date="")
    delay = app.retry_delay_seconds if retry_delay_seconds is None else retry_delay_seconds
    common = dict(max_dequeue_count=app.max_dequeue_count, retry_delay_seconds=delay, max_idle_seconds=max_idle_seconds,
                  visibility_timeout=visibility_timeout, progress=progress)
    converting, converted = threading.Event(), threading.Event()  # converted wakes the deliveries drain at once
    converting.set()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drain-deliveries") as beside:
        # a handed-back copy waits at least a second in the queue: asking it every second meanwhile is enough
        deliveries_drained = beside.submit(drain, app.queues, names.DELIVERIES_QUEUE, app.on_delivery, workers=workers,
                                           producing=converting.is_set, arrivals=converted, pace=DELIVERIES_PACE, **common)
        try:
            items = drain(app.queues, names.ITEMS_QUEUE, app.on_item, workers=workers, producing=producing,
                          arrivals=arrivals, **common)
            built = app.build_transcripts()  # transcript mode only: complete days' transcripts, queued for delivery
        finally:
            converting.clear()
            converted.set()
        deliveries = deliveries_drained.result()
    if built is not None:
        summary.transcripts += built.transcripts
        if built.days or built.waiting:
            progress(f"transcripts: {built.transcripts} built for {', '.join(built.days) or 'no day'}; "
                     f"waiting for complete days: {', '.join(built.waiting) or 'none'}")
    at_convert = getattr(app, "delivered_at_convert", {})  # first attempts made by convert_item
    for outcome, n in list(at_convert.items()):  # a handed-back ("requeued") copy lands later through the queue
        deliveries.outcomes[outcome] = deliveries.outcomes.get(outcome, 0) + n
    at_convert.clear()
    for name, stats in ((names.ITEMS_QUEUE, items), (names.DELIVERIES_QUEUE, deliveries)):
        previous = summary.queue_stats.get(name)
        summary.queue_stats[name] = stats if previous is None else _merge(previous, stats)
    summary.converted += items.outcomes.get("converted", 0) + items.outcomes.get("staged", 0)
    summary.rejected += items.outcomes.get("rejected", 0)
    summary.unmapped += items.outcomes.get("unmapped", 0)
    summary.delivered += deliveries.outcomes.get("imported", 0) + deliveries.outcomes.get("partial", 0)
    summary.partial += deliveries.outcomes.get("partial", 0)
    summary.skipped += deliveries.outcomes.get("skipped", 0)
    summary.failed += deliveries.outcomes.get("failed", 0) + items.poisoned + deliveries.poisoned
    summary.poisoned += items.poisoned + deliveries.poisoned
    summary.requeued += deliveries.outcomes.get("requeued", 0)
    return summary


def _merge(a: DrainStats, b: DrainStats) -> DrainStats:
    out = DrainStats(handled=a.handled + b.handled, errors=a.errors + b.errors, poisoned=a.poisoned + b.poisoned)
    for d in (a.outcomes, b.outcomes):
        for k, v in d.items():
            out.outcomes[k] = out.outcomes.get(k, 0) + v
    return out


def drain_webhooks(app: Archiver, *, workers: int = 4, retry_delay_seconds: float | None = None, visibility_timeout: int = 300,
                   progress=lambda _m: None) -> DrainStats:
    """WhatsApp webhooks (when on): normalise the queued bodies, then sweep bodies stored but never queued."""
    if not app.settings.whatsapp_enabled:
        return DrainStats()
    delay = app.retry_delay_seconds if retry_delay_seconds is None else retry_delay_seconds
    common = dict(max_dequeue_count=app.max_dequeue_count, retry_delay_seconds=delay, workers=workers,
                  visibility_timeout=visibility_timeout, progress=progress)
    stats = drain(app.queues, names.WEBHOOKS_QUEUE, app.on_webhook_body, **common)
    upkeep = app.whatsapp_upkeep(min_age_seconds=0)
    if upkeep.requeued:
        progress(f"webhooks: {upkeep.requeued} stored bodies had not been queued; normalising them now")
        stats = drain(app.queues, names.WEBHOOKS_QUEUE, app.on_webhook_body, stats=stats, **common)
    if upkeep.calls_closed:
        progress(f"webhooks: {upkeep.calls_closed} calls left open too long archived as they stand")
    return stats


def pull_and_drain(app: Archiver, *, workers: int = 4, retry_delay_seconds: float | None = None,
                   visibility_timeout: int = 300, progress=lambda _m: None, now=None,
                   summary: CycleSummary | None = None) -> tuple[PullResult, CycleSummary]:
    """Pull and convert at the same time, as the Functions host does (the items trigger fires while the pull
    timer still runs): each page's items are converted and delivered while the next page is fetched. A
    failed pull still lets what it queued land, then raises."""
    arrivals = threading.Event()  # set by the pull each time it queued a batch: the items drain receives at once
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull") as beside:
        pulling = beside.submit(app.pull, progress=progress, now=now, queued=lambda _n: arrivals.set())
        summary = drain_all(app, workers=workers, retry_delay_seconds=retry_delay_seconds,
                            visibility_timeout=visibility_timeout, progress=progress,
                            summary=summary or CycleSummary(report_date=""),
                            producing=lambda: not pulling.done(), arrivals=arrivals)
        pulled: PullResult = pulling.result()  # a failed pull raises here, after what it queued has landed
    summary.report_date, summary.pulled = pulled.report_date, summary.pulled + pulled.items
    summary.attachments_corrupt += pulled.attachments_corrupt
    return pulled, summary


def run_cycle(app: Archiver, *, workers: int = 4, retry_delay_seconds: float | None = None, write_report: bool = True,
              visibility_timeout: int = 300, progress=lambda m: print(m, file=sys.stderr, flush=True)) -> CycleSummary:
    app.ensure_storage()
    webhooks = drain_webhooks(app, workers=workers, retry_delay_seconds=retry_delay_seconds,
                              visibility_timeout=visibility_timeout, progress=progress)
    summary = CycleSummary(report_date="")
    summary.webhook_bodies, summary.feed_configured = webhooks.outcomes.get("normalised", 0), app.settings.feed_configured
    summary.failed, summary.poisoned = webhooks.poisoned, webhooks.poisoned  # a body that failed 5 times: webhooks-poison
    summary.queue_stats[names.WEBHOOKS_QUEUE] = webhooks
    progress("pull: asking the capture feed for new items; converting and delivering them as they arrive")
    pulled, summary = pull_and_drain(app, workers=workers, retry_delay_seconds=retry_delay_seconds,
                                     visibility_timeout=visibility_timeout, progress=progress, summary=summary)
    progress(f"pull: {pulled.items} items in {len(pulled.windows)} window(s)")
    if write_report:
        report = app.report(pulled.report_date)
        progress(f"report written to {names.REPORTS}/{pulled.report_date}.json and .html")
        progress(report.to_json()["summary"])
    return summary
