"""Files whose declared size lies, or is over MAX_ATTACHMENT_BYTES: refused, named, memory bounded.

The sha256 keys a stored file, so one honest item can store a 24 MB file and a lying item can then
name the same sha256 with ``size: 0``: before issue 15 the pull called that "reused" and convert
read the whole file into memory for a record that said it was empty. Now the declared size is
compared with the bytes at the pull (download stops at the declared size) and again, before any
byte is read, at convert.
"""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from devtools.feed_server import FeedServer
from devtools.local_world import start_world
from shared import names
from shared.adapters.feed_http import HttpFeed
from shared.cli.run import run_cycle
from shared.domain.items import Attachment
from shared.pipeline.convert import BlobAttachments
from shared.pipeline.ports import AttachmentTooLarge
from tests.e2e.conftest import FAST, quiet
from tests.e2e.oracle import verdict
from tests.feed.conftest import TOKEN
from tests.hostile.helpers import MiB, expected_copies, file_entry, template, variant

BIG = 24 * MiB


def test_size_lies_and_files_over_the_cap_are_refused_and_every_other_item_lands_once(storage_connection):
    overrides = {**FAST, "MAX_ATTACHMENT_BYTES": str(2 * MiB)}
    with start_world(storage_connection=storage_connection, overrides=overrides) as world:
        tpl = template(world)
        mailboxes = world.day.expected[tpl["id"]]
        small, over = os.urandom(MiB), os.urandom(3 * MiB)
        honest = file_entry("att-honest", small)
        world.feed.add_items([
            variant(tpl, id="honest-file", attachments=[honest]),
            variant(tpl, id="lie-zero", attachments=[{**honest, "id": "att-lie-zero", "size": 0}]),
            variant(tpl, id="lie-short", attachments=[file_entry("att-lie-short", small, size=10)]),
            variant(tpl, id="over-cap", attachments=[file_entry("att-over-cap", over)]),
        ], {"att-honest": small, "att-lie-zero": small, "att-lie-short": small, "att-over-cap": over})
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)

        expected = expected_copies(world)
        expected.update({i: mailboxes for i in ("honest-file", "lie-zero", "lie-short", "over-cap")})
        v = verdict(world, expected)
        assert v.exact, str(v)
        report = app.report(summary.report_date, write=False)
        assert report.invariant_holds and report.failed == 0 and report.pending == 0
        reasons = {p.item_id: p.reason for p in report.problems if p.stage == "pull"}
        assert "AttachmentSizeMismatch" in reasons["lie-zero"] and "has 1048576" in reasons["lie-zero"]
        assert "AttachmentSizeMismatch" in reasons["lie-short"]
        assert "AttachmentTooLarge" in reasons["over-cap"] and "MAX_ATTACHMENT_BYTES" in reasons["over-cap"]
        assert "honest-file" not in reasons
        assert not [r for r in world.feed.requests if r["path"].endswith("/att-over-cap")], "a file over the cap is not downloaded"
        landed = {m["archiveItemId"]: m for m in world.graph.mailbox(next(iter(mailboxes))).get("WhatsApp Archiver", [])}
        assert [a["name"] for a in landed["honest-file"]["attachments"]] == ["report.pdf"]
        for lied in ("lie-zero", "lie-short", "over-cap"):
            names_ = [a["name"] for a in landed[lied]["attachments"]]
            assert names_ == ["report.pdf.omitted.txt"], f"{lied}: a refused file is never embedded, only named ({names_})"
        app.close()


def test_convert_checks_a_stored_files_size_before_reading_it(storage_connection):
    """A 24 MB file stored under its sha256, asked for by an item declaring 0 or 10 bytes: not read."""
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        app = world.archiver()
        data = os.urandom(BIG)
        entry = file_entry("att-big", data)
        app.blobs.put(names.ATTACHMENTS, entry["sha256"], data)
        del data
        source = BlobAttachments(app.blobs)
        for declared in (0, 10):
            tracemalloc.start()
            try:
                got = source.read(Attachment.model_validate({**entry, "size": declared}))
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert got is None
            assert peak < MiB, f"declared {declared}: peak {peak / MiB:.1f} MiB reading a {BIG // MiB} MiB blob"
        assert len(source.read(Attachment.model_validate(entry))) == BIG
        app.close()


def test_a_download_stops_at_the_size_it_may_have(sample):
    data = os.urandom(4 * MiB)
    with FeedServer(sample.items, {"att-x": data}, token=TOKEN) as server, HttpFeed(server.base_url, TOKEN) as feed:
        sink = io.BytesIO()
        with pytest.raises(AttachmentTooLarge):
            feed.download_attachment("att-x", sink, max_bytes=10)
        assert sink.getvalue() == b"", "nothing partial is left behind"
        assert feed.download_attachment("att-x", io.BytesIO(), max_bytes=len(data)) == len(data)


def test_memory_stays_bounded_while_converting_items_of_a_size_lying_feed(storage_connection):
    """Six items name a 24 MiB file kept from an earlier day, declaring it 0 or 10 bytes: converting
    them never holds the file (traced: the conversions alone; the whole day then lands exactly once)."""
    from shared import names as n
    from shared.cli.run import drain_all
    from shared.domain.items import capture_day, parse_item
    from shared.pipeline import convert
    from shared.pipeline.messages import ItemMessage, item_key

    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        tpl = template(world)
        data = os.urandom(BIG)
        kept = file_entry("att-kept", data)
        liars = [variant(tpl, id=f"liar-{k}", attachments=[{**kept, "id": f"att-liar-{k}", "size": size}])
                 for k, size in enumerate((0, 10, 0, 10, 0, 10))]
        world.feed.add_items(liars, {f"att-liar-{k}": data for k in range(6)})
        app = world.archiver()
        app.blobs.put(n.ATTACHMENTS, kept["sha256"], data)  # stored by an honest item of an earlier day
        del data
        pulled = app.pull()
        assert pulled.attachments_corrupt == 6

        def convert_liar(k: int) -> str:
            day = capture_day(parse_item(liars[k]).captured_at)
            message = ItemMessage(item_id=f"liar-{k}", raw_blob=f"{day}/{item_key(f'liar-{k}')}.json",
                                  report_date=pulled.report_date, run_id=pulled.run_id)
            return convert.convert_item(message, blobs=app.blobs, queues=app.queues, tracking=app.tracking,
                                        mapping=app.mapping, directory=app.directory,
                                        region=app.settings.default_phone_region, options=app.render_options).status

        assert convert_liar(0) == "converted"  # warms the mapping file and directory caches
        tracemalloc.start()
        try:
            assert [convert_liar(k) for k in range(1, 6)] == ["converted"] * 5
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"peak traced memory converting 5 items that name a {BIG // MiB} MiB file as 0 or 10 bytes: "
              f"{peak / MiB:.2f} MiB")
        assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB: a lying size made convert read the {BIG // MiB} MiB file"

        summary = drain_all(app, retry_delay_seconds=0.2)  # the day, the liars again (idempotent) included
        assert summary.poisoned == 0
        expected = expected_copies(world)
        expected.update({f"liar-{k}": world.day.expected[tpl["id"]] for k in range(6)})
        assert verdict(world, expected).exact
        app.close()
