"""`python -m shared mapping check|upload`: exit codes, line numbers, masked numbers, the upload."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from shared.cli.mapping import upload_main
from shared.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"


def check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DEFAULT_PHONE_REGION"}
    return subprocess.run([sys.executable, "-m", "shared", "mapping", "check", str(path), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_clean_file_exits_0():
    result = check(REPO / "templates" / "user-mapping.template.csv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rows read:   2" in result.stdout and "keys usable: 2" in result.stdout and "OK" in result.stdout


def test_errors_exit_1_with_line_numbers_and_reasons():
    result = check(CORPUS / "junk_rows.csv")
    assert result.returncode == 1
    out = result.stdout
    assert "rows read:   13" in out and "keys usable: 4" in out and "errors:      9" in out
    assert "line 5: error: 'n/a' is neither a phone number nor a WhatsApp user id" in out
    assert "line 6: error: missing column" in out
    assert "line 9: error: the number was turned into scientific notation" in out
    assert "line 16: warning: columns after the second are ignored" in out


def test_conflicts_are_reported_on_both_lines_with_masked_numbers():
    result = check(CORPUS / "duplicates_and_conflicts.csv")
    assert result.returncode == 1
    assert "line 5: error: conflict: +*******0002" in result.stdout
    assert "line 6: error: conflict: +*******0002" in result.stdout
    assert "5551230002" not in result.stdout


def test_warnings_alone_exit_0(tmp_path):
    f = tmp_path / "dup.csv"
    f.write_bytes(b"+15551230002,bob@example.com\n+1 555 123 0002,bob@example.com\n")
    result = check(f)
    assert result.returncode == 0
    assert "line 2: warning: duplicate of line 1" in result.stdout


def test_region_option_reads_national_numbers(tmp_path):
    f = tmp_path / "gb.csv"
    f.write_bytes(b"07700 900123,alice@example.com\n")
    assert check(f).returncode == 1  # 0770... is not a possible US number
    assert check(f, "--region", "gb").returncode == 0


def test_missing_file_exits_2(tmp_path):
    result = check(tmp_path / "nope.csv")
    assert result.returncode == 2
    assert "cannot read" in result.stderr


# --------------------------------------------------------------------------- upload (real Azurite)
def test_upload_refuses_errors_then_uploads(storage_connection, tmp_path, capsys):
    from azure.storage.blob import BlobServiceClient

    settings = load_settings(AzureWebJobsStorage=storage_connection, MAPPING_BLOB="config/mapping/users.csv")
    bad = CORPUS / "junk_rows.csv"
    service = BlobServiceClient.from_connection_string(storage_connection)
    blob = service.get_blob_client("config", "mapping/users.csv")

    assert upload_main(str(bad), settings, force=False) == 1
    assert "not uploaded" in capsys.readouterr().err
    assert not service.get_container_client("config").exists() or not blob.exists()

    good = REPO / "templates" / "user-mapping.template.csv"
    assert upload_main(str(good), settings, force=False) == 0
    assert "uploaded to config/mapping/users.csv" in capsys.readouterr().out
    assert blob.download_blob().readall() == good.read_bytes()
    assert blob.get_blob_properties().content_settings.content_type == "text/csv"

    assert upload_main(str(bad), settings, force=True) == 0
    assert "forced" in capsys.readouterr().out
    assert blob.download_blob().readall() == bad.read_bytes()
