"""The composition root: builds the real clients from the settings once per process and hands
them to the use cases. function_app.py, the CLI and the tests all come through here; tests
point it at local servers through settings, never through patches.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import cached_property, partial
from pathlib import Path

from shared import names, telemetry
from shared.log_policy import quiet_library_loggers
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.budget import MailboxRequestBudget
from shared.adapters.storage.clients import StorageClients, build_storage_clients
from shared.adapters.storage.evidence import EvidenceStorage, read_day
from shared.adapters.storage.leases import MailboxSlots
from shared.adapters.storage.queues import QueueStore
from shared.adapters.storage.tables import CheckpointStore, DirectoryCache, Ledger, Tables, Tracking, TranscriptDays
from shared.domain.mapping_rule import EmailPolicy
from shared.domain.record import RenderOptions
from shared.pipeline import convert, deliver, evidence, pull, report, transcripts
from shared.pipeline.graph_in_flight import GraphInFlight
from shared.pipeline.hand_back import HandBack
from shared.pipeline.messages import DeliveryMessage, ItemMessage, item_key
from shared.pipeline.waiting_room import WaitingRoom
from shared.settings import Settings

log = logging.getLogger(__name__)
quiet_library_loggers()  # every entry point (Functions, CLI, tests) comes through here: no URLs with tokens in logs
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


def host_queue_settings(path: Path = HOST_JSON) -> dict:
    """The queue extension settings of host.json (maxDequeueCount, visibilityTimeout, ...)."""
    data = json.loads(path.read_text())
    return data.get("extensions", {}).get("queues", {})


def host_queue_concurrency(path: Path = HOST_JSON) -> int:
    """Messages one instance of the Functions host handles at once for a queue trigger: batchSize, and a new
    batch fetched as soon as only newBatchThreshold are left (host.json; the host's defaults when unset)."""
    queues = host_queue_settings(path)
    batch = int(queues.get("batchSize", 16))
    return batch + int(queues.get("newBatchThreshold", batch // 2))


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
        for name in settings.unresolved_secrets:  # the part using it refuses to start (Settings.require_resolved)
            log.error("setting %s holds an unresolved Key Vault reference: the part that uses it will not run", name)

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
        requests, window = self.settings.mailbox_request_budget
        return MailboxRequestBudget(self.tables, requests, window_seconds=window)

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
            s.require_resolved("feed_token")
            self._feed = HttpFeed(s.feed_base_url, s.feed_token.get_secret_value(), page_size=s.feed_page_size,
                                  timeout=s.feed_timeout_seconds, max_page_bytes=s.feed_max_page_bytes)
        return self._feed

    @cached_property
    def graph_in_flight(self) -> GraphInFlight:
        """DELIVERY_WORKERS Graph requests in flight at most in this instance (deliveries, directory look-ups)."""
        return GraphInFlight(self.settings.delivery_workers)

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

            raw = self._directory = self.graph_in_flight.directory(build_graph_directory(self.settings))
        cache = DirectoryCache(self.tables, timedelta(minutes=self.settings.directory_cache_ttl_minutes))
        return convert.CachedDirectory(raw, cache)

    @cached_property
    def mapping(self) -> convert.MappingSource:
        s = self.settings
        return convert.MappingSource(self.blobs, s.mapping_container, s.mapping_path, s.default_phone_region,
                                     email_policy=EmailPolicy.parse(s.mapping_email_property))

    @cached_property
    def render_options(self) -> RenderOptions:
        s = self.settings
        return RenderOptions(display_timezone=s.display_timezone, max_item_bytes=s.max_item_bytes,
                             attachment_location=convert.attachment_location, default_region=s.default_phone_region)

    # ---------------------------------------------------------------- use cases
    def pull(self, progress=lambda _m: None, now=None, queued=lambda _n: None) -> pull.PullResult:
        clock = {"now": now} if now is not None else {}
        if not self.settings.feed_configured:  # FEED_BASE_URL unset: e.g. WhatsApp webhooks only
            log.info("pull: no capture feed configured (FEED_BASE_URL unset); nothing to pull")
            progress("pull: no capture feed configured (FEED_BASE_URL unset); nothing to pull")
            return pull.PullResult(run_id="", report_date=datetime.now(timezone.utc).strftime("%Y-%m-%d"))
        with telemetry.item_span("pull", item_id="(run)"):
            result = pull.pull_delta(
                **clock,
                feed=self.feed, blobs=self.blobs, queues=self.queues, checkpoints=self.checkpoints, tracking=self.tracking,
                max_window_hours=self.settings.max_window_hours, first_lookback_hours=self.settings.first_run_lookback_hours,
                traceparent=telemetry.current_traceparent, progress=progress, queued=queued,
                max_attachment_bytes=self.settings.max_attachment_bytes,
            )
            telemetry.count("pull", "succeeded", n=result.items)
            if result.rejected or result.resent_changed:  # a hostile or broken source: visible in the metrics
                telemetry.count("pull", "rejected", n=result.rejected)
                telemetry.count("pull", "resent_changed", n=result.resent_changed)
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
                    deliver=self.deliver_now if self.deliver_at_convert else None, pool=self.copy_pool,
                    hand_back=self.hand_back,
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
                result = self._attempt(message, tracking=self.tracking, wait_out=deliver.WAITED_OUT_FROM_THE_QUEUE)
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
    def copy_pool(self) -> ThreadPoolExecutor:
        """Where the copies' first attempts run at convert: twice DELIVERY_WORKERS threads, so a copy waiting for
        its mailbox's slot or a ledger write does not hold the next one back; the Graph requests among them
        are held to DELIVERY_WORKERS (graph_in_flight)."""
        return ThreadPoolExecutor(max_workers=2 * self.settings.delivery_workers, thread_name_prefix="copy")

    @cached_property
    def waiting_room(self) -> WaitingRoom:
        """Copies handed back at convert for a short wait wait here (no thread held), then run on their own pool,
        DELIVERY_WORKERS threads, so they never hold back the first attempts on the copy pool."""
        return WaitingRoom(self.again_pool, per_key=self.settings.mailbox_concurrency)

    @cached_property
    def again_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.settings.delivery_workers, thread_name_prefix="again")

    @cached_property
    def hand_back(self) -> HandBack:
        """Where a copy not landed at convert goes: the deliveries queue, and a retry here once a short wait ends."""
        return HandBack(queues=self.queues, room=self.waiting_room, attempt=self._deliver_again,
                        outcome=self._count_at_convert)

    def _deliver_again(self, message: DeliveryMessage) -> deliver.Delivered | deliver.Requeue:
        """A retry in this process of a copy handed back at convert: the queue handler's attempt, waiting nothing
        out in place (the waiting room waits instead, holding no thread)."""
        with telemetry.item_span("deliver", item_id=message.item_id, item_type=message.item_type,
                                 traceparent=message.traceparent):
            result = self._attempt(message, tracking=self.tracking)
            if isinstance(result, deliver.Delivered):
                telemetry.count("deliver", result.outcome, item_type=message.item_type)
            else:
                telemetry.throttled("deliver", result.after_seconds)
            return result

    def _attempt(self, message: DeliveryMessage, *, tracking, wait_out: float = 0.0) -> deliver.Delivered | deliver.Requeue:
        """One delivery attempt through this process's adapters, slots, budget and Graph permits."""
        return deliver.deliver_copy(message, blobs=self.blobs, ledger=self.ledger, tracking=tracking, mailbox=self.mailbox,
                                    slots=self.slots, folder_name=self.settings.archive_folder_name, budget=self.budget,
                                    graph_permit=self.graph_in_flight.hold, wait_out=wait_out)

    def _count_at_convert(self, outcome: str) -> None:
        with self._at_convert_lock:
            self.delivered_at_convert[outcome] = self.delivered_at_convert.get(outcome, 0) + 1

    @cached_property
    def delivered_at_convert(self) -> dict[str, int]:
        """Outcomes of the first attempts made at convert time (the run summary adds them)."""
        return {}

    def deliver_now(self, message: DeliveryMessage, *, tracking) -> deliver.Delivered | deliver.Requeue:
        """A copy's first attempt at convert time (``tracking`` collects its outcome for the item's one write)."""
        result = self._attempt(message, tracking=tracking)
        self._count_at_convert(result.outcome if isinstance(result, deliver.Delivered) else "requeued")
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
        built = report.build_report(report_date, self.tracking.rows(report_date), self.checkpoints.runs(), full_numbers=full,
                                    whatsapp_gaps=self.whatsapp_state.gaps() if self.settings.whatsapp_enabled else ())
        built.feed_configured = self.settings.feed_configured
        if write:
            report.write_report(built, blobs=self.blobs, retention_days=self.settings.report_retention_days)
            telemetry.report_figures(report_date, {**built.figures(), "invariant_holds": built.invariant_holds})
            self.write_evidence(report_date)  # after the report: the day's hash-chained manifest
        return built

    def report_today(self) -> list[report.Report]:
        """The scheduled report: today's run so far, and yesterday's again now that its work has drained."""
        today = datetime.now(timezone.utc).date()
        return [self.report((today - timedelta(days=d)).isoformat()) for d in (1, 0)]

    # ---------------------------------------------------------------- evidence
    @cached_property
    def evidence_storage(self) -> EvidenceStorage:
        return EvidenceStorage(self.clients.blobs)

    def write_evidence(self, report_date: str) -> evidence.WriteResult:
        """The day's evidence manifest (idempotent: the same content writes nothing, more writes a supplement)."""
        facts = read_day(self.tracking, self.ledger, report_date)
        return evidence.write_manifest(report_date, facts=facts, blobs=self.blobs, hasher=self.evidence_storage,
                                       store=self.evidence_storage, witness=telemetry.evidence_manifest)

    def verify_evidence(self, *, first: str | None = None, last: str | None = None, graph: bool = False,
                        since_chain_start: bool = False) -> evidence.Verification:
        result = evidence.verify(store=self.evidence_storage, hasher=self.evidence_storage, first=first, last=last,
                                 copies=self.mailbox if graph else None, folder_name=self.settings.archive_folder_name,
                                 since_chain_start=since_chain_start)
        telemetry.evidence_verified(len(result.days), [d.day for d in result.days if not d.ok], len(result.findings))
        return result

    def verify_recent(self, days: int = 7) -> evidence.Verification:
        """The verify_evidence timer: the last ``days`` report days, with Graph; raises on any mismatch."""
        today = datetime.now(timezone.utc).date()
        result = self.verify_evidence(first=(today - timedelta(days=days)).isoformat(),
                                      last=(today - timedelta(days=1)).isoformat(), graph=True, since_chain_start=True)
        if not result.ok:
            raise EvidenceMismatch("\n".join(evidence.verdict_lines(result)))
        if not self.evidence_storage.manifests() and any(True for _ in self.blobs.list(names.RAW)):
            telemetry.evidence_verified(0, ["(no manifest)"], 1)
            raise EvidenceMismatch("there is no evidence manifest at all although raw items are stored: the manifests "
                                   "were removed, or no report has run; run python -m shared report --date D")
        return result

    # ---------------------------------------------------------------- chat-export imports (issue 10)
    def open_export(self, path, upload_name: str | None = None):
        from shared.adapters.chat_export_zip import ExportArchive, ZipLimits

        s = self.settings
        limits = ZipLimits(max_entries=s.import_max_entries, max_total_bytes=s.import_max_total_bytes,
                           max_file_bytes=s.import_max_file_bytes, max_ratio=s.import_max_ratio)
        return ExportArchive(path, limits, upload_name=upload_name)

    def import_export(self, path, *, owner: str, upload_name: str | None = None, store_upload: bool = True, **options):
        """An export file on disk: kept under imports/{owner}/, parsed, items stored raw and queued, report beside it."""
        from shared.pipeline import chat_import_job

        return chat_import_job.run_import(self._import_deps(), path, owner=owner, upload_name=upload_name,
                                          store_upload=store_upload, **options)

    def import_uploaded(self, blob_name: str):
        """The import_export Function: an export dropped at imports/{owner mailbox}/...; None when nothing to do."""
        from shared.pipeline import chat_import_job

        return chat_import_job.run_uploaded(self._import_deps(), blob_name)

    def _import_deps(self):
        from shared.pipeline.chat_import_job import ImportDeps

        return ImportDeps(blobs=self.blobs, queues=self.queues, tracking=self.tracking, open_export=self.open_export,
                          region=self.settings.default_phone_region, zone=self.settings.export_timezone,
                          traceparent=telemetry.current_traceparent)

    # ---------------------------------------------------------------- WhatsApp webhooks (issue 9)
    @cached_property
    def webhook_config(self):
        """The webhook's secrets and limit, or None when the WHATSAPP_ settings are unset (webhook off)."""
        from shared.pipeline.webhook_intake import WebhookConfig

        s = self.settings
        if not s.whatsapp_enabled:
            return None
        s.require_resolved("whatsapp_app_secret", "whatsapp_verify_token")
        return WebhookConfig(s.whatsapp_app_secret.get_secret_value(), s.whatsapp_verify_token.get_secret_value(),
                             s.whatsapp_max_body_bytes)

    @cached_property
    def webhook_bodies(self):
        from shared.adapters.storage.webhook_bodies import WebhookBodies

        return WebhookBodies(self.clients.blobs)

    @cached_property
    def whatsapp_state(self):
        from shared.adapters.storage.whatsapp_state import WhatsAppState

        return WhatsAppState(self.tables)

    @cached_property
    def whatsapp_media(self):
        from shared.adapters.whatsapp_media import WhatsAppMedia

        s = self.settings
        s.require_resolved("whatsapp_access_token")
        return WhatsAppMedia(s.whatsapp_graph_base_url, s.whatsapp_access_token.get_secret_value())

    @cached_property
    def whatsapp_ports(self):
        from shared.pipeline.normalise_webhook import WhatsAppPorts

        return WhatsAppPorts(bodies=self.webhook_bodies, blobs=self.blobs, queues=self.queues, tracking=self.tracking,
                             state=self.whatsapp_state, media=self.whatsapp_media, max_dequeue_count=self.max_dequeue_count,
                             traceparent=telemetry.current_traceparent, telemetry=telemetry)

    def count_webhook(self, response) -> None:
        telemetry.count("webhook", response.outcome or str(response.status))

    def on_webhook(self, method: str, query: dict, headers: dict, body: bytes):
        """The whatsapp_webhook HTTP handler (the Function and `python -m shared webhook serve`)."""
        from shared.pipeline.webhook_intake import handle_request

        response = handle_request(method, query, headers, body, config=self.webhook_config, bodies=self.webhook_bodies,
                                  queues=self.queues, traceparent=telemetry.current_traceparent)
        self.count_webhook(response)
        return response

    def on_webhook_body(self, body: bytes | str, dequeue_count: int) -> str:
        """The webhooks queue handler (normalise_webhook): one stored body to items on the items queue."""
        from shared.pipeline import normalise_webhook

        with telemetry.item_span("normalise", item_id="(webhook)"):
            return normalise_webhook.on_message(self.whatsapp_ports, body, dequeue_count)

    def whatsapp_upkeep(self, *, min_age_seconds: float = 300.0):
        """Queue stored-but-unqueued webhook bodies and close calls left open (run cycle, pull timer)."""
        from shared.pipeline import normalise_webhook

        if not self.settings.whatsapp_enabled:
            return None
        return normalise_webhook.upkeep(self.whatsapp_ports, min_age_seconds=min_age_seconds)

    def close(self) -> None:
        room = self.__dict__.pop("waiting_room", None)
        if room is not None:  # what still waits is in the deliveries queue too: it shows at its backstop
            room.close()
        for name in ("copy_pool", "again_pool"):
            pool = self.__dict__.pop(name, None)
            if pool is not None:
                pool.shutdown(wait=True)
        for thing in (self._mailbox, self._directory, self._feed, self.__dict__.get("whatsapp_media"),
                      self.__dict__.get("slots")):
            close = getattr(thing, "close", None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    log.debug("close failed", exc_info=True)


class EvidenceMismatch(RuntimeError):
    """verify found evidence that does not match what was captured (each mismatch named in the message)."""


_ARCHIVER: Archiver | None = None


def archiver() -> Archiver:
    """The process-wide Archiver of the Functions worker (settings validated on first use)."""
    global _ARCHIVER
    if _ARCHIVER is None:
        from shared.settings import cached_settings

        telemetry.configure_telemetry()
        _ARCHIVER = Archiver(cached_settings())
    return _ARCHIVER
