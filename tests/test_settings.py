"""Settings: every one named, defaulted, validated with a message that says what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parent.parent
DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def setting_names() -> set[str]:
    out = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        out.add(alias if isinstance(alias, str) else alias.choices[0])
    return out


def test_defaults_are_the_documented_ones():
    s = load_settings(**DEV)
    assert s.archive_folder_name == "WhatsApp Archiver"
    assert s.pull_schedule == "0 0 2 * * *"
    assert s.graph_endpoint == "https://graph.microsoft.com"
    assert s.mapping_container == "config" and s.mapping_path == "user-mapping.csv"
    assert s.graph_create_mode == "json"


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("PULL_SCHEDULE", "0 2 * * *", "6-field NCRONTAB"),
        ("GRAPH_ENDPOINT", "http://graph.example.com", "plain http is only allowed for a loopback host"),
        ("FEED_BASE_URL", "ftp://feed", "absolute http(s) URL"),
        ("MAPPING_BLOB", "user-mapping.csv", "container/path"),
        ("DEFAULT_PHONE_REGION", "XX", "region code"),
        ("DISPLAY_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("MAILBOX_CONCURRENCY", "8", "MAILBOX_CONCURRENCY"),
        ("GRAPH_CREATE_MODE", "mime", "GRAPH_CREATE_MODE"),
    ],
)
def test_a_bad_value_names_the_setting_and_what_is_expected(monkeypatch, name, value, expected):
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert name in str(err.value)
    assert expected in str(err.value)


def test_storage_must_be_configured_one_way_or_the_other():
    with pytest.raises(SettingsError, match="AzureWebJobsStorage"):
        load_settings()
    assert load_settings(AzureWebJobsStorage__accountName="archiverstore").storage_account_name == "archiverstore"


def test_loopback_graph_is_recognised_and_nothing_else_is():
    assert load_settings(**DEV, GRAPH_ENDPOINT="http://127.0.0.1:9999").graph_is_loopback
    assert load_settings(**DEV, GRAPH_ENDPOINT="http://localhost:9999").graph_is_loopback
    assert not load_settings(**DEV, GRAPH_ENDPOINT="https://graph.microsoft.us").graph_is_loopback
    assert not load_settings(**DEV, GRAPH_ENDPOINT="https://127.0.0.1.nip.io").graph_is_loopback


def test_example_settings_file_lists_every_setting_with_a_comment():
    example = json.loads((REPO / "local.settings.example.json").read_text())
    values, comments = set(example["Values"]), set(example["_comments"])
    identity_only = {n for n in setting_names() if n.startswith("AzureWebJobsStorage__")}
    assert setting_names() - identity_only <= values, "settings missing from Values"
    assert setting_names() <= comments, "settings without a comment"
    assert values <= comments
    # and every value there passes validation as it stands
    load_settings(**{k: v for k, v in example["Values"].items() if k != "FUNCTIONS_WORKER_RUNTIME"})


def test_transcript_mode_is_off_by_default_and_can_be_turned_on_with_its_schedule():
    base = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert load_settings(**base).transcript_mode is False
    on = load_settings(**base, TRANSCRIPT_MODE="true")
    assert on.transcript_mode is True and on.transcript_schedule == "0 0 4 * * *"
    with pytest.raises(SettingsError) as err:
        load_settings(**base, TRANSCRIPT_MODE="true", TRANSCRIPT_SCHEDULE="every night")
    assert "TRANSCRIPT_SCHEDULE" in str(err.value) and "NCRONTAB" in str(err.value)


def test_the_request_budget_follows_exchanges_ten_minutes_and_the_older_per_minute_form_still_works():
    assert load_settings(**DEV).mailbox_request_budget == (9500, 600)
    assert load_settings(**DEV, MAILBOX_REQUESTS_PER_MINUTE="900").mailbox_request_budget == (900, 60)  # as before
    assert load_settings(**DEV, MAILBOX_REQUESTS_PER_MINUTE="").mailbox_request_budget == (9500, 600)
    assert load_settings(**DEV, MAILBOX_REQUESTS_PER_WINDOW="950",
                         MAILBOX_REQUEST_WINDOW_SECONDS="60").mailbox_request_budget == (950, 60)
    with pytest.raises(SettingsError) as err:  # 9,500 a minute is ten times what Exchange allows
        load_settings(**DEV, MAILBOX_REQUEST_WINDOW_SECONDS="60")
    assert "MAILBOX_REQUESTS_PER_WINDOW" in str(err.value) and "1000" in str(err.value)
    with pytest.raises(SettingsError) as err:  # both forms at once: which one was meant is not guessed
        load_settings(**DEV, MAILBOX_REQUESTS_PER_MINUTE="900", MAILBOX_REQUESTS_PER_WINDOW="9000")
    assert "MAILBOX_REQUESTS_PER_MINUTE" in str(err.value)
