"""From an export zip to records in the owner's mailbox on the local Graph server, exactly once."""

from __future__ import annotations

import hashlib

import pytest

from devtools.local_world import start_world
from shared.cli.run import drain_all
from tests.chat_export.fixtures import FIXTURES, JPG, make_zip
from tests.e2e.oracle import FOLDER, archive_id, fact

OWNER = "exporter@contoso.com"


@pytest.fixture
def world(storage_connection):
    with start_world(storage_connection=storage_connection,
                     overrides={"DELIVERY_CLAIM_SECONDS": "5", "DEFAULT_PHONE_REGION": "GB"}) as w:
        w.graph.add_user(OWNER, display_name="Exporter")
        yield w


def _landed(world, address=OWNER):
    return world.graph.mailbox(address).get(FOLDER, [])


def _zip(tmp_path, key: str, text: str | None = None):
    upload, fixture_text, media, _order, platform = FIXTURES[key]
    path = tmp_path / upload
    path.write_bytes(make_zip(text if text is not None else fixture_text, media, platform=platform, chat="Client Acme"))
    return path


@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_an_export_lands_as_one_record_per_line_in_the_owners_mailbox(world, tmp_path, key):
    app = world.archiver()
    report = app.import_export(_zip(tmp_path, key), owner=OWNER, zone="Europe/London")
    summary = drain_all(app, retry_delay_seconds=0.2)
    messages = _landed(world)
    assert summary.failed == 0 and summary.rejected == 0 and summary.unmapped == 0
    assert len(messages) == report.records == summary.delivered
    ids = [archive_id(m) for m in messages]
    assert len(set(ids)) == len(ids)
    for m in messages:
        assert m["isRead"] is True and m["isDraft"] is False
    app.close()


def test_attachments_are_embedded_and_verified(world, tmp_path):
    app = world.archiver()
    app.import_export(_zip(tmp_path, "ios_en_us"), owner=OWNER)
    drain_all(app, retry_delay_seconds=0.2)
    hashes = {a["sha256"] for m in _landed(world) for a in m["attachments"]}
    assert hashlib.sha256(JPG).hexdigest() in hashes
    app.close()


def test_importing_again_or_a_longer_export_adds_only_what_is_new(world, tmp_path):
    app = world.archiver()
    text = FIXTURES["android_en_gb"][1]
    app.import_export(_zip(tmp_path, "android_en_gb"), owner=OWNER)
    drain_all(app, retry_delay_seconds=0.2)
    first = sorted(archive_id(m) for m in _landed(world))

    app.import_export(_zip(tmp_path, "android_en_gb"), owner=OWNER)
    again = drain_all(app, retry_delay_seconds=0.2)
    assert again.delivered == 0 and sorted(archive_id(m) for m in _landed(world)) == first

    longer = text + "\n25/03/2022, 10:00 - Alice Smith: one more\n25/03/2022, 10:01 - Alice Smith: and another"
    app.import_export(_zip(tmp_path, "android_en_gb", longer), owner=OWNER)
    later = drain_all(app, retry_delay_seconds=0.2)
    now = sorted(archive_id(m) for m in _landed(world))
    assert later.delivered == 2 and len(now) == len(first) + 2 and set(first) <= set(now)
    app.close()


def test_a_colleague_whose_phone_is_mapped_gets_the_records_too(world, tmp_path):
    colleague = world.day.users[0]["address"]
    world.upload_mapping(f"External User ID,Microsoft 365 User Mailbox\n+44 7123 456789,{colleague}\n".encode())
    app = world.archiver()
    app.import_export(_zip(tmp_path, "android_en_gb"), owner=OWNER)
    drain_all(app, retry_delay_seconds=0.2)
    mine = {archive_id(m) for m in _landed(world)}
    theirs = {archive_id(m) for m in _landed(world, colleague)}
    assert theirs and theirs <= mine  # every record of the chat reaches the owner; the mapped phone gets them too
    app.close()


OWNER_LINE = "the exporting employee, named by the admin at import"


def test_a_record_says_it_came_from_the_import_with_how_it_was_read_and_who_exported_it(world, tmp_path):
    app = world.archiver()
    app.import_export(_zip(tmp_path, "android_en_gb"), owner=OWNER, zone="Europe/London")
    drain_all(app, retry_delay_seconds=0.2)
    bodies = [m["body"]["content"] for m in _landed(world)]
    assert bodies
    for body in bodies:  # the source and the provenance (time zone, the exporting employee)
        assert fact(body, "Source") == "chat_export"
        assert fact(body, "Time zone").startswith("Europe/London")
        assert fact(body, "Exported by") == OWNER
    assert any(OWNER_LINE in body for body in bodies)
    app.close()


def test_an_import_kept_unmapped_keeps_its_source_and_owner_when_reprocessed(world, tmp_path):
    from shared.pipeline.reprocess import reprocess_unmapped

    later = "joiner@contoso.com"  # not in the directory: the owner maps nobody, nor does the chat's phone yet
    colleague = world.day.users[0]["address"]
    world.upload_mapping(b"External User ID,Microsoft 365 User Mailbox\n")
    app = world.archiver()
    app.import_export(_zip(tmp_path, "android_en_gb"), owner=later, zone="Europe/London")
    first = drain_all(app, retry_delay_seconds=0.2)
    assert first.unmapped > 0 and not _landed(world, colleague)
    world.upload_mapping(f"External User ID,Microsoft 365 User Mailbox\n+44 7123 456789,{colleague}\n".encode())
    app = world.archiver()
    result = reprocess_unmapped(blobs=app.blobs, queues=app.queues, tracking=app.tracking, mapping=app.mapping,
                                directory=app.directory, region=app.settings.default_phone_region,
                                options=app.render_options)
    drain_all(app, retry_delay_seconds=0.2)
    bodies = [m["body"]["content"] for m in _landed(world, colleague)]
    assert result.now_mapped == len(bodies) > 0
    assert all(fact(body, "Source") == "chat_export" for body in bodies)
    assert all(fact(body, "Time zone").startswith("Europe/London") for body in bodies)
    assert all(fact(body, "Exported by") == later for body in bodies)
    assert any(OWNER_LINE in body for body in bodies)  # still the import's own item: its owner is still named
    app.close()
