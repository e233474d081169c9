"""A secret setting still holding an unresolved Key Vault reference stops the part that uses it, naming it;
the rest of the archiver (convert, deliver, the other sources) keeps running."""

from __future__ import annotations

import pytest

from shared.bootstrap import Archiver
from shared.settings import SettingsError, load_settings
from shared.settings_secrets import is_unresolved_reference, require_resolved_secret

DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
WHATSAPP = {"WHATSAPP_APP_SECRET": "app-secret", "WHATSAPP_VERIFY_TOKEN": "verify", "WHATSAPP_ACCESS_TOKEN": "access"}


@pytest.mark.parametrize(
    "reference",
    [
        "@Microsoft.KeyVault(VaultName=kv-waarchiv-abc;SecretName=feed-token)",
        "@Microsoft.KeyVault(SecretUri=https://kv-waarchiv-abc.vault.azure.net/secrets/feed-token)",
        "  @microsoft.keyvault(VaultName=kv;SecretName=feed-token)",
        "@Microsoft.AppConfiguration(Endpoint=https://cfg.azconfig.io; Key=feed-token)",
    ],
)
def test_an_unresolved_feed_token_stops_the_pull_with_what_to_check(monkeypatch, reference):
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("FEED_BASE_URL", "https://feed.example.com")
    monkeypatch.setenv("FEED_TOKEN", reference)
    settings = load_settings()  # convert and deliver do not need the token: they still start
    assert settings.unresolved_secrets == ["FEED_TOKEN"]
    with pytest.raises(SettingsError) as err:
        Archiver(settings).feed  # noqa: B018 - building the feed client is what must refuse
    message = str(err.value)
    assert "FEED_TOKEN" in message
    assert "unresolved reference" in message and "Key Vault Secrets User" in message
    assert "docs/deploy.md" in message


@pytest.mark.parametrize("token", ["eyJhbGciOiJIUzI1NiJ9.e30.sig", "", "token-with-@Microsoft.KeyVault(-inside"])
def test_a_resolved_or_empty_token_is_kept_as_given(token):
    settings = load_settings(**DEV, FEED_TOKEN=token)
    assert settings.feed_token.get_secret_value() == token
    assert settings.unresolved_secrets == []
    settings.require_resolved("feed_token")


def test_unresolved_whatsapp_secrets_stop_the_webhook_and_its_media_not_the_feed():
    ref = "@Microsoft.KeyVault(VaultName=v;SecretName=whatsapp-app-secret)"
    settings = load_settings(**DEV, **{**WHATSAPP, "WHATSAPP_APP_SECRET": ref, "WHATSAPP_ACCESS_TOKEN": ref},
                             FEED_BASE_URL="https://feed.example.com", FEED_TOKEN="t")
    assert settings.unresolved_secrets == ["WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN"]
    app = Archiver(settings)
    with pytest.raises(SettingsError, match="WHATSAPP_APP_SECRET"):
        app.webhook_config  # noqa: B018
    with pytest.raises(SettingsError, match="WHATSAPP_ACCESS_TOKEN"):
        app.whatsapp_media  # noqa: B018
    assert app.feed is not None
    app.close()


def test_the_helper_is_usable_by_any_secret_setting():
    assert is_unresolved_reference("@Microsoft.KeyVault(VaultName=v;SecretName=whatsapp-app-secret)")
    assert not is_unresolved_reference("s3cr3t")
    assert require_resolved_secret("s3cr3t") == "s3cr3t"
    with pytest.raises(ValueError, match="unresolved reference"):
        require_resolved_secret("@Microsoft.KeyVault(VaultName=v;SecretName=whatsapp-app-secret)")


def test_the_error_names_the_secret_it_could_not_read():
    settings = load_settings(**DEV, FEED_TOKEN="@Microsoft.KeyVault(VaultName=v;SecretName=feed-token)")
    with pytest.raises(SettingsError) as err:
        settings.require_resolved("feed_token")
    assert "SecretName=feed-token" in str(err.value)
