"""Secret settings that arrive as Key Vault references: refuse to start with one still unresolved.

In Azure a secret setting (FEED_TOKEN, and any later one such as WHATSAPP_APP_SECRET) holds
``@Microsoft.KeyVault(VaultName=...;SecretName=...)`` and the platform puts the secret in its
place. When it cannot (the secret is not set yet, the identity lacks Key Vault Secrets User, the
vault is unreachable), Learn says the reference string itself is passed to the app ("Troubleshoot
Key Vault references": "If a reference isn't resolved properly, the reference string is used
instead"). Sending that string as a bearer token gets a 401 far from the cause, so settings refuse
it at start-up with what to check.
"""

from __future__ import annotations

import re

from pydantic import SecretStr

# App Service / Functions reference syntaxes (Key Vault, and App Configuration which resolves the same way).
_REFERENCE = re.compile(r"^\s*@Microsoft\.(KeyVault|AppConfiguration)\s*\(", re.IGNORECASE)


def is_unresolved_reference(value: str) -> bool:
    """True when a setting still holds a platform reference instead of the value it points to."""
    return bool(_REFERENCE.match(value))


def require_resolved_secret(value: SecretStr | str) -> SecretStr | str:
    """Validator body for a secret setting: return it unchanged, or raise ValueError (the settings
    loader prefixes the setting's name) when it is an unresolved reference. The reference names a
    vault and a secret, not the secret itself, so it is safe to show."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if is_unresolved_reference(raw):
        raise ValueError(
            f"holds the unresolved reference {raw.strip()[:200]!r} instead of the secret: the platform "
            "could not read it. Check that the secret is set in the vault, that the app's identity has "
            "Key Vault Secrets User on the vault (keyVaultReferenceIdentity), then refresh the app's "
            "references (docs/deploy.md, step 4) and restart"
        )
    return value
