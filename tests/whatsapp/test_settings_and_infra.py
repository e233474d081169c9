"""The WhatsApp settings validate as a group, and the Bicep sets exactly them (secrets from Key Vault)."""

from __future__ import annotations

import logging

import pytest

from shared import telemetry
from shared.settings import SettingsError, load_settings
from tests.infra import bicep
from tests.infra.test_bicep_matches_code import settings_aliases

DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
ALL = {"WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_ACCESS_TOKEN": "t"}


def test_off_by_default_and_on_with_all_three_secrets():
    assert not load_settings(**DEV).whatsapp_enabled
    s = load_settings(**DEV, **ALL)
    assert s.whatsapp_enabled and s.whatsapp_graph_base_url == "https://graph.facebook.com/v26.0"
    assert s.whatsapp_max_body_bytes == 4 * 1024 * 1024  # Meta sends up to 3 MB


@pytest.mark.parametrize("missing", sorted(ALL))
def test_a_secret_without_the_others_names_what_is_missing(missing):
    given = {k: v for k, v in ALL.items() if k != missing}
    with pytest.raises(SettingsError) as err:
        load_settings(**DEV, **given)
    assert missing in str(err.value) and "go together" in str(err.value)


def test_graph_base_url_is_https_unless_loopback_and_the_body_limit_is_bounded():
    with pytest.raises(SettingsError, match="WHATSAPP_GRAPH_BASE_URL"):
        load_settings(**DEV, WHATSAPP_GRAPH_BASE_URL="http://graph.facebook.com/v26.0")
    assert load_settings(**DEV, WHATSAPP_GRAPH_BASE_URL="http://127.0.0.1:7303/v26.0/").whatsapp_graph_base_url.endswith("/v26.0")
    with pytest.raises(SettingsError, match="WHATSAPP_MAX_BODY_BYTES"):
        load_settings(**DEV, WHATSAPP_MAX_BODY_BYTES="100")


def test_the_feed_is_optional():
    assert not load_settings(**DEV).feed_configured
    assert not load_settings(**DEV, FEED_BASE_URL="  ").feed_configured
    assert load_settings(**DEV, FEED_BASE_URL="https://feed.example.com").feed_configured


def test_bicep_sets_the_whatsapp_settings_with_key_vault_references_to_the_secrets_it_creates():
    entries = bicep.variable(bicep.module("functionapp"), "whatsappAppSettings")
    deployed = {e["name"]: e["value"] for e in entries}
    assert set(deployed) == set(ALL) | {"WHATSAPP_GRAPH_BASE_URL", "WHATSAPP_MAX_BODY_BYTES"}
    assert set(deployed) <= settings_aliases()
    created = {bicep.body(r)["name"] for r in bicep.module("whatsapp")["resources"].values()
               if r["type"] == "Microsoft.KeyVault/vaults/secrets"}
    for name in ALL:
        assert deployed[name].startswith("@Microsoft.KeyVault(")
        assert any(f"SecretName={secret})" in deployed[name] for secret in created), name
    outputs = bicep.main()["outputs"]
    assert "/api/whatsapp/webhook" in str(outputs["whatsappCallbackUrl"]["value"])


def test_the_capture_gap_alert_queries_what_the_code_logs(caplog):
    query = bicep.variable(bicep.module("whatsapp"), "captureGapQuery")
    with caplog.at_level(logging.WARNING, logger="archiver.whatsapp"):
        telemetry.capture_gap(number="+*******3881", event="PARTNER_REMOVED", reason="PRIMARY_INACTIVITY",
                              since="2026-11-23T09:15:02+00:00", stopped=True)
    (record,) = caplog.records
    assert f'message == "{record.getMessage()}"' in query
    for dimension in ("stopped", "wa_number", "wa_reason"):
        assert hasattr(record, dimension) and f"customDimensions.{dimension}" in query
