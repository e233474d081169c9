"""Traces correlate one item across the functions; metrics carry stage/outcome/type; no content leaks."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry

SPANS = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers():
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    telemetry.reset_instruments()
    yield


def test_the_traceparent_carried_in_a_queue_message_joins_the_next_stage_to_the_items_trace():
    SPANS.clear()
    with telemetry.item_span("convert", item_id="wamid.1", item_type="message"):
        carried = telemetry.current_traceparent()
    assert carried and carried.startswith("00-")
    with telemetry.item_span("deliver", item_id="wamid.1", item_type="message", traceparent=carried):
        pass
    convert, deliver = SPANS.get_finished_spans()
    assert deliver.context.trace_id == convert.context.trace_id
    assert deliver.parent.span_id == convert.context.span_id
    assert deliver.attributes["archiver.item_id"] == "wamid.1"


def test_a_failing_stage_marks_its_span_with_the_error_type_but_not_the_error_text():
    SPANS.clear()
    with pytest.raises(ValueError):
        with telemetry.item_span("convert", item_id="wamid.2"):
            raise ValueError("secret message text")
    (span,) = SPANS.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.status.description == "ValueError"
    assert "secret" not in repr(span.attributes) + repr(span.events)


def _points(name: str) -> list:
    data = READER.get_metrics_data()
    out = []
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == name:
                    out.extend(m.data.data_points)
    return out


def test_item_counts_carry_stage_outcome_and_item_type():
    telemetry.count("deliver", "imported", item_type="call", n=3)
    telemetry.count("deliver", "failed", item_type="call")
    telemetry.count("convert", "unmapped", n=0)  # nothing to add: no point
    points = {(p.attributes["stage"], p.attributes["outcome"], p.attributes.get("item_type")): p.value
              for p in _points(telemetry.ITEM_COUNTER)}
    assert points[("deliver", "imported", "call")] >= 3
    assert points[("deliver", "failed", "call")] >= 1
    assert ("convert", "unmapped", None) not in points


def test_throttling_and_latency_are_recorded():
    telemetry.throttled("deliver", 7.0)
    telemetry.observe_latency("deliver", 0.25)
    assert sum(p.value for p in _points(telemetry.THROTTLED_COUNTER)) >= 1
    assert sum(p.count for p in _points(telemetry.DELIVERY_LATENCY)) >= 1


def test_report_figures_go_out_as_one_record_with_the_figures_as_dimensions(caplog):
    with caplog.at_level(logging.INFO, logger="archiver.report"):
        telemetry.report_figures("2026-11-23", {"items_available": 12, "copies": 20, "failed": 0, "invariant_holds": True})
    (record,) = [r for r in caplog.records if r.getMessage() == "archiver.report"]
    assert record.report_date == "2026-11-23"
    assert record.report_available == 12 and record.report_copies == 20 and record.report_failed == 0
    assert record.report_invariant_holds is True


def test_configure_is_a_no_op_without_a_connection_string_and_defers_to_the_functions_worker(monkeypatch):
    monkeypatch.setattr(telemetry, "_configured", False)
    assert telemetry.configure_telemetry({}) is False
    monkeypatch.setattr(telemetry, "_configured", False)
    assert telemetry.configure_telemetry({"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
                                          "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"}) is False


def test_the_managed_identity_client_id_is_read_from_the_auth_string():
    assert telemetry._auth_client_id("Authorization=AAD;ClientId=1234-abcd") == "1234-abcd"
    assert telemetry._auth_client_id("Authorization=AAD") is None
    assert telemetry._auth_client_id(None) is None
