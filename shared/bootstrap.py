"""The composition root: builds the real clients from the settings once per process and hands
them to the use cases. function_app.py, the CLI and the tests all come through here; tests
point it at local servers through settings, never through patches.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from datetime import datetime, timedelta, timezone
from functools import cached_property, partial
from pathlib import Path

from shared import names, telemetry
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.budget import MailboxRequestBudget
from shared.adapters.storage.clients import StorageClients, build_storage_clients
from shared.adapters.storage.leases import MailboxSlots
from shared.adapters.storage.queues import QueueStore
from shared.adapters.storage.tables import CheckpointStore, DirectoryCache, Ledger, Tables, Tracking, TranscriptDays
from shared.domain.record import RenderOptions
from shared.pipeline import convert, deliver, pull, report, transcripts
from shared.pipeline.messages import DeliveryMessage, ItemMessage, item_key
from shared.settings import Settings

log = logging.getLogger(__name__)
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


def host_queue_settings(path: Path = HOST_JSON) -> dict:
    """The queue extension settings of host.json (maxDequeueCount, visibilityTimeout, ...)."""
    data = json.loads(path.read_text())
    return data.get("extensions", {}).get("queues", {})


def _timespan_seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    h, m, s = value.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


class Archiver:
    """Everything a use case needs, built lazily so a function only builds what it uses."""

    def __init__(self, settings: Settings, *, feed=None, mailbox=None, directory=None, clients: StorageClients | None = None):
        self.settings = settings
        self._clients = clients
        self._feed, self._mailbox, self._directory = feed, mailbox, directory
        queue_cfg = host_queue_settings()
        self.max_dequeue_count = int(queue_cfg.get("maxDequeueCount", 5))
        self.retry_delay_seconds = _timespan_seconds(queue_cfg.get("visibilityTimeout"), 0.0)

    # ---------------------------------------------------------------- storage
    @cached_property
    def clients(self) -> StorageClients:
        return self._clients or build_storage_clients(self.settings)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.clients.blobs)

    @cached_property
    def queues(self) -> QueueStore:
        return QueueStore(self.clients.queues)

    @cached_property
    def tables(self) -> Tables:
        return Tables(self.clients.tables)

    @cached_property
    def checkpoints(self) -> CheckpointStore:
        return CheckpointStore(self.tables)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.tables, claim_seconds=self.settings.delivery_claim_seconds)

    @cached_property
    def tracking(self) -> Tracking:
        return Tracking(self.tables)

    @cached_property
    def transcript_days(self) -> TranscriptDays:
        return TranscriptDays(self.tables)

    @property
    def stage(self) -> convert.Stage | None:
        """Transcript mode: what convert_item does with a mapped item instead of rendering it alone."""
        if not self.settings.transcript_mode:
            return None
        return partial(transcripts.stage_item, blobs=self.blobs, tracking=self.tracking, days=self.transcript_days)

    @cached_property
    def slots(self) -> MailboxSlots:
        return MailboxSlots(self.clients.blobs, self.settings.mailbox_concurrency)

    @cached_property
    def budget(self) -> MailboxRequestBudget:
        return MailboxRequestBudget(self.tables, self.settings.mailbox_requests_per_minute)

    def ensure_storage(self) -> None:
        """Create the containers, queues and tables (Bicep does this in Azure; Azurite starts empty)."""
        self.blobs.ensure_containers()
        self.queues.ensure_queues()
        self.tables.ensure_tables()

    # ---------------------------------------------------------------- outside services
    @property
    def feed(self):
        if self._feed is None:
            from shared.adapters.feed_http import HttpFeed

            s = self.settings
            self._feed = HttpFeed(s.feed_base_url, s.feed_token.get_secret_value(), page_size=s.feed_page_size,
                                  timeout=s.feed_timeout_seconds)
        return self._feed

    @property
    def mailbox(self):
        if self._mailbox is None:
            from shared.adapters.graph import build_graph_mailbox

            self._mailbox = build_graph_mailbox(self.settings)
        return self._mailbox

    @cached_property
    def directory(self) -> convert.CachedDirectory:
        raw = self._directory
        if raw is None:
            from shared.adapters.graph import build_graph_directory

            raw = self._directory = build_graph_directory(self.settings)
        cache = DirectoryCache(self.tables, timedelta(minutes=self.settings.directory_cache_ttl_minutes))
        return convert.CachedDirectory(raw, cache)

    @cached_property
    def mapping(self) -> convert.MappingSource:
        s = self.settings
        return convert.MappingSource(self.blobs, s.mapping_container, s.mapping_path, s.default_phone_region)

    @cached_property
    def render_options(self) -> RenderOptions:
        s = self.settings
        return RenderOptions(display_timezone=s.display_timezone, max_item_bytes=s.max_item_bytes,
                             attachment_location=convert.attachment_location, default_region=s.default_phone_region)

    # ---------------------------------------------------------------- use cases
    def pull(self, progress=lambda _m: None, now=None) -> pull.PullResult:
        clock = {"now": now} if now is not None else {}
        with telemetry.item_span("pull", item_id="(run)"):
            result = pull.pull_delta(
                **clock,
                feed=self.feed, blobs=self.blobs, queues=self.queues, checkpoints=self.checkpoints, tracking=self.tracking,
                max_window_hours=self.settings.max_window_hours, first_lookback_hours=self.settings.first_run_lookback_hours,
                traceparent=telemetry.current_traceparent, progress=progress,
            )
            telemetry.count("pull", "succeeded", n=result.items)
            telemetry.pull_succeeded(result.run_id, result.items, len(result.windows))
            return result

    def on_item(self, body: bytes | str, dequeue_count: int) -> str:
        """The items queue handler (convert_item). Raises to let the queue retry, then poison."""
        message = ItemMessage.model_validate_json(body)
        key = item_key(message.item_id)
        with telemetry.item_span("convert", item_id=message.item_id, traceparent=message.traceparent):
            try:
                outcome = convert.convert_item(
                    message, blobs=self.blobs, queues=self.queues, tracking=self.tracking, mapping=self.mapping,
                    directory=self.directory, region=self.settings.default_phone_region, options=self.render_options,
                    traceparent=telemetry.current_traceparent, stage=self.stage,
                    deliver=self.deliver_now if self.deliver_at_convert else None,
                )
            except Exception as exc:
                final = dequeue_count >= self.max_dequeue_count
                self.tracking.item(message.report_date, key, item_id=message.item_id,
                                   stage="failed" if final else "pulled",
                                   reason=f"attempt {dequeue_count}/{self.max_dequeue_count}: {type(exc).__name__}: {exc}"[:1000])
                telemetry.count("convert", "error")
                raise
            telemetry.count("convert", outcome.status)
            return outcome.status

    def on_delivery(self, body: bytes | str, dequeue_count: int) -> str:
        """The deliveries queue handler (deliver_item)."""
        message = DeliveryMessage.model_validate_json(body)
        started = datetime.now(timezone.utc)
        with telemetry.item_span("deliver", item_id=message.item_id, item_type=message.item_type,
                                 traceparent=message.traceparent):
            try:
                result = deliver.deliver_copy(
                    message, blobs=self.blobs, ledger=self.ledger, tracking=self.tracking, mailbox=self.mailbox,
                    slots=self.slots, folder_name=self.settings.archive_folder_name, budget=self.budget,
                )
            except Exception as exc:
                final = dequeue_count >= self.max_dequeue_count
                deliver.record_failure(message, tracking=self.tracking, final=final,
                                       reason=f"attempt {dequeue_count}/{self.max_dequeue_count}: {type(exc).__name__}: {exc}")
                telemetry.count("deliver", "error", item_type=message.item_type)
                raise
            if isinstance(result, deliver.Requeue):
                delay = math.ceil(result.after_seconds)
                self.queues.send(names.DELIVERIES_QUEUE,
                                 message.model_copy(update={"requeues": message.requeues + 1}).model_dump(),
                                 delay_seconds=delay)
                telemetry.throttled("deliver", result.after_seconds)
                return "requeued"
            telemetry.count("deliver", result.outcome, item_type=message.item_type)
            telemetry.observe_latency("deliver", (datetime.now(timezone.utc) - started).total_seconds())
            return result.outcome

    # Each copy's first delivery attempt happens in convert_item (no deliveries message, no record read for a
    # copy that lands); a copy handed back goes to the deliveries queue. False: every copy is queued.
    deliver_at_convert = True
    _at_convert_lock = threading.Lock()

    @cached_property
    def delivered_at_convert(self) -> dict[str, int]:
        """Outcomes of the first attempts made at convert time (the run summary adds them)."""
        return {}

    def deliver_now(self, message: DeliveryMessage, *, tracking) -> deliver.Delivered | deliver.Requeue:
        """A copy's first attempt at convert time (``tracking`` collects its outcome for the item's one write)."""
        result = deliver.deliver_copy(message, blobs=self.blobs, ledger=self.ledger, tracking=tracking, mailbox=self.mailbox,
                                      slots=self.slots, folder_name=self.settings.archive_folder_name, budget=self.budget)
        outcome = result.outcome if isinstance(result, deliver.Delivered) else "requeued"
        with self._at_convert_lock:
            self.delivered_at_convert[outcome] = self.delivered_at_convert.get(outcome, 0) + 1
        if isinstance(result, deliver.Delivered):
            telemetry.count("deliver", result.outcome, item_type=message.item_type)
        return result

    def build_transcripts(self) -> transcripts.BuildResult | None:
        """Transcript mode: render and queue the transcripts of every complete day not built yet (else nothing)."""
        if not self.settings.transcript_mode:
            return None
        with telemetry.item_span("transcripts", item_id="(run)"):
            result = transcripts.build_transcripts(
                blobs=self.blobs, queues=self.queues, tracking=self.tracking, days=self.transcript_days,
                checkpoints=self.checkpoints, region=self.settings.default_phone_region, options=self.render_options,
                traceparent=telemetry.current_traceparent,
            )
            telemetry.count("transcripts", "built", n=result.transcripts)
            return result

    def report(self, report_date: str, *, full_numbers: bool | None = None, write: bool = True) -> report.Report:
        full = self.settings.report_full_numbers if full_numbers is None else full_numbers
        built = report.build_report(report_date, self.tracking.rows(report_date), self.checkpoints.runs(), full_numbers=full)
        if write:
            report.write_report(built, blobs=self.blobs, retention_days=self.settings.report_retention_days)
            telemetry.report_figures(report_date, {**built.figures(), "invariant_holds": built.invariant_holds})
        return built

    def report_today(self) -> list[report.Report]:
        """The scheduled report: today's run so far, and yesterday's again now that its work has drained."""
        today = datetime.now(timezone.utc).date()
        return [self.report((today - timedelta(days=d)).isoformat()) for d in (1, 0)]

    def close(self) -> None:
        for thing in (self._mailbox, self._directory, self._feed, self.__dict__.get("slots")):
            close = getattr(thing, "close", None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    log.debug("close failed", exc_info=True)


_ARCHIVER: Archiver | None = None


def archiver() -> Archiver:
    """The process-wide Archiver of the Functions worker (settings validated on first use)."""
    global _ARCHIVER
    if _ARCHIVER is None:
        from shared.settings import cached_settings

        telemetry.configure_telemetry()
        _ARCHIVER = Archiver(cached_settings())
    return _ARCHIVER
