"""`python -m shared convert`: run as a user would, in a subprocess, with no storage or network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shared.domain.record import message_id_for
from tests.domain.record_checks import assert_headers_single_line, file_parts, omitted_parts, parse
from tests.domain.record_samples import BLOBS, RAW, sha

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobs", "FEED_", "GRAPH_"))}
    return subprocess.run([str(PYTHON if PYTHON.exists() else sys.executable), "-m", "shared", "convert", *args],
                          cwd=ROOT, capture_output=True, timeout=120, env=env)


def write_item(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(RAW[name]), encoding="utf-8")
    return path


def test_prints_the_eml(tmp_path: Path) -> None:
    result = run(str(write_item(tmp_path, "message_text")))
    assert result.returncode == 0, result.stderr.decode()
    assert_headers_single_line(result.stdout)
    msg = parse(result.stdout)
    assert str(msg["Message-ID"]).strip() == message_id_for("tm-0001")
    assert msg["From"].addresses[0].addr_spec == "alice@contoso.com"  # the email property, without a mapping


def test_attachments_from_a_folder_by_id_or_sha256(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "att-1").write_bytes(BLOBS["photo"])  # by attachment id
    (folder / sha(BLOBS["pdf"])).write_bytes(BLOBS["pdf"])  # by sha256
    (folder / "att-2").write_bytes(b"not the video")  # wrong bytes: never embedded
    result = run(str(write_item(tmp_path, "message_attachments")), "--attachments", str(folder))
    assert result.returncode == 0, result.stderr.decode()
    msg = parse(result.stdout)
    assert sorted(str(p["X-WhatsApp-Attachment-Id"]).strip() for p in file_parts(msg)) == ["att-1", "att-5"]
    assert len(omitted_parts(msg)) == 4
    assert b"att-2 not embedded (sha256-mismatch)" in result.stderr


def test_html_and_timezone(tmp_path: Path) -> None:
    out = tmp_path / "body.html"
    result = run(str(write_item(tmp_path, "message_text")), "--html", str(out), "--timezone", "Asia/Tokyo")
    assert result.returncode == 0, result.stderr.decode()
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "2026-11-22 18:15:02 JST (Asia/Tokyo, UTC+09:00)" in page
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page


def test_rejected_item_exits_1_with_the_reason(tmp_path: Path) -> None:
    bad = dict(RAW["edit"])
    del bad["target_id"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    result = run(str(path))
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"rejected" in result.stderr and b"target_id" in result.stderr


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(b"\xff\xfe not json")
    assert run(str(path)).returncode == 1
    assert run(str(tmp_path / "absent.json")).returncode == 2
