"""The alerts and the workbook query the names the code actually emits (shared/telemetry.py)."""

from __future__ import annotations

import logging

import pytest

from shared import telemetry
from tests.infra import bicep

ALERTS = bicep.module("alerts")
WORKBOOK = bicep.module("workbook")


def query(tree: dict, name: str) -> str:
    return bicep.variable(tree, name)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def add(self, _value, attributes=None):
        self.calls.append(("add", dict(attributes or {})))

    def record(self, _value, attributes=None):
        self.calls.append(("record", dict(attributes or {})))


class _Instruments:
    def __init__(self) -> None:
        self.items = _Recorder()
        self.latency = _Recorder()
        self.throttled = _Recorder()
        self.throttle_delay = _Recorder()


@pytest.fixture
def instruments(monkeypatch):
    fake = _Instruments()
    monkeypatch.setattr(telemetry, "_get", lambda: fake)
    return fake


def test_item_counter_dimensions_are_the_ones_queried(instruments):
    telemetry.count("deliver", "failed", item_type="message")
    (_, attributes), = instruments.items.calls
    assert set(attributes) == {"stage", "outcome", "item_type"}
    failures = query(ALERTS, "deliveryFailuresQuery")
    assert f'name == "{telemetry.ITEM_COUNTER}"' in failures
    assert 'customDimensions.stage) == "deliver"' in failures
    assert '"failed", "error"' in failures
    assert f'"{telemetry.ITEM_COUNTER}"' in query(WORKBOOK, "itemsPerDayQuery")


def test_latency_and_throttling_metrics_are_charted():
    assert f'"{telemetry.DELIVERY_LATENCY}"' in query(WORKBOOK, "latencyQuery")
    throttling = query(WORKBOOK, "throttlingQuery")
    assert f'"{telemetry.THROTTLED_COUNTER}"' in throttling and f'"{telemetry.THROTTLE_DELAY}"' in throttling


def test_pull_success_record_is_what_the_no_pull_alert_counts(caplog):
    with caplog.at_level(logging.INFO, logger="archiver"):
        telemetry.pull_succeeded("run-1", items=3, windows=1)
    messages = {r.getMessage() for r in caplog.records}
    assert "archiver.pull.succeeded" in messages
    assert 'message == "archiver.pull.succeeded"' in query(ALERTS, "noPullQuery")
    assert "ago(26h)" in query(ALERTS, "noPullQuery"), "the no-pull alert fires 26 hours after the last success"


def test_report_record_dimensions_are_the_ones_queried(caplog):
    figures = {"items_available": 5, "copies": 4, "imported": 2, "partial": 0, "skipped": 0, "failed": 2,
               "pending": 0, "rejected": 1, "unmapped": 0, "invariant_holds": True}
    with caplog.at_level(logging.INFO, logger="archiver"):
        telemetry.report_figures("2026-11-23", figures)
    record = next(r for r in caplog.records if r.getMessage() == "archiver.report")
    dimensions = {k for k in vars(record) if k == "report_date" or k.startswith("report_")}
    assert record.report_failed == 2 and record.report_date == "2026-11-23"
    alert = query(ALERTS, "reportFailedQuery")
    assert 'message == "archiver.report"' in alert
    for used in ("report_failed", "report_date"):
        assert f"customDimensions.{used}" in alert and used in dimensions
    workbook = query(WORKBOOK, "reportsQuery")
    for used in ("report_available", "report_copies", "report_imported", "report_failed", "report_unmapped",
                 "report_invariant_holds"):
        assert f"d.{used}" in workbook and used in dimensions, used


def test_poison_alert_watches_every_poison_queue():
    assert 'endswith "-poison"' in query(ALERTS, "poisonQuery")
    rules = {name for name, r in ALERTS["resources"].items() if r["type"] == "Microsoft.Insights/scheduledQueryRules"}
    assert rules == {"poisonAlert", "noPullAlert", "deliveryFailuresAlert", "reportFailedAlert", "verifyFailedAlert"}


def test_verify_failure_record_is_what_the_verify_alert_counts(caplog):
    with caplog.at_level(logging.INFO, logger="archiver"):
        telemetry.evidence_verified(7, ["2026-11-23"], 2)
    record = next(r for r in caplog.records if r.getMessage() == telemetry.EVIDENCE_VERIFY_FAILED)
    assert record.levelno == logging.ERROR and record.verify_mismatches == 2
    assert f'message == "{telemetry.EVIDENCE_VERIFY_FAILED}"' in query(ALERTS, "verifyFailedQuery")
    with caplog.at_level(logging.INFO, logger="archiver"):
        telemetry.evidence_verified(7, [], 0)
    assert caplog.records[-1].getMessage() == telemetry.EVIDENCE_VERIFIED  # a clean run never trips the alert
