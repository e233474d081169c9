"""Telemetry: OpenTelemetry traces, metrics and figures, exported to Application Insights.

What leaves the process: item ids, item types, stages, outcomes, counts, sizes, durations and
reasons. Never message text, names, file names or phone numbers (the design's first rule).

- Traces: one span per stage per item (``pull``, ``convert``, ``deliver``). The W3C
  ``traceparent`` of the convert span rides in every delivery message, so an item's spans across
  the three functions form one trace (Application Insights: Transaction search on the item id).
- Metrics (names the alerts and the workbook in ``infra/`` query):
  ``archiver.items`` counter {stage, outcome, item_type}; ``archiver.delivery.latency``
  histogram (s); ``archiver.throttled`` counter {stage}; ``archiver.throttle.delay`` histogram (s).
- The daily report's figures: one log record ``archiver.report`` whose attributes (App Insights
  ``customDimensions``) are the figures, and ``archiver.pull.succeeded`` after each good pull.
- Evidence: ``archiver.evidence.manifest`` (date, name, sha256 of each manifest written: the
  witness outside the storage account), ``archiver.evidence.verified`` and, at error level,
  ``archiver.evidence.verify.failed`` (days, failed days, mismatches; the verify alert counts it).

Export is configured once per process by ``configure_telemetry``: in Azure when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (authenticating with the managed identity named
by ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``, local auth being disabled on the resource), with
no sampling so no error is ever sampled away. When the Functions worker configures Azure Monitor
itself (``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true``) we do not configure it twice. Locally
with neither, the OpenTelemetry API is a no-op and everything here costs next to nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from typing import Iterator

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.propagate import extract, inject

log = logging.getLogger(__name__)
report_log = logging.getLogger("archiver.report")
pull_log = logging.getLogger("archiver.pull")
evidence_log = logging.getLogger("archiver.evidence")
whatsapp_log = logging.getLogger("archiver.whatsapp")

_configured = False
_lock = threading.Lock()

ITEM_COUNTER = "archiver.items"
DELIVERY_LATENCY = "archiver.delivery.latency"
THROTTLED_COUNTER = "archiver.throttled"
THROTTLE_DELAY = "archiver.throttle.delay"


def _auth_client_id(auth_string: str | None) -> str | None:
    """The ClientId of ``Authorization=AAD;ClientId=...`` (App Insights' managed-identity auth string)."""
    if not auth_string:
        return None
    parts = dict(p.split("=", 1) for p in auth_string.split(";") if "=" in p)
    return parts.get("ClientId") or None


def configure_telemetry(environ: dict | None = None) -> bool:
    """Wire Azure Monitor export once per process. Returns True when this call configured it."""
    global _configured
    env = os.environ if environ is None else environ
    with _lock:
        if _configured:
            return False
        _configured = True
        if env.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").lower() == "true":
            return False  # the Functions worker configures Azure Monitor itself
        connection = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
        if not connection:
            return False
        from azure.monitor.opentelemetry import configure_azure_monitor

        kwargs: dict = {"connection_string": connection, "sampling_ratio": 1.0, "logger_name": "archiver"}
        auth_string = env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
        if auth_string:
            from azure.identity import ManagedIdentityCredential

            client_id = _auth_client_id(auth_string)
            kwargs["credential"] = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
        configure_azure_monitor(**kwargs)
        # our module loggers live under 'shared'; route them to the exporter too
        logging.getLogger("shared").setLevel(logging.INFO)
        log.info("telemetry: exporting to Application Insights")
        return True


# --------------------------------------------------------------------------- traces
def _tracer():
    return trace.get_tracer("archiver")


@contextmanager
def item_span(stage: str, *, item_id: str, item_type: str | None = None, traceparent: str | None = None) -> Iterator:
    """A span for one stage of one item, continuing the item's trace when ``traceparent`` is given."""
    parent = extract({"traceparent": traceparent}) if traceparent else None
    attributes = {"archiver.stage": stage, "archiver.item_id": item_id[:200]}
    if item_type:
        attributes["archiver.item_type"] = item_type
    with _tracer().start_as_current_span(f"archiver.{stage}", context=parent, attributes=attributes,
                                         kind=trace.SpanKind.CONSUMER if traceparent else trace.SpanKind.INTERNAL,
                                         record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except Exception as exc:  # recorded as the exception's type only: messages may quote content
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("archiver.error_type", type(exc).__name__)
            raise


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to carry in a queue message; None when not tracing."""
    carrier: dict[str, str] = {}
    inject(carrier, context=otel_context.get_current())
    return carrier.get("traceparent")


# --------------------------------------------------------------------------- metrics
class _Instruments:
    def __init__(self) -> None:
        meter = metrics.get_meter("archiver")
        self.items = meter.create_counter(ITEM_COUNTER, unit="{item}", description="items and copies by stage and outcome")
        self.latency = meter.create_histogram(DELIVERY_LATENCY, unit="s", description="time to deliver one mailbox copy")
        self.throttled = meter.create_counter(THROTTLED_COUNTER, unit="{response}", description="throttled Graph answers")
        self.throttle_delay = meter.create_histogram(THROTTLE_DELAY, unit="s", description="back-off asked for by Graph")


_instruments: _Instruments | None = None


def _get() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


def reset_instruments() -> None:
    """Forget the instruments (tests that install their own MeterProvider call this)."""
    global _instruments
    _instruments = None


def count(stage: str, outcome: str, *, item_type: str | None = None, n: int = 1) -> None:
    if n <= 0:
        return
    attributes = {"stage": stage, "outcome": outcome}
    if item_type:
        attributes["item_type"] = item_type
    _get().items.add(n, attributes)


def observe_latency(stage: str, seconds: float) -> None:
    _get().latency.record(max(seconds, 0.0), {"stage": stage})


def throttled(stage: str, retry_after_seconds: float) -> None:
    _get().throttled.add(1, {"stage": stage})
    _get().throttle_delay.record(max(retry_after_seconds, 0.0), {"stage": stage})


# --------------------------------------------------------------------------- figures
def report_figures(report_date: str, figures: dict) -> None:
    """The daily report's figures as one log record (App Insights: traces where message == 'archiver.report')."""
    names = {"items_available": "available"}
    attributes = {"report_date": report_date}
    for key, value in figures.items():
        if isinstance(value, (int, float, str, bool)):
            attributes[f"{names.get(key, key)}"] = value
    # prefixed so no figure can collide with a LogRecord attribute; the exporter turns them into customDimensions
    report_log.info("archiver.report", extra={f"report_{k}" if k != "report_date" else k: v for k, v in attributes.items()})


def pull_succeeded(run_id: str, items: int, windows: int) -> None:
    pull_log.info("archiver.pull.succeeded", extra={"run_id": run_id, "items": items, "windows": windows})


# --------------------------------------------------------------------------- evidence
EVIDENCE_MANIFEST = "archiver.evidence.manifest"
EVIDENCE_VERIFIED = "archiver.evidence.verified"
EVIDENCE_VERIFY_FAILED = "archiver.evidence.verify.failed"


def evidence_manifest(report_date: str, name: str, sha256: str) -> None:
    """The witness outside the storage account: a manifest's date, name and sha256 (no content)."""
    evidence_log.info(EVIDENCE_MANIFEST, extra={"evidence_date": report_date, "evidence_manifest": name,
                                                "evidence_sha256": sha256})


def evidence_verified(days: int, failed_days: list[str], mismatches: int) -> None:
    """A verify run: an error record when anything did not match (the verify alert counts them)."""
    extra = {"verify_days": days, "verify_failed_days": ",".join(failed_days)[:2000], "verify_mismatches": mismatches}
    if failed_days:
        evidence_log.error(EVIDENCE_VERIFY_FAILED, extra=extra)
    else:
        evidence_log.info(EVIDENCE_VERIFIED, extra=extra)


# --------------------------------------------------------------------------- WhatsApp webhooks
def capture_gap(*, number: str, event: str, reason: str, since: str, stopped: bool) -> None:
    """WhatsApp capture stopped (or resumed) for a business number: one log record the capture-gap alert in
    infra/ queries (traces where message == 'archiver.whatsapp.capture_gap' and stopped), and a counter.
    ``number`` comes masked; no content."""
    whatsapp_log.warning("archiver.whatsapp.capture_gap", extra={"wa_number": number, "wa_event": event,
                                                                  "wa_reason": reason, "wa_since": since, "stopped": stopped})
    count("whatsapp", "capture_stopped" if stopped else "capture_resumed")
