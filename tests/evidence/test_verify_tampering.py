"""A day archived by the demo's local world verifies clean; each kind of tampering makes
`python -m shared verify` fail and name the item (or manifest) and what changed.

Azurite has no immutability policy, so it stands for a test account without the policy: here the
bytes can be changed, and verify must notice. One archived day serves every case; each test
tampers with a different item and puts back what it can.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from devtools.local_world import start_world
from shared import names
from shared.__main__ import main
from shared.cli.run import run_cycle
from shared.domain import evidence as ev
from tests.conftest import wipe_storage

FOLDER = "WhatsApp Archiver"


@pytest.fixture(scope="module")
def archived(azurite):
    """One generated day pulled, converted, delivered and reported (so its manifest written), and the next
    (empty) day's manifest after it, so the first has a successor in the chain."""
    wipe_storage(azurite.connection_string)
    with start_world(storage_connection=azurite.connection_string, overrides={"DELIVERY_CLAIM_SECONDS": "5"}) as world:
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=lambda _m: None)
        assert summary.failed == 0
        day = summary.report_date
        following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        app.write_evidence(following)
        manifest = ev.parse_manifest(app.evidence_storage.read(ev.manifest_name(day)))
        yield world, app, day, following, manifest
        app.close()


@pytest.fixture
def verify(archived, monkeypatch, capsys):
    world = archived[0]
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str]:
        code = main(["verify", *args])
        return code, capsys.readouterr().out

    return run


def blob(app, path: str):
    container, _, name = path.partition("/")
    return BlobServiceClient.from_connection_string(app.settings.storage_connection).get_blob_client(container, name)


def pick(manifest: ev.Manifest, n: int, need=lambda e: True) -> ev.ItemEntry:
    """The n-th converted item with landed copies that also meets ``need``: each test tampers with its own."""
    usable = [e for e in manifest.entries if e.records and any(c.message_id for c in e.copies) and need(e)]
    return usable[n]


def lines_about(out: str, subject: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if subject in line]


def test_a_clean_day_verifies_with_every_copy_checked_in_graph(archived, verify):
    _, _, day, following, manifest = archived
    code, out = verify("--graph")
    assert code == 0, out
    copies = {(c.mailbox, c.message_id) for e in manifest.entries for c in e.copies if c.message_id}
    assert f"{day}: CLEAN (evidence/{day}.jsonl: {len(manifest.entries)} items" in out
    assert f"{len(copies)} mailbox copies checked in Graph" in out
    assert f"{following}: CLEAN" in out and "verdict: CLEAN: 2 day(s) checked" in out
    assert len(copies) > 10


def test_a_raw_item_with_changed_bytes_is_named(archived, verify):
    app, day, manifest = archived[1], archived[2], archived[4]
    entry = pick(manifest, 0)
    original = blob(app, entry.raw.blob).download_blob().readall()
    blob(app, entry.raw.blob).upload_blob(original.replace(b'"', b"'", 1) + b" ", overwrite=True)
    try:
        code, out = verify("--date", day)
    finally:
        blob(app, entry.raw.blob).upload_blob(original, overwrite=True)
    assert code == 1
    assert f"{day}: FAILED" in out
    (line,) = lines_about(out, entry.item_id)
    assert line.startswith(f"altered bytes: {entry.item_id}: raw item {entry.raw.blob} hashes to ")
    assert verify("--date", day)[0] == 0  # put back: clean again


def test_a_removed_attachment_is_named(archived, verify):
    app, day, manifest = archived[1], archived[2], archived[4]
    entry = pick(manifest, 1, need=lambda e: e.attachments)
    attachment = entry.attachments[0]
    path = f"{names.ATTACHMENTS}/{attachment.sha256}"
    original = blob(app, path).download_blob().readall()
    blob(app, path).delete_blob()
    try:
        code, out = verify("--date", day)
    finally:
        blob(app, path).upload_blob(original, overwrite=True)
    assert code == 1
    expected = f"missing blob: {entry.item_id}: attachment {attachment.attachment_id} {path} is missing"
    assert any(line.startswith(expected) for line in lines_about(out, entry.item_id)), out


def test_an_altered_record_is_named(archived, verify):
    app, day, manifest = archived[1], archived[2], archived[4]
    entry = pick(manifest, 2)
    record = entry.records[0]
    original = blob(app, record.blob).download_blob().readall()
    blob(app, record.blob).upload_blob(original.replace(b"Subject:", b"Subject: [edited]", 1), overwrite=True)
    try:
        code, out = verify("--date", day)
    finally:
        blob(app, record.blob).upload_blob(original, overwrite=True)
    assert code == 1
    (line,) = lines_about(out, entry.item_id)
    assert line.startswith(f"altered bytes: {entry.item_id}: record {record.blob} hashes to ")


def _put_manifest(app, name: str, data: bytes, seq: int) -> None:
    blob(app, f"{names.EVIDENCE}/{name}").upload_blob(data, overwrite=True, metadata={"seq": str(seq)})


def test_an_edited_manifest_is_named_and_breaks_the_chain(archived, verify):
    app, day, following, manifest = archived[1], archived[2], archived[3], archived[4]
    name = ev.manifest_name(day)
    original = app.evidence_storage.read(name)
    entry = pick(manifest, 3)
    # hide a changed record: swap its hash in the manifest for another one
    forged = original.replace(entry.records[0].sha256.encode(), b"0" * 64)
    _put_manifest(app, name, forged, 0)
    try:
        code, out = verify()
    finally:
        _put_manifest(app, name, original, 0)
    assert code == 1
    assert f"{day}: FAILED" in out and f"{following}: FAILED" in out
    assert any(line.startswith(f"altered manifest: {name}: its item lines hash to") for line in lines_about(out, name))
    assert any(line.startswith(f"broken chain: {ev.manifest_name(following)}: names {name} with sha256 ")
               and "altered after" in line for line in lines_about(out, following)), out
    assert verify()[0] == 0


def test_a_removed_manifest_is_named(archived, verify):
    app, day, following = archived[1], archived[2], archived[3]
    name = ev.manifest_name(day)
    original = app.evidence_storage.read(name)
    blob(app, f"{names.EVIDENCE}/{name}").delete_blob()
    try:
        code, out = verify()
        ranged = verify("--from", day, "--to", following)
    finally:
        _put_manifest(app, name, original, 0)
    assert code == 1
    (line,) = lines_about(out, f"broken chain: {ev.manifest_name(following)}")
    assert line.startswith(f"broken chain: {ev.manifest_name(following)}: names {name} (sha256 ") and line.endswith("it is missing")
    assert ranged[0] == 1
    assert f"missing manifest: {name}: no manifest for this day" in ranged[1]


def _graph(world, method: str, path: str, json=None) -> httpx.Response:
    return httpx.request(method, f"{world.graph.base_url}/v1.0{path}", json=json, timeout=10)


def _copy(manifest: ev.Manifest, n: int) -> tuple[ev.ItemEntry, ev.CopyEntry]:
    entry = pick(manifest, n)
    return entry, next(c for c in entry.copies if c.message_id)


def test_a_copy_moved_out_of_the_archive_folder_is_named(archived, verify):
    world, day, manifest = archived[0], archived[2], archived[4]
    entry, copy = _copy(manifest, 4)
    user = world.graph.user_id(copy.mailbox)
    folder = next(m["parentFolderId"] for m in world.graph.mailbox(copy.mailbox)[FOLDER] if m["id"] == copy.message_id)
    assert _graph(world, "POST", f"/users/{user}/messages/{copy.message_id}/move", {"destinationId": "deleteditems"}).status_code == 201
    try:
        code, out = verify("--date", day, "--graph")
        without_graph = verify("--date", day)[0]
    finally:
        _graph(world, "POST", f"/users/{user}/messages/{copy.message_id}/move", {"destinationId": folder})
    assert code == 1 and without_graph == 0  # only Graph can see it
    (line,) = lines_about(out, entry.item_id)
    assert line.startswith(f"moved copy: {entry.item_id}: copy in {copy.mailbox} (message id {copy.message_id}) "
                           f"is not in the folder '{FOLDER}' any more")


def test_a_copy_whose_sent_time_was_changed_is_named(archived, verify):
    world, day, manifest = archived[0], archived[2], archived[4]
    entry, copy = _copy(manifest, 6)
    user = world.graph.user_id(copy.mailbox)

    def sent(value: str) -> None:
        body = {"singleValueExtendedProperties": [{"id": "SystemTime 0x0039", "value": value}]}
        assert _graph(world, "PATCH", f"/users/{user}/messages/{copy.message_id}", body).status_code == 200

    sent("2020-01-01T00:00:00Z")
    try:
        code, out = verify("--date", day, "--graph")
    finally:
        sent(entry.sent_at)
    assert code == 1
    (line,) = lines_about(out, entry.item_id)
    assert line == (f"altered copy: {entry.item_id}: copy in {copy.mailbox} (message id {copy.message_id}) "
                    f"shows sent time 2020-01-01T00:00:00Z, the item was sent {entry.sent_at}")
    assert verify("--date", day, "--graph")[0] == 0


def test_a_deleted_copy_is_named(archived, verify):
    """A user's delete (Exchange: a soft delete, the copy moves to Deleted Items) and a permanent delete."""
    world, day, manifest = archived[0], archived[2], archived[4]
    entry, copy = _copy(manifest, 5)
    user = world.graph.user_id(copy.mailbox)
    assert _graph(world, "DELETE", f"/users/{user}/messages/{copy.message_id}").status_code == 204
    code, out = verify("--date", day, "--graph")
    assert code == 1
    (line,) = lines_about(out, entry.item_id)
    assert line == (f"moved copy: {entry.item_id}: copy in {copy.mailbox} (message id {copy.message_id}) is not in the "
                    f"folder 'WhatsApp Archiver' any more (now in folder deleteditems)")
    assert _graph(world, "POST", f"/users/{user}/messages/{copy.message_id}/permanentDelete").status_code == 204
    code, out = verify("--date", day, "--graph")
    assert code == 1
    (line,) = lines_about(out, entry.item_id)
    assert line == f"missing copy: {entry.item_id}: copy in {copy.mailbox} (message id {copy.message_id}) no longer exists in the mailbox"
