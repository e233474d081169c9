"""infra/graph-access/grant-graph-permissions.sh converges the identity's Graph application
permissions to exactly what it needs, against a stand-in `az` that records what it is asked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.infra import bicep

SCRIPT = bicep.INFRA / "graph-access" / "grant-graph-permissions.sh"
PRINCIPAL = "11111111-2222-3333-4444-555555555555"
GRAPH_SP = "99999999-0000-0000-0000-000000000001"
ROLES = {  # Microsoft Graph application permissions (ids as in every tenant)
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    "Mail-Advanced.ReadWrite.All": "a1b2c3d4-0000-0000-0000-00000000adv1",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
}

FAKE_AZ = textwrap.dedent(
    """\
    #!{python}
    import json, os, re, sys
    args = sys.argv[1:]
    state_path = os.environ["FAKE_AZ_STATE"]
    state = json.load(open(state_path))
    opt = lambda name: args[args.index(name) + 1] if name in args else ""
    method, url, query = opt("--method"), opt("--url"), opt("--query")
    state["calls"].append([method, url] + ([opt("--body")] if "--body" in args else []))
    out = ""
    if method == "GET" and "servicePrincipals(appId=" in url:
        out = state["graph_sp"]
    elif method == "GET" and url.endswith("$select=appRoles"):
        by_value = re.search(r"value=='([^']+)'", query)
        by_id = re.search(r"id=='([^']+)'", query)
        if by_value:
            out = state["roles"].get(by_value.group(1), "")
        elif by_id:
            out = {{v: k for k, v in state["roles"].items()}}.get(by_id.group(1), "")
    elif method == "GET" and url.endswith("/appRoleAssignments"):
        out = "\\n".join(f"{{a}}\\t{{r}}" for a, r in state["assignments"])
    elif method == "POST":
        body = json.loads(opt("--body"))
        state["assignments"].append(["new-" + body["appRoleId"], body["appRoleId"]])
    elif method == "DELETE":
        gone = url.rsplit("/", 1)[1]
        state["assignments"] = [a for a in state["assignments"] if a[0] != gone]
    json.dump(state, open(state_path, "w"))
    if out:
        print(out)
    """
)


@pytest.fixture
def fake_az(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable))
    az.chmod(0o755)
    state = tmp_path / "state.json"

    def run(*args, assignments=()):
        state.write_text(json.dumps({"graph_sp": GRAPH_SP, "roles": ROLES, "calls": [],
                                     "assignments": [[f"asg-{i}", ROLES[n]] for i, n in enumerate(assignments)]}))
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_AZ_STATE": str(state)}
        result = subprocess.run(["bash", str(SCRIPT), "--principal-id", PRINCIPAL, *args],
                                capture_output=True, text=True, env=env, timeout=60)
        data = json.loads(state.read_text())
        held = {name for name, rid in ROLES.items() if any(r == rid for _, r in data["assignments"])}
        return result, held, data["calls"]

    return run


pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_default_grants_only_user_read_all_and_leaves_mail_to_exchange(fake_az):
    result, held, calls = fake_az()
    assert result.returncode == 0, result.stderr
    assert held == {"User.Read.All"}
    posts = [c for c in calls if c[0] == "POST"]
    assert len(posts) == 1 and f"/servicePrincipals/{PRINCIPAL}/appRoleAssignments" in posts[0][1]
    assert json.loads(posts[0][2]) == {"principalId": PRINCIPAL, "resourceId": GRAPH_SP, "appRoleId": ROLES["User.Read.All"]}
    assert "scope-mailboxes.ps1" in result.stdout


def test_tenant_wide_mail_readwrite_is_removed_when_exchange_scopes_it(fake_az):
    result, held, _ = fake_az(assignments=("User.Read.All", "Mail.ReadWrite"))
    assert result.returncode == 0, result.stderr
    assert held == {"User.Read.All"}
    assert "removed Mail.ReadWrite" in result.stdout


def test_import_mime_adds_mail_advanced_and_tenant_scope_adds_mail_readwrite(fake_az):
    result, held, _ = fake_az("--create-mode", "import_mime", "--mail-scope", "tenant")
    assert result.returncode == 0, result.stderr
    assert held == {"User.Read.All", "Mail.ReadWrite", "Mail-Advanced.ReadWrite.All"}


def test_json_mode_removes_mail_advanced(fake_az):
    _, held, _ = fake_az(assignments=("User.Read.All", "Mail-Advanced.ReadWrite.All"))
    assert held == {"User.Read.All"}


def test_unrelated_permission_is_reported_and_only_pruned_on_request(fake_az):
    result, held, _ = fake_az(assignments=("Directory.Read.All",))
    assert "Directory.Read.All" in held and "--prune" in result.stderr
    _, held, _ = fake_az("--prune", assignments=("Directory.Read.All",))
    assert held == {"User.Read.All"}


def test_dry_run_changes_nothing(fake_az):
    result, held, calls = fake_az("--dry-run", assignments=("Mail.ReadWrite",))
    assert result.returncode == 0, result.stderr
    assert held == {"Mail.ReadWrite"}
    assert not [c for c in calls if c[0] in ("POST", "DELETE")]
    assert "+ az rest --method POST" in result.stdout and "+ az rest --method DELETE" in result.stdout


def test_rerun_is_idempotent(fake_az):
    result, held, calls = fake_az(assignments=("User.Read.All",))
    assert held == {"User.Read.All"} and not [c for c in calls if c[0] in ("POST", "DELETE")]
    assert "already granted" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--create-mode", "mime"], "--create-mode must be json or import_mime"),
    (["--mail-scope", "all"], "--mail-scope must be exchange or tenant"),
])
def test_bad_arguments_are_named(fake_az, args, message):
    result, _, calls = fake_az(*args)
    assert result.returncode == 2 and message in result.stderr and not calls
