"""Fixture loading for the WhatsApp webhook domain tests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from shared.domain.items import parse_item
from shared.domain.whatsapp import Normalised, normalise_payload

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED = datetime(2026, 11, 23, 9, 20, 0, tzinfo=timezone.utc)
BUSINESS = "+15550783881"
CUSTOMER = "+447700900123"
CUSTOMER_UID = "GB.13491208655302741918"
CONVERSATION = "wa:106540352242922:+447700900123"


def body(name: str) -> bytes:
    path = FIXTURES / name
    return path.read_bytes() if path.suffix else (FIXTURES / f"{name}.json").read_bytes()


def normalise(name: str) -> Normalised:
    result = normalise_payload(body(name), received_at=RECEIVED)
    for item in result.items:
        parse_item(item)  # every item leaving the package meets the contract
    return result


def by_id(result: Normalised) -> dict[str, dict]:
    return {item["id"]: item for item in result.items}
