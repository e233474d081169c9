"""A day carrying hostile items: every other item lands exactly once in the same run, the hostile
ones are rejected or partially imported with their reasons in the report, and the log stays clean.

The feed serves the generated day (tests/e2e) plus items a compromised or buggy capture service
could send: an id of 70,000 characters, a valid item whose attachment id is 40,000 characters and
answered 404 (and one of 70,000, too long for any URL), a file declared as 10 bytes and served as 2 MB, an id with line breaks and terminal
escapes, and an item re-sent in the next window with different text.
"""

from __future__ import annotations

import logging
import os

from devtools.local_world import start_world
from shared import names
from shared.cli.run import run_cycle
from shared.domain.items import ItemRejected, parse_item
from shared.domain.record.ids import message_id_for
from shared.pipeline.messages import item_key
from tests.e2e.conftest import FAST, quiet
from tests.e2e.oracle import verdict
from tests.hostile.helpers import MiB, expected_copies, file_entry, mime_of, template, tracking_rows, variant

LONG_ID = "L" * 70_000
HUGE_ATTACHMENT_ID = "A" * 40_000
def baseline_rejected(world) -> int:
    """Items of the generated day itself that break the contract (the generator includes some)."""
    n = 0
    for raw in world.day.items:
        try:
            parse_item(raw)
        except ItemRejected:
            n += 1
    return n


FORGED = "evil-id\nCRITICAL root: forged log line\r\x1b[31mred"


def test_hostile_items_are_rejected_or_partial_and_every_other_item_lands_once(storage_connection, caplog):
    caplog.set_level(logging.INFO)
    with start_world(storage_connection=storage_connection, overrides={**FAST, "MAX_WINDOW_HOURS": "6"}) as world:
        tpl = template(world)
        mailboxes = world.day.expected[tpl["id"]]
        lie = os.urandom(2 * MiB)
        world.feed.add_items([
            variant(tpl, id=LONG_ID, attachments=[]),
            variant(tpl, id="hostile-404-attachment", attachments=[file_entry(HUGE_ATTACHMENT_ID, b"never served")]),
            variant(tpl, id="hostile-url-too-long", attachments=[file_entry(LONG_ID, b"no URL can name it")]),
            variant(tpl, id="hostile-size-lie", attachments=[file_entry("att-size-lie", lie, size=10)]),
            variant(tpl, id=FORGED, attachments=[]),
        ], {"att-size-lie": lie})
        first = min((i for i in world.day.items if i["type"] == "message" and world.day.expected.get(i["id"])),
                    key=lambda i: i["captured_at"])
        world.feed.repeat_item_in_next_window(first["id"], changes={"text": "the source changed this text"})

        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)

        rows = {r["item_id"]: r for r in tracking_rows(app, summary.report_date)}
        resent = [r for r in rows.values() if r.get("resent_of") == first["id"]]
        assert len(resent) == 1, "the changed re-send is its own item, linked to the first"
        expected = expected_copies(world)
        expected.update({"hostile-404-attachment": mailboxes, "hostile-url-too-long": mailboxes, "hostile-size-lie": mailboxes, FORGED: mailboxes,
                         resent[0]["item_id"]: expected[first["id"]]})
        v = verdict(world, expected)
        assert v.exact, str(v)

        report = app.report(summary.report_date, write=False)
        assert report.invariant_holds and report.failed == 0 and report.pending == 0, report.to_json()["summary"]
        assert report.imported + report.partial == v.copies_found
        assert summary.poisoned == 0
        # the 70,000-character id: rejected with the reason, its id bounded (with a hash of the whole) in the report
        assert report.rejected == baseline_rejected(world) + 1
        rejected = [p for p in report.problems if p.reason.startswith("rejected:") and p.item_id.startswith("LLL")]
        assert len(rejected) == 1 and "id" in rejected[0].reason and "200" in rejected[0].reason
        assert len(rejected[0].item_id) <= 256 and "70000 chars sha256:" in rejected[0].item_id
        # the 404 file and the size lie: the records land partially imported, the reasons in the report
        assert report.attachments_corrupt == 3 and report.partial == 3 * len(mailboxes)
        pull_problems = {p.item_id: p.reason for p in report.problems if p.stage == "pull"}
        assert "404" in pull_problems["hostile-404-attachment"]
        assert "no valid URL" in pull_problems["hostile-url-too-long"]
        assert "AttachmentSizeMismatch" in pull_problems["hostile-size-lie"]
        assert not app.blobs.exists(names.ATTACHMENTS, file_entry("x", lie)["sha256"]), "bytes of the wrong size are never kept"
        # the changed re-send: reported, counted, archived as its own record linked to the first
        assert report.resent_changed == 1
        assert any("re-sent item" in p.reason and p.item_id == resent[0]["item_id"] for p in report.problems)
        eml = mime_of(app, item_key(resent[0]["item_id"]))
        head = eml.split(b"\r\n\r\n", 1)[0].decode()
        assert f"X-WhatsApp-Resent-Of: {first['id']}" in head
        assert message_id_for(first["id"]) in head.split("References:", 1)[1]
        assert "re-sent this item with different content" in head
        assert b"the source changed this text" in eml or b"changed this text" in eml.replace(b"=\r\n", b"")
        first_eml = mime_of(app, item_key(first["id"]))
        assert b"the source changed this text" not in first_eml.replace(b"=\r\n", b""), "the first record is unchanged"
        # the run: succeeded, watermark moved, run record says so
        runs = app.checkpoints.runs()
        assert [r["status"] for r in runs] == ["succeeded"]
        assert app.checkpoints.watermark() is not None
        app.close()

    messages = [r.getMessage() for r in caplog.records]
    assert not any("\nCRITICAL root: forged" in m or "\r" in m or "\x1b" in m for m in messages), "an id forged a log line"
    assert max(len(m) for m in messages) < 4000, "an id flooded the log"
    assert not any(r.name.startswith(("httpx", "httpcore", "azure")) and r.levelno < logging.WARNING for r in caplog.records)
    assert not any("$filter" in m or "tempauth" in m.lower() for m in messages), "a Graph URL reached the log"
