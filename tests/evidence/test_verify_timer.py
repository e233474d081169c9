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


def test_no_manifest_at_all_beside_stored_items_is_not_a_clean_week(storage_connection, caplog):
    app = Archiver(load_settings(AzureWebJobsStorage=storage_connection, GRAPH_ENDPOINT="http://127.0.0.1:9"))
    app.ensure_storage()
    assert app.verify_recent().days == []  # a new deployment: nothing pulled, nothing to prove yet
    app.blobs.put("raw", "2026-11-26/item-1.json", b"{}")
    with caplog.at_level(logging.INFO, logger="archiver"), pytest.raises(EvidenceMismatch, match="no evidence manifest at all"):
        app.verify_recent()
    assert caplog.records[-1].getMessage() == telemetry.EVIDENCE_VERIFY_FAILED
    app.close()


def test_verify_with_nothing_to_verify_or_muddled_dates_does_not_say_clean(storage_connection):
    from shared.cli.verify import main

    app = Archiver(load_settings(AzureWebJobsStorage=storage_connection))
    app.ensure_storage()
    out: list[str] = []
    assert main(app, day=None, first=None, last=None, graph=False, out=out.append) == 1
    assert out == ["verdict: NOTHING VERIFIED: there is no evidence manifest in the range"]
    with pytest.raises(SystemExit, match="either --date or --from/--to"):
        main(app, day="2026-11-26", first="2026-11-01", last=None, graph=False)
    with pytest.raises(SystemExit, match="is not a date"):
        main(app, day="26/11/2026", first=None, last=None, graph=False)
    with pytest.raises(SystemExit, match="is after --to"):
        main(app, day=None, first="2026-11-27", last="2026-11-26", graph=False)
    app.close()
