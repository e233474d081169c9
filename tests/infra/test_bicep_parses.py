"""Every .bicep file parses with pycep-parser, the parser checkov scans with.

checkov counts a file it cannot parse as a 'parsing error' and still exits 0, so this is the
check that catches syntax pycep cannot read (user-defined types, lambdas, nullable types...).
"""

from __future__ import annotations

import re

import pytest

from tests.infra import bicep

FILES = bicep.bicep_files()


def test_the_deployment_has_a_main_template_and_modules():
    names = {p.relative_to(bicep.INFRA).as_posix() for p in FILES}
    assert "main.bicep" in names
    for module in ("identity", "storage", "keyvault", "monitoring", "functionapp", "rbac", "alerts", "workbook"):
        assert f"modules/{module}.bicep" in names, f"infra/modules/{module}.bicep is missing"


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(bicep.INFRA).as_posix() for p in FILES])
def test_bicep_file_parses(path):
    tree = bicep.parsed(path)
    assert tree.get("resources") or tree.get("modules"), f"{path} declares no resource or module"


def test_main_uses_every_module_it_ships():
    used = {m["detail"]["path"] for m in bicep.main()["modules"].values()}
    shipped = {p.relative_to(bicep.INFRA).as_posix() for p in FILES if p.parent == bicep.MODULES}
    assert shipped == used, f"modules not referenced by main.bicep: {sorted(shipped - used)}"


SKIP = re.compile(r"checkov:skip=")
SKIP_WITH_REASON = re.compile(r"^\s*// checkov:skip=(CKV2?_AZURE_\d+):(.{20,})$")


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(bicep.INFRA).as_posix() for p in FILES])
def test_every_checkov_skip_is_inline_with_a_reason(path):
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if SKIP.search(line):
            assert SKIP_WITH_REASON.match(line), (
                f"{path.name}:{number}: a checkov skip must be a Bicep comment of the form "
                f"'// checkov:skip=CKV_AZURE_N:reason' with a reason of 20+ characters, got {line.strip()!r}"
            )


def test_main_outputs_what_the_admin_needs_next():
    outputs = bicep.main()["outputs"]
    for name in ("identityClientId", "identityPrincipalId", "functionAppName", "storageAccountName", "keyVaultName"):
        assert name in outputs, f"main.bicep must output {name}"


def test_parameters_file_sets_only_declared_parameters_and_every_required_one():
    declared = bicep.main()["parameters"]
    given = bicep.parameters_file()
    assert set(given) <= set(declared), f"unknown parameters in main.parameters.json: {sorted(set(given) - set(declared))}"
    required = {name for name, p in declared.items() if "default" not in p}
    assert required <= set(given), f"main.parameters.json lacks required parameters: {sorted(required - set(given))}"
