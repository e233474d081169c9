"""A secret setting still holding an unresolved Key Vault reference stops start-up, naming it."""

from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings
from shared.settings_secrets import is_unresolved_reference, require_resolved_secret

DEV = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


@pytest.mark.parametrize(
    "reference",
    [
        "@Microsoft.KeyVault(VaultName=kv-waarchiv-abc;SecretName=feed-token)",
        "@Microsoft.KeyVault(SecretUri=https://kv-waarchiv-abc.vault.azure.net/secrets/feed-token)",
        "  @microsoft.keyvault(VaultName=kv;SecretName=feed-token)",
        "@Microsoft.AppConfiguration(Endpoint=https://cfg.azconfig.io; Key=feed-token)",
    ],
)
def test_an_unresolved_feed_token_reference_stops_start_up_with_what_to_check(monkeypatch, reference):
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("FEED_TOKEN", reference)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "FEED_TOKEN" in message
    assert "unresolved reference" in message and "Key Vault Secrets User" in message
    assert "docs/deploy.md" in message


@pytest.mark.parametrize("token", ["eyJhbGciOiJIUzI1NiJ9.e30.sig", "", "token-with-@Microsoft.KeyVault(-inside"])
def test_a_resolved_or_empty_token_is_kept_as_given(token):
    settings = load_settings(**DEV, FEED_TOKEN=token)
    assert settings.feed_token.get_secret_value() == token


def test_the_helper_is_usable_by_any_secret_setting():
    assert is_unresolved_reference("@Microsoft.KeyVault(VaultName=v;SecretName=whatsapp-app-secret)")
    assert not is_unresolved_reference("s3cr3t")
    assert require_resolved_secret("s3cr3t") == "s3cr3t"
    with pytest.raises(ValueError, match="unresolved reference"):
        require_resolved_secret("@Microsoft.KeyVault(VaultName=v;SecretName=whatsapp-app-secret)")


def test_the_error_names_the_secret_it_could_not_read():
    with pytest.raises(SettingsError) as err:
        load_settings(**DEV, FEED_TOKEN="@Microsoft.KeyVault(VaultName=v;SecretName=feed-token)")
    assert "SecretName=feed-token" in str(err.value)
