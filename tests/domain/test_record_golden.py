"""Golden records: one .eml per item type, compared byte for byte. UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.domain.record import RenderOptions, render_record
from tests.domain.record_samples import RAW, DictSource, item, mailbox_of

GOLDEN = Path(__file__).parent / "golden"
OPTIONS = RenderOptions(display_timezone="Europe/Berlin", default_region="US")


def render(name: str) -> bytes:
    return render_record(item(name), mailbox_of=mailbox_of, attachments=DictSource(), options=OPTIONS).eml


@pytest.mark.parametrize("name", sorted(RAW))
def test_golden(name: str) -> None:
    path = GOLDEN / f"{name}.eml"
    produced = render(name)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(produced)
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 and review it"
    assert produced == path.read_bytes(), f"{name}: record differs from {path.name} (UPDATE_GOLDEN=1 after review)"


def test_same_item_same_bytes() -> None:
    for name in RAW:
        assert render(name) == render(name)
