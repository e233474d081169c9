"""Every setting of the archiver: named, defaulted, validated once at start-up.

Read from the environment (Function App settings in Azure, local.settings.json under Core
Tools, plain environment variables for the CLI). A bad value stops start-up with a message
that names the setting, what it holds and what is expected.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings_secrets import is_unresolved_reference, require_resolved_secret

MiB = 1024 * 1024
EXCHANGE_REQUESTS_PER_WINDOW = 10_000  # Graph requests per app per mailbox in Exchange's window
EXCHANGE_WINDOW_SECONDS = 600


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(RuntimeError):
    """Start-up configuration is wrong; the message says which setting and what to do."""


# Secret settings (field -> setting name): each may arrive as a Key Vault reference (settings_secrets).
SECRET_SETTINGS = {"feed_token": "FEED_TOKEN", "whatsapp_app_secret": "WHATSAPP_APP_SECRET",
                   "whatsapp_verify_token": "WHATSAPP_VERIFY_TOKEN", "whatsapp_access_token": "WHATSAPP_ACCESS_TOKEN"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, case_sensitive=True)

    # --- Storage -------------------------------------------------------------------------
    storage_connection: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AzureWebJobsStorage"),
        description="Connection string; 'UseDevelopmentStorage=true' for Azurite. Leave unset in "
        "Azure: the identity-based AzureWebJobsStorage__* settings are used instead.",
    )
    storage_account_name: str | None = Field(default=None, validation_alias="AzureWebJobsStorage__accountName")
    storage_blob_uri: str | None = Field(default=None, validation_alias="AzureWebJobsStorage__blobServiceUri")
    storage_queue_uri: str | None = Field(default=None, validation_alias="AzureWebJobsStorage__queueServiceUri")
    storage_table_uri: str | None = Field(default=None, validation_alias="AzureWebJobsStorage__tableServiceUri")
    storage_client_id: str | None = Field(default=None, validation_alias="AzureWebJobsStorage__clientId")

    # --- Capture feed ----------------------------------------------------------------------
    feed_base_url: str | None = Field(default=None, validation_alias="FEED_BASE_URL")  # unset: no feed, the pull does nothing
    feed_token: SecretStr = Field(default=SecretStr(""), validation_alias="FEED_TOKEN")
    feed_page_size: int = Field(default=500, ge=1, le=1000, validation_alias="FEED_PAGE_SIZE")
    feed_timeout_seconds: float = Field(default=60.0, gt=0, le=600, validation_alias="FEED_TIMEOUT_SECONDS")

    # --- Pull -------------------------------------------------------------------------------
    pull_schedule: str = Field(default="0 0 2 * * *", validation_alias="PULL_SCHEDULE")
    max_window_hours: int = Field(default=24, ge=1, le=24 * 7, validation_alias="MAX_WINDOW_HOURS")
    first_run_lookback_hours: int = Field(default=24, ge=1, le=24 * 30, validation_alias="FIRST_RUN_LOOKBACK_HOURS")

    # --- Microsoft Graph --------------------------------------------------------------------
    graph_endpoint: str = Field(default="https://graph.microsoft.com", validation_alias="GRAPH_ENDPOINT")
    graph_create_mode: Literal["json", "import_mime"] = Field(default="json", validation_alias="GRAPH_CREATE_MODE")
    graph_client_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GRAPH_CLIENT_ID", "AZURE_CLIENT_ID"),
        description="Client id of the user-assigned managed identity that calls Graph.",
    )
    archive_folder_name: str = Field(default="WhatsApp Archiver", min_length=1, max_length=255, validation_alias="ARCHIVE_FOLDER_NAME")
    mailbox_concurrency: int = Field(default=4, ge=1, le=4, validation_alias="MAILBOX_CONCURRENCY")
    # Exchange allows an app 10,000 requests per mailbox in a (sliding) 10 minutes: the budget counts on that window,
    # less headroom for the requests it does not see (folder set-up, look-ups); a 429's Retry-After paces the rest
    mailbox_requests_per_window: int = Field(default=9500, ge=1, le=EXCHANGE_REQUESTS_PER_WINDOW,
                                             validation_alias="MAILBOX_REQUESTS_PER_WINDOW")
    mailbox_request_window_seconds: int = Field(default=EXCHANGE_WINDOW_SECONDS, ge=60, le=EXCHANGE_WINDOW_SECONDS,
                                                validation_alias="MAILBOX_REQUEST_WINDOW_SECONDS")
    # the older form (a budget per minute): when set, it is used as before (that many per 60 s)
    mailbox_requests_per_minute: int | None = Field(default=None, ge=1, le=1000, validation_alias="MAILBOX_REQUESTS_PER_MINUTE")
    graph_timeout_seconds: float = Field(default=100.0, gt=0, le=600, validation_alias="GRAPH_TIMEOUT_SECONDS")
    delivery_claim_seconds: int = Field(default=600, ge=5, le=3600, validation_alias="DELIVERY_CLAIM_SECONDS")
    max_item_bytes: int = Field(default=150 * MiB, ge=1 * MiB, le=150 * MiB, validation_alias="MAX_ITEM_BYTES")
    # Graph requests in flight at once per instance (creates, look-ups, the directory): an item's copies go out
    # side by side on twice as many threads, and this bounds what they send to Graph together
    delivery_workers: int = Field(default=8, ge=1, le=64, validation_alias="DELIVERY_WORKERS")

    # --- Mapping ----------------------------------------------------------------------------
    mapping_blob: str = Field(default="config/user-mapping.csv", validation_alias="MAPPING_BLOB")
    default_phone_region: str = Field(default="US", validation_alias="DEFAULT_PHONE_REGION")
    directory_cache_ttl_minutes: int = Field(default=720, ge=0, le=7 * 24 * 60, validation_alias="DIRECTORY_CACHE_TTL_MINUTES")

    # --- Records ----------------------------------------------------------------------------
    display_timezone: str = Field(default="UTC", validation_alias="DISPLAY_TIMEZONE")
    transcript_mode: bool = Field(
        default=False,
        validation_alias="TRANSCRIPT_MODE",
        description="One record per conversation per capture day per mailbox instead of one per item.",
    )
    transcript_schedule: str = Field(default="0 0 4 * * *", validation_alias="TRANSCRIPT_SCHEDULE")

    # --- Report -----------------------------------------------------------------------------
    report_schedule: str = Field(default="0 0 6 * * *", validation_alias="REPORT_SCHEDULE")
    report_retention_days: int = Field(default=90, ge=1, le=3650, validation_alias="REPORT_RETENTION_DAYS")
    report_full_numbers: bool = Field(default=False, validation_alias="REPORT_FULL_NUMBERS")

    # --- Evidence ---------------------------------------------------------------------------
    verify_schedule: str = Field(default="0 0 7 * * 0", validation_alias="VERIFY_SCHEDULE",
                                 description="NCRONTAB of the verify_evidence timer (weekly, Sunday 07:00 UTC).")
    # --- Chat-export imports (issue 10) -----------------------------------------------------
    export_timezone: str = Field(default="UTC", validation_alias="EXPORT_TIMEZONE",
                                 description="IANA zone of the wall-clock times in WhatsApp export files.")
    import_max_entries: int = Field(default=20_000, ge=1, le=1_000_000, validation_alias="IMPORT_MAX_ENTRIES")
    import_max_total_bytes: int = Field(default=8 * 1024 * MiB, ge=1 * MiB, validation_alias="IMPORT_MAX_TOTAL_BYTES")
    import_max_file_bytes: int = Field(default=2 * 1024 * MiB, ge=1 * MiB, validation_alias="IMPORT_MAX_FILE_BYTES")
    import_max_ratio: int = Field(default=200, ge=2, le=10_000, validation_alias="IMPORT_MAX_RATIO")
    # --- WhatsApp Business Platform webhooks (issue 9; all three secrets or none) -------------
    whatsapp_app_secret: SecretStr = Field(default=SecretStr(""), validation_alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr = Field(default=SecretStr(""), validation_alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_access_token: SecretStr = Field(default=SecretStr(""), validation_alias="WHATSAPP_ACCESS_TOKEN")
    whatsapp_graph_base_url: str = Field(default="https://graph.facebook.com/v26.0", validation_alias="WHATSAPP_GRAPH_BASE_URL")
    whatsapp_max_body_bytes: int = Field(default=4 * MiB, ge=64 * 1024, le=64 * MiB, validation_alias="WHATSAPP_MAX_BODY_BYTES")
    # --- Hostile or broken source (issue 15) ------------------------------------------------
    feed_max_page_bytes: int = Field(default=32 * MiB, ge=1 * MiB, le=256 * MiB, validation_alias="FEED_MAX_PAGE_BYTES")
    max_attachment_bytes: int = Field(default=150 * MiB, ge=1 * MiB, le=2048 * MiB, validation_alias="MAX_ATTACHMENT_BYTES")
    mapping_email_property: str = Field(default="on", validation_alias="MAPPING_EMAIL_PROPERTY")

    @field_validator("mapping_email_property")
    @classmethod
    def _email_property_policy(cls, value: str) -> str:
        from shared.domain.mapping_rule import EmailPolicy

        EmailPolicy.parse(value)  # raises ValueError naming what is expected
        return value.strip()

    # --- Validation -------------------------------------------------------------------------
    @field_validator("feed_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("feed_base_url", "graph_endpoint", "whatsapp_graph_base_url")
    @classmethod
    def _http_url(cls, value: str | None, info) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an absolute http(s) URL, got {value!r}")
        if parts.scheme == "http" and not is_loopback_url(value):
            raise ValueError(f"plain http is only allowed for a loopback host (tests, local runs); use https: {value!r}")
        return value.rstrip("/")

    @field_validator("pull_schedule", "report_schedule", "transcript_schedule", "verify_schedule")
    @classmethod
    def _ncrontab(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 6:
            raise ValueError(
                f"expected a 6-field NCRONTAB expression 'sec min hour day month weekday' (UTC), got {value!r}"
            )
        return value

    @field_validator("mapping_blob")
    @classmethod
    def _container_path(cls, value: str) -> str:
        container, _, path = value.partition("/")
        if not container or not path:
            raise ValueError(f"expected 'container/path/to/file.csv', got {value!r}")
        return value

    @field_validator("default_phone_region")
    @classmethod
    def _region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"expected a two-letter region code libphonenumber knows (e.g. US, GB, DE), got {value!r}")
        return region

    @field_validator("display_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as 'Europe/London', got {value!r}") from None
        return value

    @field_validator("export_timezone")
    @classmethod
    def _export_tz(cls, value: str) -> str:
        return cls._tz(value)

    @field_validator("archive_folder_name")
    @classmethod
    def _folder(cls, value: str) -> str:
        if value != value.strip() or any(ord(c) < 32 for c in value):
            raise ValueError("the folder name must not start or end with spaces or hold control characters")
        return value

    @model_validator(mode="after")
    def _storage_configured(self) -> "Settings":
        if not self.storage_connection and not (
            self.storage_account_name or (self.storage_blob_uri and self.storage_queue_uri and self.storage_table_uri)
        ):
            raise ValueError(
                "no storage configured: set AzureWebJobsStorage (a connection string, or "
                "'UseDevelopmentStorage=true' for Azurite) or AzureWebJobsStorage__accountName "
                "(identity-based, in Azure)"
            )
        return self

    @field_validator("mailbox_requests_per_minute", mode="before")
    @classmethod
    def _unset_when_empty(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _request_budget(self) -> "Settings":
        if self.mailbox_requests_per_minute is not None:
            newer = [alias for name, alias in (("mailbox_requests_per_window", "MAILBOX_REQUESTS_PER_WINDOW"),
                                               ("mailbox_request_window_seconds", "MAILBOX_REQUEST_WINDOW_SECONDS"))
                     if name in self.model_fields_set]
            if newer:
                raise ValueError(f"MAILBOX_REQUESTS_PER_MINUTE (the older form of the request budget) and {', '.join(sorted(newer))} "
                                 "are both set: keep one (MAILBOX_REQUESTS_PER_WINDOW and MAILBOX_REQUEST_WINDOW_SECONDS; "
                                 "the defaults, 9500 per 600 s, follow Exchange's 10,000 per 10 minutes)")
            return self
        allowed = EXCHANGE_REQUESTS_PER_WINDOW * self.mailbox_request_window_seconds // EXCHANGE_WINDOW_SECONDS
        if self.mailbox_requests_per_window > allowed:
            raise ValueError(f"MAILBOX_REQUESTS_PER_WINDOW {self.mailbox_requests_per_window} per "
                             f"{self.mailbox_request_window_seconds} s is over Exchange's limit of 10,000 per 600 s "
                             f"(at most {allowed} in {self.mailbox_request_window_seconds} s)")
        return self

    @model_validator(mode="after")
    def _whatsapp_group(self) -> "Settings":
        group = {"WHATSAPP_APP_SECRET": self.whatsapp_app_secret, "WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
                 "WHATSAPP_ACCESS_TOKEN": self.whatsapp_access_token}
        missing = [name for name, value in group.items() if not value.get_secret_value().strip()]
        if 0 < len(missing) < len(group):
            raise ValueError(
                f"the WhatsApp webhook settings go together: {', '.join(sorted(set(group) - set(missing)))} "
                f"is set but {', '.join(missing)} is not. Set all three (App Secret from the Meta app's Basic settings, "
                "the verify token you typed in its Webhooks page, a system-user access token for media) or none "
                "(the webhook is then off)"
            )
        return self

    # --- Secrets delivered as Key Vault references ---------------------------------------------
    # One still unresolved stops the part that uses it (the pull for FEED_TOKEN, the webhook and its
    # media for the WHATSAPP_ secrets) with what to check, not the whole app: copies already queued
    # keep landing and Meta's retries are not answered by a host that cannot start.
    def require_resolved(self, *fields: str) -> None:
        """Raise ``SettingsError`` naming each of these secret fields that holds an unresolved reference."""
        problems = []
        for name in fields:
            try:
                require_resolved_secret(getattr(self, name))
            except ValueError as exc:
                problems.append(f"  {SECRET_SETTINGS[name]}: {exc}")
        if problems:
            raise SettingsError("Invalid settings:\n" + "\n".join(problems))

    @property
    def unresolved_secrets(self) -> list[str]:
        """The secret settings (by name) that still hold an unresolved reference."""
        return [alias for name, alias in SECRET_SETTINGS.items()
                if is_unresolved_reference(getattr(self, name).get_secret_value())]

    # --- Derived ----------------------------------------------------------------------------
    @property
    def mailbox_request_budget(self) -> tuple[int, int]:
        """(requests, window seconds) per mailbox across all instances: the older per-minute form when it is set."""
        if self.mailbox_requests_per_minute is not None:
            return self.mailbox_requests_per_minute, 60
        return self.mailbox_requests_per_window, self.mailbox_request_window_seconds

    @property
    def graph_is_loopback(self) -> bool:
        return is_loopback_url(self.graph_endpoint)

    @property
    def feed_configured(self) -> bool:
        return bool(self.feed_base_url)

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_app_secret.get_secret_value())

    @property
    def mapping_container(self) -> str:
        return self.mapping_blob.partition("/")[0]

    @property
    def mapping_path(self) -> str:
        return self.mapping_blob.partition("/")[2]


def load_settings(**overrides) -> Settings:
    """Read and validate settings; raise ``SettingsError`` naming each bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            name = loc[0] if loc else "settings"
            field = Settings.model_fields.get(str(name))
            if field is not None and field.validation_alias is not None:
                alias = field.validation_alias
                name = alias if isinstance(alias, str) else alias.choices[0]
            lines.append(f"  {name}: {err['msg']}")
        raise SettingsError("Invalid settings:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=1)
def cached_settings() -> Settings:
    return load_settings()
