"""checkov --framework bicep finds zero failed checks and parses every file (scripts/check-infra).

Runs the same step CI does; the first run creates .venv-checkov from requirements-infra.txt
(scripts/setup does it ahead of time).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.infra import bicep


@pytest.mark.slow
def test_checkov_finds_no_failed_check_and_no_parse_error():
    run = subprocess.run(
        [str(bicep.ROOT / "scripts" / "check-infra"), "checkov"],
        cwd=bicep.ROOT, capture_output=True, text=True, timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"scripts/check-infra checkov failed:\n{output[-4000:]}"
    summary = re.search(r"passed (\d+), failed (\d+), skipped (\d+), parsing errors (\d+)", output)
    assert summary, output[-2000:]
    passed, failed, _skipped, parse_errors = map(int, summary.groups())
    assert failed == 0 and parse_errors == 0 and passed > 0, summary.group(0)
