"""import_export against a real Azurite: hostile uploads, encodings, the report, re-imports, links."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from shared import names
from shared.adapters.chat_export_zip import ExportArchive, ExportRejected, ZipLimits
from shared.bootstrap import Archiver
from shared.domain.items import parse_item
from shared.pipeline.chat_import_job import ImportRefused
from shared.settings import load_settings
from tests.chat_export.fixtures import FIXTURES, JPG, make_zip
from tests.chat_export.test_idempotency import chats, render

OWNER = "exporter@contoso.com"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(storage_connection):
    a = Archiver(load_settings(AzureWebJobsStorage=storage_connection, DEFAULT_PHONE_REGION="GB"))
    a.ensure_storage()
    yield a
    a.close()


def _write(tmp_path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _raw_items(app) -> dict[str, dict]:
    out = {}
    for name in app.blobs.list(names.RAW, prefix="imports/"):
        item = json.loads(app.blobs.get(names.RAW, name))
        out[item["id"]] = item
    return out


def _fixture_zip(tmp_path, key: str) -> Path:
    upload, text, media, _order, platform = FIXTURES[key]
    return _write(tmp_path, upload, make_zip(text, media, platform=platform, chat=upload[19:-4]))


# ------------------------------------------------------------------ report and storage
@pytest.mark.parametrize("key", sorted(FIXTURES))
def test_each_fixture_is_stored_raw_queued_and_every_line_accounted(app, tmp_path, key):
    report = app.import_export(_fixture_zip(tmp_path, key), owner=OWNER, zone="Europe/London")
    data = report.to_json()
    assert data["every_line_accounted"], data
    assert data["lines_read"] == len(FIXTURES[key][1].splitlines())
    stored = _raw_items(app)
    assert len(stored) == report.records == report.items_new
    assert app.queues.depth(names.ITEMS_QUEUE) == report.records
    for item in stored.values():
        parsed = parse_item(item)
        assert parsed.source == "chat_export"
        assert parsed.provenance["time zone"].startswith("Europe/London")
        assert OWNER in {p.email for p in parsed.participants}  # the owner is on every record
    kept = json.loads(app.blobs.get(names.IMPORTS, f"{OWNER}/{FIXTURES[key][0]}.report.json"))
    assert kept["status"] == "imported" and kept["records"] == report.records


def test_attachments_are_hashed_stored_and_missing_ones_named(app, tmp_path):
    report = app.import_export(_fixture_zip(tmp_path, "ios_en_us"), owner=OWNER)
    assert report.attachments_matched == 3
    assert report.attachments_missing == ["00000050-PHOTO-missing.jpg"]

    assert app.blobs.get(names.ATTACHMENTS, hashlib.sha256(JPG).hexdigest()) == JPG
    card = [i for i in _raw_items(app).values() if i.get("contacts")][0]
    assert card["contacts"] == [{"name": "Tom Rivers", "phones": ["+44 7700 900555"]}]


def test_importing_the_same_export_again_stores_nothing_new(app, tmp_path):
    path = _fixture_zip(tmp_path, "android_en_gb")
    first = app.import_export(path, owner=OWNER)
    before = _raw_items(app)
    first_messages = _drain_items(app)
    again = app.import_export(path, owner=OWNER)
    assert again.items_new == 0 and again.items_already_imported == first.records
    assert _raw_items(app) == before
    # a new item rides in its message (no raw/ read at convert); a re-queued one points at the blob kept
    assert len(first_messages) == first.records
    for m in first_messages:
        assert base64.b64decode(m["raw_b64"]) == app.blobs.get(names.RAW, m["raw_blob"])
    again_messages = _drain_items(app)
    assert len(again_messages) == again.records and not any("raw_b64" in m for m in again_messages)


def _drain_items(app) -> list[dict]:
    out = []
    while batch := app.queues.receive(names.ITEMS_QUEUE, max_messages=32):
        for msg in batch:
            out.append(json.loads(msg.body))
            app.queues.delete(msg)
    return out



def test_a_long_export_tracks_its_items_a_transaction_per_hundred_each_row_before_its_message(app, tmp_path):
    text = "".join(f"01/02/2023, 10:{i % 60:02d} - Bob: line {i}\n" for i in range(250))
    path = _write(tmp_path, "WhatsApp Chat with Bob.txt", text.encode())
    batches, items_pulled = [], app.tracking.items_pulled

    def record(day, rows):
        assert app.queues.depth(names.ITEMS_QUEUE) == sum(batches)  # the batch's messages come after its rows
        batches.append(len(rows))
        items_pulled(day, rows)

    app.tracking.items_pulled = record
    report = app.import_export(path, owner=OWNER)
    assert report.records == 250 and batches == [100, 100, 50]
    assert app.queues.depth(names.ITEMS_QUEUE) == 250
    for m in _drain_items(app):
        row = app.tracking.get_item(report.report_date, m["item_id"])
        assert row["stage"] == "pulled" and row["raw_blob"] == m["raw_blob"] and row["item_type"] == "message"


A_TEXT = "\n".join(["01/02/2023, 10:00 - Bob: first", "01/02/2023, 10:01 - Bob: stays", "01/02/2023, 10:01 - Bob: to be deleted",
                    "01/02/2023, 10:02 - Bob: typo", "01/02/2023, 10:03 - Bob: <Media omitted>",
                    "01/02/2023, 10:03 - Bob: <Media omitted>"])
B_TEXT = "\n".join(["01/02/2023, 10:00 - Bob: first", "01/02/2023, 10:01 - Bob: stays",
                    "01/02/2023, 10:01 - Bob: This message was deleted",
                    "01/02/2023, 10:02 - Bob: fixed <This message was edited>", "01/02/2023, 10:03 - Bob: <Media omitted>",
                    "01/02/2023, 10:03 - Bob: <Media omitted>", "02/02/2023, 09:00 - Bob: new one"])


@pytest.mark.parametrize("order", ["A then B", "B then A"])
def test_a_later_export_adds_only_what_is_new_and_links_deletions_and_edits(app, tmp_path, order):
    a = _write(tmp_path, "WhatsApp Chat with Bob.txt", A_TEXT.encode())
    b = _write(tmp_path, "WhatsApp Chat with Bob (1).txt", B_TEXT.encode())
    first, second = (a, b) if order == "A then B" else (b, a)
    app.import_export(first, owner=OWNER)
    read, get_if_exists = [], app.blobs.get_if_exists
    app.blobs.get_if_exists = lambda c, n: (read.append(n) if c == names.RAW else None) or get_if_exists(c, n)
    app.import_export(second, owner=OWNER)
    items = _raw_items(app)
    texts = sorted(i["text"] for i in items.values())
    # every message of both exports once: the original, its tombstone, the typo and its edit, two media, the rest
    assert texts == sorted(["first", "stays", "to be deleted", "This message was deleted", "typo",
                            "fixed <This message was edited>", "<Media omitted>", "<Media omitted>", "new one"])
    by_text = {i["text"]: i for i in items.values()}
    deletion = by_text["This message was deleted"]
    assert deletion["type"] == "deletion"
    edit = by_text["fixed <This message was edited>"]
    if order == "A then B":
        assert deletion["target_id"] == by_text["to be deleted"]["id"]
        assert edit["type"] == "edit" and edit["target_id"] == by_text["typo"]["id"]
        # the slot look-up reads only the earlier messages this export no longer shows, not those still in it
        assert sorted(read) == sorted(n for n in app.blobs.list(names.RAW, prefix="imports/")
                                      if json.loads(app.blobs.get(names.RAW, n))["text"] in ("to be deleted", "typo"))
    else:  # B came first: its tombstone had nothing to point at, and says so
        assert "no earlier import" in deletion["provenance"]["deleted"]
    assert by_text["to be deleted"]["type"] == "message"  # the original is never replaced


# ------------------------------------------------------------------ hostile and odd uploads
def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


CHAT = "[1/11/23, 16:12:05] Bob: hi\r\n".encode()


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("entries, why", [
    ([("_chat.txt", CHAT), ("../evil.jpg", b"x")], "'..'"),
    ([("_chat.txt", CHAT), ("/etc/passwd", b"x")], "absolute"),
    ([("_chat.txt", CHAT), ("C:/x.jpg", b"x")], "absolute"),
    ([("_chat.txt", CHAT), (_symlink("link.jpg"), b"/etc/passwd")], "symbolic link"),
    ([("_chat.txt", CHAT), ("bomb.bin", b"\0" * (8 * 1024 * 1024))], "zip bomb"),
    ([("_chat.txt", CHAT)] + [(f"f{i}.jpg", b"x") for i in range(30)], "IMPORT_MAX_ENTRIES"),
    ([("photo.jpg", b"x")], "no chat text"),
])
def test_hostile_zips_are_refused_with_a_reason(tmp_path, entries, why):
    path = _write(tmp_path, "WhatsApp Chat - X.zip", _zip(entries))
    with pytest.raises(ExportRejected) as caught:
        ExportArchive(path, ZipLimits(max_entries=20, max_ratio=100))
    assert why in caught.value.reason


def test_a_refused_upload_writes_a_report_and_imports_nothing(app, tmp_path):
    path = _write(tmp_path, "WhatsApp Chat - X.zip", _zip([("_chat.txt", CHAT), ("../evil", b"x")]))
    with pytest.raises(ImportRefused):
        app.import_export(path, owner=OWNER)
    kept = json.loads(app.blobs.get(names.IMPORTS, f"{OWNER}/WhatsApp Chat - X.zip.report.json"))
    assert kept["status"] == "rejected" and "'..'" in kept["reason"]
    assert _raw_items(app) == {}


def test_a_text_that_is_not_an_export_is_refused(app, tmp_path):
    path = _write(tmp_path, "notes.txt", b"Dear team,\nplease find attached: the numbers.\n" * 20)
    with pytest.raises(ImportRefused) as caught:
        app.import_export(path, owner=OWNER)
    assert "not a WhatsApp 'Export chat' text" in caught.value.reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp1252", "utf-8-sig"])
def test_utf16_cp1252_and_bom_texts_are_read(app, tmp_path, encoding):
    text = "[20.06.19, 15:58:47] Jörg: Grüße, café\r\n[20.06.19, 15:59:00] Jörg: zweite\r\n"
    path = _write(tmp_path, "WhatsApp Chat - Jörg.zip", make_zip(text, {}, encoding=encoding))
    report = app.import_export(path, owner=OWNER)
    assert report.records == 2 and report.not_understood_count == 0
    assert sorted(i["text"] for i in _raw_items(app).values()) == ["Grüße, café", "zweite"]


def test_a_bad_owner_or_zone_is_an_actionable_error(app, tmp_path):
    path = _fixture_zip(tmp_path, "android_nl")
    with pytest.raises(ValueError, match="not a mailbox address"):
        app.import_export(path, owner="not-an-address")
    with pytest.raises(ValueError, match="IANA"):
        app.import_export(path, owner=OWNER, zone="Mars/Base")


def test_cli_json_report(storage_connection, tmp_path):
    path = _fixture_zip(tmp_path, "android_es_12h")
    env = {**os.environ, "AzureWebJobsStorage": storage_connection, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "shared", "import-export", str(path), "--owner", OWNER,
                          "--timezone", "Europe/Madrid", "--json"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["platform"] == "android" and data["date_order"] == "dmy" and data["timezone"] == "Europe/Madrid"
    assert data["records_by_kind"] == {"deleted": 1, "omitted": 1, "text": 2}
    assert data["locale_guess"].startswith("es")


def test_owner_verified_is_trusted_only_for_items_the_import_stored():
    from shared.domain.directory import UserStatus
    from shared.domain.mapping_file import parse_mapping_csv
    from shared.domain.mapping_rule import map_item

    item = parse_item({"id": "x", "type": "message", "captured_at": "2024-01-01T00:00:00Z",
                       "sent_at": "2024-01-01T00:00:00Z", "conversation": {"id": "c", "kind": "direct"},
                       "sender": {"user_id": "chat-export-owner", "email": OWNER, "owner_verified": True},
                       "recipients": []})
    valid = {OWNER: UserStatus(address=OWNER, exists=True, enabled=True, has_mailbox=True)}
    empty = parse_mapping_csv(b"", "GB")
    assert map_item(item, empty, valid, "GB", trust_owner=True).participants[0].via == "import_owner"
    assert map_item(item, empty, valid, "GB", trust_owner=False).participants[0].via == "email"


def test_a_file_dropped_in_imports_is_imported_once_with_its_report_beside_it(app, tmp_path):
    upload, text, media, _order, platform = FIXTURES["android_nl"]
    name = f"{OWNER}/{upload}"
    app.blobs.put(names.IMPORTS, name, make_zip(text, media, platform=platform, chat="Jan"))
    report = app.import_uploaded(f"{names.IMPORTS}/{name}")  # what the blob trigger hands over
    assert report is not None and report.records == 3
    kept = json.loads(app.blobs.get(names.IMPORTS, name + ".report.json"))
    assert kept["status"] == "imported" and kept["owner"] == OWNER
    assert app.import_uploaded(f"{names.IMPORTS}/{name}") is None  # Event Grid delivered it twice
    assert app.import_uploaded(f"{names.IMPORTS}/{name}.report.json") is None
    app.blobs.put(names.IMPORTS, "no-owner-folder.zip", b"x")
    assert app.import_uploaded(f"{names.IMPORTS}/no-owner-folder.zip") is None
    assert len(_raw_items(app)) == 3


def test_a_hostile_file_dropped_in_imports_gets_a_rejection_report(app):
    name = f"{OWNER}/WhatsApp Chat - X.zip"
    app.blobs.put(names.IMPORTS, name, _zip([("_chat.txt", CHAT), ("../../etc/passwd", b"x")]))
    assert app.import_uploaded(name) is None
    kept = json.loads(app.blobs.get(names.IMPORTS, name + ".report.json"))
    assert kept["status"] == "rejected" and "'..'" in kept["reason"]


def test_per_file_and_total_inflated_sizes_are_limited(tmp_path):
    noise = os.urandom(300_000)  # incompressible: the ratio guard stays out of the way
    path = _write(tmp_path, "WhatsApp Chat - X.zip", _zip([("_chat.txt", CHAT), ("a.jpg", noise), ("b.jpg", noise)]))
    with pytest.raises(ExportRejected, match="IMPORT_MAX_FILE_BYTES"):
        ExportArchive(path, ZipLimits(max_file_bytes=200_000))
    with pytest.raises(ExportRejected, match="IMPORT_MAX_TOTAL_BYTES"):
        ExportArchive(path, ZipLimits(max_total_bytes=500_000))
    ExportArchive(path, ZipLimits(max_file_bytes=400_000, max_total_bytes=700_000)).close()  # within limits: fine


def test_an_entry_whose_header_understates_its_size_cannot_inflate_past_the_limit(tmp_path):
    big = b"[1/11/23, 16:12:05] Bob: hi\r\n" * 20_000
    data = bytearray(_zip([("_chat.txt", big)]))
    # rewrite the declared uncompressed size (local header and central directory) to 1 KiB
    real = len(big).to_bytes(4, "little")
    data = bytes(data).replace(real, (1024).to_bytes(4, "little"))
    path = _write(tmp_path, "WhatsApp Chat - X.zip", data)
    with pytest.raises(ExportRejected, match="corrupt|inflates"):
        with ExportArchive(path, ZipLimits(max_file_bytes=100_000)) as archive:
            for _ in archive.lines():
                pass


def test_a_chat_folder_under_the_owner_names_the_chat_whatever_the_file_is_called(app):
    upload, text, media, _order, platform = FIXTURES["android_nl"]
    data = make_zip(text, media, platform=platform, chat="Jan")
    app.blobs.put(names.IMPORTS, f"{OWNER}/Team Jan/first.zip", data)
    first = app.import_uploaded(f"{OWNER}/Team Jan/first.zip")
    app.blobs.put(names.IMPORTS, f"{OWNER}/Team Jan/renamed later.zip", data)
    again = app.import_uploaded(f"{OWNER}/Team Jan/renamed later.zip")
    assert first.chat == again.chat == "Team Jan"
    assert again.items_new == 0 and again.items_already_imported == first.records


@hsettings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=chats(), reverse=st.booleans())
def test_importing_a_and_a_longer_b_in_either_order_stores_exactly_bs_messages_once(app, tmp_path, case, reverse):
    import uuid

    msgs, cut, crlf = case
    owner = f"u{uuid.uuid4().hex[:12]}@contoso.com"  # each example its own owner: its own raw prefix
    a = _write(tmp_path, f"WhatsApp Chat with Bob {uuid.uuid4().hex[:6]}.txt", render(msgs[:cut], crlf).encode())
    b = _write(tmp_path, f"WhatsApp Chat with Bob {uuid.uuid4().hex[:6]}.txt", render(msgs, crlf).encode())
    first, second = (b, a) if reverse else (a, b)
    app.import_export(first, owner=owner, chat="Bob", store_upload=False)
    app.import_export(second, owner=owner, chat="Bob", store_upload=False)
    prefix = "imports/" + hashlib.sha256(owner.encode()).hexdigest()[:16] + "/"
    stored = [json.loads(app.blobs.get(names.RAW, n))["id"] for n in app.blobs.list(names.RAW, prefix=prefix)]
    alone = app.import_export(b, owner=owner, chat="Bob", store_upload=False)  # B again: all already there
    assert len(stored) == len(set(stored)) == alone.records == alone.items_already_imported


def test_a_feed_items_own_source_or_provenance_fields_never_reject_it():
    base = {"id": "x", "type": "message", "captured_at": "2024-01-01T00:00:00Z", "sent_at": "2024-01-01T00:00:00Z",
            "conversation": {"id": "c", "kind": "direct"}, "recipients": [],
            "sender": {"phone": "+447700900123", "owner_verified": "yes"}}
    item = parse_item({**base, "source": {"vendor": 1}, "provenance": ["x"]})
    assert (item.source, item.provenance, item.sender.owner_verified) == (None, None, None)


def test_a_chat_text_named_in_an_unknown_language_is_still_found(app, tmp_path):
    text = "12.03.2022, 14:08 - Иван: Привет\n12.03.2022, 14:09 - Иван: как дела\n"
    path = _write(tmp_path, "Чат WhatsApp с Иван.zip", _zip([("Чат WhatsApp с Иван.txt", text.encode())]))
    report = app.import_export(path, owner=OWNER, chat="Иван")
    assert report.records == 2 and report.chat == "Иван"
