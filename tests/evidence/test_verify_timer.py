"""The weekly verify_evidence timer: clean weeks pass quietly; a mismatch fails the run and logs the alerted record."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from shared import telemetry
from shared.bootstrap import Archiver, EvidenceMismatch
from shared.settings import load_settings


def test_the_timer_checks_the_last_week_since_the_chain_began_and_raises_on_a_mismatch(storage_connection, caplog):
    app = Archiver(load_settings(AzureWebJobsStorage=storage_connection, GRAPH_ENDPOINT="http://127.0.0.1:9"))
    app.ensure_storage()
    today = datetime.now(timezone.utc).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    for day in days:
        app.write_evidence(day)
    with caplog.at_level(logging.INFO, logger="archiver"):
        result = app.verify_recent()
    assert [d.day for d in result.days] == days and result.ok  # the days before the chain began are not expected
    assert caplog.records[-1].getMessage() == telemetry.EVIDENCE_VERIFIED

    app.blobs.delete("evidence", f"{days[1]}.jsonl")
    with caplog.at_level(logging.INFO, logger="archiver"), pytest.raises(EvidenceMismatch) as raised:
        app.verify_recent()
    assert f"missing manifest: {days[1]}.jsonl" in str(raised.value)
    assert f"broken chain: {days[2]}.jsonl: names {days[1]}.jsonl" in str(raised.value)
    record = next(r for r in caplog.records if r.getMessage() == telemetry.EVIDENCE_VERIFY_FAILED)
    assert record.levelno == logging.ERROR and record.verify_failed_days == f"{days[1]},{days[2]}"
    app.close()
