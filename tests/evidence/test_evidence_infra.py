"""The Bicep keeps evidence on non-rewriteable, non-erasable storage, and no lifecycle rule deletes it early."""

from __future__ import annotations

from shared import names
from tests.infra import bicep

STORAGE = bicep.module("storage")
RESOURCES = STORAGE["resources"]


def _loop(resource: dict) -> tuple[dict, dict]:
    """(loop detail, body) of a resource declared with a for loop."""
    config = resource["config"]
    return config["loop_type"]["detail"], config["config"]


def test_the_evidence_containers_are_the_codes_and_exist():
    evidence = bicep.variable(STORAGE, "evidenceContainerNames")
    assert evidence == list(names.EVIDENCE_CONTAINERS) == ["raw", "attachments", "mime", "evidence"]
    assert set(evidence) <= set(bicep.variable(STORAGE, "containerNames"))


def test_each_evidence_container_has_version_level_immutability_and_a_time_based_retention_policy():
    loop, body = _loop(RESOURCES["containers"])
    assert loop == {"item_name": "containerName", "array_name": "containerNames"}
    enabled = body["properties"]["immutableStorageWithVersioning"]["enabled"]
    assert enabled == {"function": {"type": "contains", "parameters": {"container": "evidenceContainerNames",
                                                                       "item_to_find": "containerName"}}}
    policy = RESOURCES["immutabilityPolicies"]
    assert policy["type"] == "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies"
    loop, body = _loop(policy)
    assert loop["array_name"] == "evidenceContainerNames"
    assert body["name"].endswith("/default/${containerName}/default")
    assert body["properties"]["immutabilityPeriodSinceCreationInDays"] == "immutabilityDays"
    assert body["properties"]["allowProtectedAppendWrites"] is False  # nothing may be added to a kept blob either
    # deployed unlocked; once locked with az (docs/evidence.md), redeployments leave the locked policy alone
    assert policy["config"]["condition"] == {"operator": {"type": "not", "operands": {"bool_value": "immutabilityPolicyLocked"}}}
    assert STORAGE["parameters"]["immutabilityPolicyLocked"]["default"] is False
    versioning = RESOURCES["blobService"]["config"]["properties"]["isVersioningEnabled"]
    assert versioning is True, "version-level immutability needs blob versioning"


def test_retention_is_seven_years_by_default_and_a_deployment_parameter():
    assert STORAGE["parameters"]["immutabilityDays"]["default"] == 2557
    main = bicep.main()
    assert main["parameters"]["immutabilityDays"]["default"] == 2557
    assert main["modules"]["storage"]["config"]["params"]["immutabilityDays"] == "immutabilityDays"


def _covers_evidence(rule: dict) -> bool:
    prefixes = rule["definition"]["filters"].get("prefixMatch")
    if not prefixes:
        return True  # no prefix filter: the rule applies to every container
    return any(p.split("/", 1)[0] in names.EVIDENCE_CONTAINERS for p in prefixes)


def _deletes(rule: dict) -> list:
    actions = rule["definition"]["actions"]
    return [days for target in actions.values() for action, cond in target.items() if action == "delete"
            for days in cond.values()]


def test_no_lifecycle_rule_deletes_evidence_before_the_retention_ends():
    rules = RESOURCES["lifecycle"]["config"]["properties"]["policy"]["rules"]
    covering = [r for r in rules if _covers_evidence(r)]
    assert covering, "the evidence rule is gone"
    at_least_retention = {"function": {"type": "max", "parameters": {"arg_1": "retentionDays", "arg_2": "immutabilityDays"}}}
    for rule in covering:
        for days in _deletes(rule):
            assert days == at_least_retention, f"lifecycle rule {rule['name']} deletes evidence after {days}"
        # a deleted evidence blob lives on as a previous version: that version goes at the retention too, never sooner
        for days in rule["definition"]["actions"].get("version", {}).get("delete", {}).values():
            assert days == at_least_retention, f"{rule['name']} prunes versions of evidence after {days}"
    tiers = covering[0]["definition"]["actions"]["baseBlob"]
    assert "tierToCool" in tiers and "tierToArchive" not in tiers  # verify must be able to read it back
