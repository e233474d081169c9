"""The Bicep and the code agree: app setting names, storage names, host.json sampling."""

from __future__ import annotations

import json
import re

from pydantic import AliasChoices

from shared import names
from shared.settings import Settings, load_settings
from tests.infra import bicep

# Settings the platform reads, not the code: the Functions host (identity-based storage) and the
# Application Insights exporter. Anything else in the Bicep must be a name the code reads.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__credential": "the host's identity-based storage connection",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where telemetry goes",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra auth of the exporter (local auth is disabled)",
}

# Settings that must be set in Azure: no usable default there.
REQUIRED_IN_AZURE = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__credential",
    "FEED_BASE_URL",  # the default is a loopback URL for local runs
    "FEED_TOKEN",
    "GRAPH_CLIENT_ID",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}


def settings_aliases() -> set[str]:
    aliases: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            aliases.add(alias)
        elif isinstance(alias, AliasChoices):
            aliases.update(a for a in alias.choices if isinstance(a, str))
    return aliases


def timer_settings() -> set[str]:
    source = (bicep.ROOT / "function_app.py").read_text()
    return set(re.findall(r"%([A-Za-z0-9_]+)%", source))


SETTINGS = bicep.app_settings()


def test_every_app_setting_is_a_name_the_code_or_the_platform_reads():
    unknown = set(SETTINGS) - settings_aliases() - set(PLATFORM_SETTINGS)
    assert not unknown, (
        f"app settings in infra/modules/functionapp.bicep that no Settings field reads: {sorted(unknown)}; "
        "fix the name or add the field to shared/settings.py"
    )


def test_every_setting_required_in_azure_is_set():
    required = REQUIRED_IN_AZURE | timer_settings()
    missing = required - set(SETTINGS)
    assert not missing, f"infra/modules/functionapp.bicep does not set {sorted(missing)}"


def test_timer_schedules_are_settings():
    assert timer_settings() == {"PULL_SCHEDULE", "REPORT_SCHEDULE", "TRANSCRIPT_SCHEDULE", "VERIFY_SCHEDULE"}
    assert timer_settings() <= settings_aliases()


def test_storage_is_identity_based_with_no_connection_string():
    assert "AzureWebJobsStorage" not in SETTINGS, "an (empty) AzureWebJobsStorage beside the __ settings breaks Flex deployment"
    assert SETTINGS["AzureWebJobsStorage__credential"] == "managedidentity"
    assert SETTINGS["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        assert SETTINGS[f"AzureWebJobsStorage__{service}ServiceUri"] == f"{service}Endpoint"
    storage = bicep.module("storage")["resources"]["account"]["config"]["properties"]
    assert storage["allowSharedKeyAccess"] is False
    assert storage["allowBlobPublicAccess"] is False
    assert storage["minimumTlsVersion"] == "TLS1_2"
    assert storage["supportsHttpsTrafficOnly"] is True


def test_flex_consumption_python_311_with_identity_deployment_storage():
    site = bicep.module("functionapp")["resources"]["site"]["config"]
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    plan = bicep.module("functionapp")["resources"]["plan"]["config"]
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    for deprecated in ("FUNCTIONS_WORKER_RUNTIME", "WEBSITE_RUN_FROM_PACKAGE", "FUNCTIONS_EXTENSION_VERSION"):
        assert deprecated not in SETTINGS, f"{deprecated} is not used on Flex Consumption"


def test_secrets_and_telemetry_use_the_identity():
    assert SETTINGS["FEED_TOKEN"].startswith("@Microsoft.KeyVault("), "FEED_TOKEN must be a Key Vault reference"
    assert SETTINGS["GRAPH_CLIENT_ID"] == "identityClientId"
    assert SETTINGS["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD;ClientId=${identityClientId}"
    site = bicep.module("functionapp")["resources"]["site"]["config"]["properties"]
    assert site["keyVaultReferenceIdentity"] == "identityId"
    vault = bicep.module("keyvault")["resources"]["vault"]["config"]["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    appi = bicep.module("monitoring")["resources"]["appInsights"]["config"]["properties"]
    assert appi["DisableLocalAuth"] is True


def test_deployed_setting_values_are_valid_settings():
    """The values main.parameters.json (or a default) gives the app pass the code's own validation."""
    env = {}
    for name, expression in SETTINGS.items():
        if name in settings_aliases() and bicep.is_identifier(expression):
            value = bicep.resolve_main_value(expression)
            if value is not None:
                env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    assert {"FEED_BASE_URL", "PULL_SCHEDULE", "REPORT_SCHEDULE", "GRAPH_CREATE_MODE"} <= set(env), sorted(env)
    settings = load_settings(AzureWebJobsStorage__accountName="starchiver", **env)
    assert settings.feed_base_url.startswith("https://")


def test_containers_queues_and_tables_are_the_codes():
    storage = bicep.module("storage")
    assert bicep.variable(storage, "containerNames") == list(names.CONTAINERS)
    assert bicep.variable(storage, "queueNames") == list(names.QUEUES)
    assert bicep.variable(storage, "tableNames") == list(names.TABLES)


def test_every_work_queue_has_its_poison_queue():
    queues = set(bicep.variable(bicep.module("storage"), "queueNames"))
    for queue in names.WORK_QUEUES:
        assert {queue, queue + names.POISON_SUFFIX} <= queues


def test_deployment_container_does_not_clash_with_the_codes():
    deployment = bicep.variable(bicep.main(), "names")["deploymentContainer"]
    assert deployment not in names.CONTAINERS


def test_lifecycle_rule_expires_evidence_only_after_retention_and_immutability():
    rules = bicep.module("storage")["resources"]["lifecycle"]["config"]["properties"]["policy"]["rules"]
    expire = next(r for r in rules if r["name"] == "evidence-retention")
    assert sorted(expire["definition"]["filters"]["prefixMatch"]) == sorted(c + "/" for c in names.EVIDENCE_CONTAINERS)
    delete = expire["definition"]["actions"]["baseBlob"]["delete"]["daysAfterModificationGreaterThan"]
    later = {"function": {"type": "max", "parameters": {"arg_1": "retentionDays", "arg_2": "immutabilityDays"}}}
    assert delete == later
    # With versioning, that delete leaves a previous version; the same rule must remove it at the same age.
    version_delete = expire["definition"]["actions"]["version"]["delete"]["daysAfterCreationGreaterThan"]
    assert version_delete == later
    prune = next(r for r in rules if r["name"] == "expire-previous-versions")
    pruned = {p.rstrip("/") for p in prune["definition"]["filters"]["prefixMatch"]}
    assert not pruned & set(names.EVIDENCE_CONTAINERS), "evidence versions must not go after previousVersionRetentionDays"


def test_host_json_sampling_never_drops_errors_or_requests():
    host = json.loads((bicep.ROOT / "host.json").read_text())
    sampling = host["logging"]["applicationInsights"]["samplingSettings"]
    if sampling.get("isEnabled", True):
        excluded = {t.strip() for t in sampling.get("excludedTypes", "").split(";")}
        assert {"Exception", "Request"} <= excluded, f"host.json samples away {({'Exception', 'Request'} - excluded)}"


def test_imports_subscription_calls_the_event_grid_blob_trigger_of_the_code():
    """The Event Grid subscription reaches import_export through the blobs extension's webhook
    (Learn, "Tutorial: Trigger Azure Functions on blob containers using an event subscription":
    https://{host}/runtime/webhooks/blobs?functionName=Host.Functions.{name}&code={blobs_extension key}),
    watches the container the code's trigger reads and leaves out the report the import writes beside it."""
    from shared.pipeline import chat_import_job

    tree = bicep.module("imports")
    params = tree["parameters"]
    assert params["containerName"]["default"] == names.IMPORTS
    function_name = params["functionName"]["default"]
    source = (bicep.ROOT / "function_app.py").read_text()
    trigger = re.search(r"@app\.blob_trigger\(([^)]*)\)\s*def (\w+)", source)
    assert trigger and trigger.group(2) == function_name and "EVENT_GRID" in trigger.group(1), (
        "imports.bicep's functionName must be the Event Grid blob-triggered Function")
    sub = tree["resources"]["subscription"]["config"]["config"]
    url = sub["properties"]["destination"]["properties"]["endpointUrl"]
    assert url.startswith("https://${site.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=")
    assert "listKeys('${site.id}/host/default'" in url and url.endswith(".systemKeys.blobs_extension}")
    flt = sub["properties"]["filter"]
    assert flt["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert flt["subjectBeginsWith"] == "/blobServices/default/containers/${containerName}/blobs/"
    assert flt["advancedFilters"] == [
        {"operatorType": "StringNotEndsWith", "key": "subject", "values": [chat_import_job.REPORT_SUFFIX]}]
