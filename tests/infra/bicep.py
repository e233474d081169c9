"""Read the Bicep in infra/ the way checkov does (pycep-parser), for the infra tests."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


_PARSER = BicepParser()


@lru_cache(maxsize=None)
def parsed(path: Path) -> dict:
    return _PARSER.parse(file_path=path)


def module(name: str) -> dict:
    return parsed(MODULES / f"{name}.bicep")


def main() -> dict:
    return parsed(INFRA / "main.bicep")


def variable(tree: dict, name: str):
    return tree["variables"][name]["value"]


def body(resource: dict) -> dict:
    """A resource's properties block (name, properties, ...), also for a conditional ``= if (...)`` one,
    which pycep parses as {condition, config}."""
    config = resource["config"]
    return config["config"] if "condition" in config and "config" in config else config


def is_identifier(value) -> bool:
    return isinstance(value, str) and bool(_IDENTIFIER.match(value))


def parameters_file() -> dict:
    data = json.loads((INFRA / "main.parameters.json").read_text())
    return {name: entry["value"] for name, entry in data["parameters"].items()}


def app_settings() -> dict[str, str]:
    """The Function App's settings as written in functionapp.bicep: name -> value expression."""
    entries = variable(module("functionapp"), "appSettings")
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"duplicate app settings: {sorted(n for n in names if names.count(n) > 1)}"
    return {e["name"]: e["value"] for e in entries}


def resolve_main_value(functionapp_param: str):
    """What main.bicep (with main.parameters.json, else the parameter's default) passes to a
    functionapp.bicep parameter; None when it is an expression rather than a plain value."""
    expression = main()["modules"]["functionApp"]["config"]["params"].get(functionapp_param)
    if not is_identifier(expression):
        return None
    given = parameters_file()
    if expression in given:
        return given[expression]
    param = main()["parameters"].get(expression)
    return None if param is None else param.get("default")
