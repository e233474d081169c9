"""Transcript mode end to end: one transcript per conversation per day in each mailbox, holding
exactly the items that mailbox took part in, landed once, with a report whose arithmetic closes.

The expectation comes from the generated day (``SampleDay.expected``), not from the archiver.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser

from shared import names
from shared.cli.run import drain_all, run_cycle
from shared.domain.record.transcript import TRANSCRIPT_CLASS
from tests.e2e.conftest import quiet
from tests.e2e.oracle import FOLDER


def expected_transcripts(world) -> dict[str, dict[tuple[str, str], set[str]]]:
    """mailbox -> (conversation id, capture day) -> the item ids it must hold."""
    out: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    raw = {i["id"]: i for i in world.day.items if isinstance(i.get("id"), str)}
    for item_id, mailboxes in world.day.expected.items():
        if not mailboxes:
            continue
        item = raw[item_id]
        day = datetime.fromisoformat(item["captured_at"].replace("Z", "+00:00")).astimezone(timezone.utc).date().isoformat()
        for mailbox in mailboxes:
            out[mailbox.lower()][(item["conversation"]["id"], day)].add(item_id)
    return out


def archived(world, app) -> dict[str, list[tuple[str, set[str], dict]]]:
    """mailbox -> [(archive id, item ids of the stored transcript, the Graph message)]."""
    blobs = {name.rsplit("/", 1)[-1][: -len(".eml")]: name for name in app.blobs.list(names.MIME, prefix="transcripts/")}
    out: dict[str, list] = {}
    for user in world.day.users:
        address = user["address"].lower()
        rows = []
        for message in world.graph.mailbox(address).get(FOLDER, []):
            archive_id = message["archiveItemId"]
            eml = BytesParser(policy=policy.default).parsebytes(app.blobs.get(names.MIME, blobs[archive_id]))
            rows.append((archive_id, set(eml.get_all("X-WhatsApp-Item-Id")), message, eml))
        out[address] = rows
    return out


def test_each_mailbox_gets_one_transcript_per_conversation_day_with_exactly_its_items_once(world):
    app = world.archiver(TRANSCRIPT_MODE="true")
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    want = expected_transcripts(world)
    got = archived(world, app)

    assert summary.transcripts > 0 and summary.failed == 0
    for address, rows in got.items():
        expected = want.get(address, {})
        assert len(rows) == len(expected), (address, len(rows), len(expected))
        held = sorted(sorted(ids) for _a, ids, _m, _e in rows)
        assert held == sorted(sorted(ids) for ids in expected.values()), address
        for archive_id, ids, message, eml in rows:
            assert message["itemClass"] == TRANSCRIPT_CLASS and message["isDraft"] is False
            assert eml["X-WhatsApp-Item-Count"] == str(len(ids))
            body = message["body"]["content"]
            assert all(item_id in body for item_id in ids), archive_id  # every item shown in what landed
    assert sum(len(v) for v in want.values()) == sum(len(r) for r in got.values())

    report = app.report(summary.report_date, write=False)
    assert report.invariant_holds and report.complete, report.to_json()["summary"]
    assert report.copies == report.imported + report.partial == sum(len(r) for r in got.values())
    assert report.items_available == len(world.day.items)
    assert report.converted == sum(1 for ids in world.day.expected.values() if ids)
    assert report.staged == 0

    # a second cycle (same window pulled again: watermark forgotten) lands nothing twice
    before = Counter((a, m["archiveItemId"]) for a, rows in got.items() for _x, _i, m, _e in rows)
    app.tables.client(names.CHECKPOINTS_TABLE).delete_entity("feed", "watermark")
    again = world.archiver(TRANSCRIPT_MODE="true")
    second = run_cycle(again, retry_delay_seconds=0.2, progress=quiet)
    after = Counter((a, m["archiveItemId"]) for a, rows in archived(world, again).items() for _x, _i, m, _e in rows)
    assert after == before and max(after.values()) == 1
    assert second.delivered == 0 and second.failed == 0
    report = again.report(second.report_date, write=False)
    assert report.invariant_holds and report.failed == 0 and report.pending == 0
    app.close()
    again.close()


def test_transcript_mode_off_by_default_writes_no_staged_or_transcript_blobs(world):
    app = world.archiver()
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert not list(app.blobs.list(names.MIME, prefix="staged/"))
    assert not list(app.blobs.list(names.MIME, prefix="transcripts/"))
    app.close()


def test_a_day_is_built_only_once_complete_and_its_transcripts_hold_items_from_every_pull(world):
    app = world.archiver(TRANSCRIPT_MODE="true")
    noon = datetime.combine(world.day.day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=12)
    first = app.pull(now=lambda: noon)  # the feed so far: the morning of the day
    assert first.items > 0
    drain_all(app, retry_delay_seconds=0.2)
    assert not any(rows for rows in archived(world, app).values())  # the day is not over: nothing delivered yet
    morning = app.report(first.report_date, write=False)
    assert morning.staged > 0 and not morning.complete and morning.invariant_holds and morning.copies == 0
    assert "waiting for their day's transcript" in morning.to_json()["summary"]

    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)  # the rest of the day: now complete
    want = expected_transcripts(world)
    got = archived(world, app)
    for address, rows in got.items():
        assert sorted(sorted(ids) for _a, ids, _m, _e in rows) == sorted(sorted(i) for i in want.get(address, {}).values())
    for report_date in (first.report_date, summary.report_date):
        report = app.report(report_date, write=False)
        assert report.invariant_holds and report.complete and report.staged == 0 and report.failed == 0
    # each transcript copy counts once, in the report day of the latest pull that brought one of its items
    copies = sum(app.report(d, write=False).copies for d in {first.report_date, summary.report_date})
    assert copies == sum(len(r) for r in got.values())
    app.close()
