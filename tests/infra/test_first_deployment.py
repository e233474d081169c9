"""Defects that would fail the first (or a later) real `az deployment`, checked from the Bicep text.

Each test names the Microsoft reference it follows (issue 13); none can be checked by deploying here.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.infra import bicep

DEPLOY_GUIDE = (bicep.ROOT / "docs" / "deploy.md").read_text()
README = (bicep.ROOT / "README.md").read_text()

# Built-in role definition ids (the same in every tenant).
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
QUEUE_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
# Data-plane service -> the role that reads and writes it.
ROLE_FOR = {"blob": BLOB_CONTRIBUTOR, "queue": QUEUE_CONTRIBUTOR, "table": TABLE_CONTRIBUTOR}

# What each operator command of the guides touches in storage. A command the guides document and
# this table lacks fails the test below: add what it needs (and the role, in rbac.bicep).
OPERATOR_NEEDS = {
    "run": {"blob", "queue", "table"},
    "convert": set(),
    "mapping check": set(),
    "mapping upload": {"blob"},
    "report": {"blob", "table"},
    "redrive": {"queue"},
    "reprocess-unmapped": {"blob", "queue", "table"},
    "init-storage": {"blob", "queue", "table"},
    "verify": {"blob", "table"},
    "import-export": {"blob", "queue"},
    "webhook": {"blob", "queue"},  # webhook serve: stores bodies, queues pointers (local use)
    "reading reports/": {"blob"},
}

# Tables that exist in an Application Insights component's schema from the start; any other table
# (diagnostic logs in a workspace) appears only once data has flowed.
APP_INSIGHTS_TABLES = {"traces", "customMetrics", "customEvents", "requests", "dependencies", "exceptions",
                       "availabilityResults", "pageViews"}


def _resources(path):
    for name, resource in (bicep.parsed(path).get("resources") or {}).items():
        config = resource["config"]
        if "condition" in config:  # `= if (...) {...}`
            config = config["config"]
        yield path, name, resource["type"], config


def _all_resources():
    for path in bicep.bicep_files():
        yield from _resources(path)


def _decorators(param: dict) -> dict:
    return {d["type"]: d.get("argument") for d in param.get("decorators", [])}


def _accessor(expression) -> list[str]:
    """`a.b.c` as ['a', 'b', 'c'] (pycep nests property accessors)."""
    if isinstance(expression, str):
        return [expression]
    operands = expression["operator"]["operands"]
    return [operands["operand_1"], *_accessor(operands["operand_2"])]


def _role_assignments() -> list[dict]:
    roles = bicep.variable(bicep.module("rbac"), "roles")
    out = []
    for _, name, kind, config in _resources(bicep.MODULES / "rbac.bicep"):
        if kind != "Microsoft.Authorization/roleAssignments":
            continue
        role_ref = config["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        out.append({"name": name, "role": roles[_accessor(role_ref)[-1]], "scope": config["scope"],
                    "principal": config["properties"]["principalId"]})
    return out


# --- Row 1: Flex sites reject siteConfig.ftpsState ------------------------------------------------
def test_no_site_sets_ftps_state_and_the_checkov_skip_says_why():
    sites = [(path, name, config) for path, name, kind, config in _all_resources() if kind == "Microsoft.Web/sites"]
    assert sites
    for path, name, config in sites:
        site_config = config.get("properties", {}).get("siteConfig", {})  # an `existing` reference has none
        assert "ftpsState" not in site_config, (
            f"{path.name}:{name}: Flex Consumption rejects siteConfig.ftpsState (ARM BadRequest 51021); remove it")
    text = (bicep.MODULES / "functionapp.bicep").read_text()
    assert re.search(r"// checkov:skip=CKV_AZURE_78:.*Flex Consumption rejects", text)
    ftp = bicep.module("functionapp")["resources"]["ftpPublishing"]["config"]
    assert ftp["name"] == "ftp" and ftp["properties"]["allow"] is False, "FTP must stay off another way"


# --- Row 2: log alerts over diagnostic tables skip query validation, after the diagnostic setting ---
def _log_alerts():
    for path, name, kind, config in _all_resources():
        if kind == "Microsoft.Insights/scheduledQueryRules":
            yield path, name, config, bicep.parsed(path)


def _query_text(tree: dict, expression) -> str:
    return bicep.variable(tree, expression) if bicep.is_identifier(expression) else str(expression)


def test_log_alerts_over_tables_that_may_not_exist_yet_skip_query_validation():
    checked = 0
    for path, name, config, tree in _log_alerts():
        props = config["properties"]
        for criterion in props["criteria"]["allOf"]:
            table = _query_text(tree, criterion["query"]).split()[0]
            on_app_insights = props["scopes"] == ["appInsightsId"] and table in APP_INSIGHTS_TABLES
            if not on_app_insights:
                checked += 1
                assert props.get("skipQueryValidation") is True, (
                    f"{path.name}:{name} queries {table}, which a new workspace does not have until data flows: "
                    "creating the rule fails with SEM0100 (Azure/bicep#11378); set skipQueryValidation: true")
    assert checked >= 1, "the poison-queue alert reads StorageQueueLogs and must be among the checked rules"


def test_alerts_are_deployed_after_the_storage_diagnostic_setting():
    storage = bicep.module("storage")["resources"]
    assert any(r["type"] == "Microsoft.Insights/diagnosticSettings" and "queueService" in json.dumps(r)
               for r in storage.values()), "the queue diagnostic setting moved out of storage.bicep"
    alerts = bicep.main()["modules"]["alerts"]["config"]
    assert "storage" in alerts.get("dependsOn", []) or "storage.outputs" in json.dumps(alerts["params"]), (
        "main.bicep must deploy the alerts module after the storage module (its diagnostic setting)")


# --- Row 3: a purge-protected vault's deterministic name blocks a redeploy for 90 days ------------
def test_key_vault_name_can_be_salted_and_recovery_is_documented():
    main = bicep.main()
    assert main["parameters"]["keyVaultNameSalt"]["default"] == ""
    assert "keyVaultNameSalt" in json.dumps(bicep.variable(main, "names")["keyVault"])
    assert "az keyvault recover" in DEPLOY_GUIDE and "keyVaultNameSalt" in DEPLOY_GUIDE


# --- Row 4: Flex's lowest maximum instance count is 40 --------------------------------------------
@pytest.mark.parametrize("tree", ["main", "functionapp"])
def test_maximum_instance_count_is_at_least_flex_lowest_maximum(tree):
    parsed = bicep.main() if tree == "main" else bicep.module("functionapp")
    param = parsed["parameters"]["maximumInstanceCount"]
    decorators = _decorators(param)
    assert decorators.get("min_value") == 40 and decorators.get("max_value") == 1000, decorators
    assert param["default"] >= 40
    assert bicep.parameters_file().get("maximumInstanceCount", 40) >= 40


# --- Row 5: host storage gets Storage Blob Data Owner ---------------------------------------------
def test_the_identity_has_blob_data_owner_on_the_host_storage_account():
    identity = [a for a in _role_assignments() if a["principal"] == "principalId"]
    blob = [a for a in identity if a["role"] in (BLOB_OWNER, BLOB_CONTRIBUTOR)]
    assert [(a["role"], a["scope"]) for a in blob] == [(BLOB_OWNER, "storage")], blob
    assert {QUEUE_CONTRIBUTOR, TABLE_CONTRIBUTOR} <= {a["role"] for a in identity if a["scope"] == "storage"}


# --- Row 6: a Key Vault reference is cached; refresh it; refuse an unresolved one -----------------
def test_the_guide_refreshes_key_vault_references_after_setting_the_secret():
    assert "config/configreferences/appsettings/refresh" in DEPLOY_GUIDE
    assert "az functionapp restart" not in DEPLOY_GUIDE, "a restart is not documented to refresh references"


# --- Row 7: the operator's roles cover the commands the guides document ---------------------------
def _documented_commands() -> set[str]:
    found = set(re.findall(r"-m shared ((?:mapping (?:check|upload))|[a-z][a-z-]*)", README + DEPLOY_GUIDE))
    if "reports/" in DEPLOY_GUIDE:
        found.add("reading reports/")
    return found


def test_operator_roles_cover_every_documented_command_scoped_to_the_storage_account():
    documented = _documented_commands()
    assert {"redrive", "reprocess-unmapped", "report", "mapping upload"} <= documented, documented
    unknown = documented - set(OPERATOR_NEEDS)
    assert not unknown, f"operator commands with no entry in OPERATOR_NEEDS: {sorted(unknown)}"
    operator = [a for a in _role_assignments() if a["principal"] == "operatorPrincipalId"]
    on_storage = {a["role"] for a in operator if a["scope"] == "storage"}
    for command in sorted(documented):
        for service in OPERATOR_NEEDS[command]:
            assert ROLE_FOR[service] in on_storage, f"`{command}` needs {service} data access on the storage account"
    assert {a["scope"] for a in operator} <= {"storage", "vault"}, "operator roles must be scoped to our resources"
    assert (SECRETS_OFFICER, "vault") in {(a["role"], a["scope"]) for a in operator}
    assert "## Operator access" in DEPLOY_GUIDE


# --- Row 8: the no-pull alert stays quiet until a first pull succeeded ----------------------------
def test_no_pull_alert_fires_only_after_a_first_successful_pull():
    alerts = bicep.module("alerts")
    query = bicep.variable(alerts, "noPullQuery")
    assert "summarize LastSuccess = max(timestamp)" in query
    assert "isnotnull(LastSuccess) and LastSuccess < ago(26h)" in query
    rule = alerts["resources"]["noPullAlert"]["config"]["properties"]
    (criterion,) = rule["criteria"]["allOf"]
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0), "a row means: the last pull is stale"
    assert rule["overrideQueryTimeRange"] == "P2D"
    assert rule["autoMitigate"] is False and rule["muteActionsDuration"] == "P1D"


# --- Row 9: what the guide says can be set is passed through main.bicep ---------------------------
def test_every_functionapp_parameter_is_passed_by_main():
    declared = set(bicep.module("functionapp")["parameters"])
    passed = set(bicep.main()["modules"]["functionApp"]["config"]["params"])
    assert declared - passed == set(), f"main.bicep does not pass {sorted(declared - passed)} to functionapp.bicep"
    main_params = bicep.main()["parameters"]
    for name in ("extraAppSettings", "instanceMemoryMB", "mailboxConcurrency", "mappingBlob", "graphEndpoint"):
        assert name in main_params and name in DEPLOY_GUIDE, name
        assert main_params[name].get("default") == bicep.module("functionapp")["parameters"][name].get("default"), name


# --- Row 10: the site's host name comes from defaultHostName --------------------------------------
def test_host_name_is_the_sites_default_host_name_not_built_from_the_app_name():
    output = bicep.main()["outputs"]["functionAppHostName"]
    assert _accessor(output["value"]) == ["functionApp", "outputs", "defaultHostName"]
    assert "azurewebsites.net" not in DEPLOY_GUIDE
    assert "<functionAppHostName>" in DEPLOY_GUIDE


# --- Row 11: versions keep evidence longer than retentionDays -------------------------------------
def test_the_guide_states_how_long_versions_and_soft_delete_keep_blobs():
    params = bicep.module("storage")["parameters"]
    versions, soft_delete = params["previousVersionRetentionDays"]["default"], params["softDeleteDays"]["default"]
    assert f"`previousVersionRetentionDays` ({versions})" in DEPLOY_GUIDE, (
        "docs/deploy.md must state how long previous versions of overwritten blobs are kept")
    assert f"**`max(retentionDays, immutabilityDays)` + {soft_delete}** days" in DEPLOY_GUIDE, (
        "docs/deploy.md must state the real retention of evidence (the later of the two periods + soft delete)")
    main = bicep.main()["parameters"]
    default_total = max(main["retentionDays"]["default"], main["immutabilityDays"]["default"]) + soft_delete
    assert f"{default_total:,} days with the defaults" in DEPLOY_GUIDE


# --- Row 12: a later deployment never puts an omitted WhatsApp secret back over the vault's --------
def test_whatsapp_secrets_are_written_only_when_given_and_match_the_key_vault_references():
    secrets = {name: r["config"] for name, r in bicep.module("whatsapp")["resources"].items()
               if r["type"] == "Microsoft.KeyVault/vaults/secrets"}
    assert len(secrets) == 3, sorted(secrets)
    referenced = set()
    for name, resource in secrets.items():
        value = resource["config"]["properties"]["value"]
        assert resource["condition"] == {"operator": {"type": "not", "operands": {"bool_value": {
            "function": {"type": "empty", "parameters": {"item_to_test": value}}}}}}, (
            f"{name}: write the secret only if its parameter is not empty (ARM re-PUTs it on every deployment)")
        # checkov cannot read a conditional resource (its CKV_AZURE_114 is skipped): check contentType here
        assert resource["config"]["properties"]["contentType"] == "text/plain", name
        referenced.add(resource["config"]["name"])
    settings = {e["name"]: e["value"] for e in bicep.variable(bicep.module("functionapp"), "whatsappAppSettings")}
    names = {re.search(r"SecretName=([^)]+)\)", v).group(1) for v in settings.values() if "@Microsoft.KeyVault(" in v}
    assert names == referenced
