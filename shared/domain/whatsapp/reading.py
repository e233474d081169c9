"""Careful reading of untrusted webhook JSON: every accessor returns a value of the expected type or
raises ``Problem`` naming the field, so one bad message becomes one reported entry, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timezone
from typing import Any

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_INT = re.compile(r"^-?[0-9]+$")
_DIGITS = re.compile(r"^[0-9]+$")
_MAX_TS = 253402300799  # 9999-12-31T23:59:59Z


class Problem(ValueError):
    """A webhook record cannot be used: ``reason`` says which field and what was expected."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def obj(value: Any) -> dict | None:
    return value if isinstance(value, dict) else None


def objects(value: Any) -> list[tuple[int, dict]]:
    """(index, object) of a list's object entries; anything else is no entries."""
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def text(value: Any) -> str | None:
    """A non-empty string, or None (numbers are accepted as their decimal text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value != "":
        return value
    return None


def scalar_text(value: Any) -> str | None:
    """A string, or a number written as text (prices, quantities), or None."""
    if isinstance(value, float) and value == value and abs(value) < 1e15:
        return repr(value)
    return text(value)


def plain_text(value: Any) -> str | None:
    """A string (possibly empty), or None."""
    return value if isinstance(value, str) else None


def require_text(container: dict, key: str, where: str) -> str:
    value = text(container.get(key))
    if value is None:
        raise Problem(f"{where}.{key}: missing or not a string (got {type(container.get(key)).__name__})")
    return value


def timestamp(value: Any) -> datetime | None:
    """Meta's unix seconds (a string or a number) as an aware UTC datetime, or None if unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        body = value.strip()
        if not body or len(body) > 20:
            return None
        try:
            seconds: float = int(body) if _INT.match(body) else float(body)
        except ValueError:
            return None
    elif isinstance(value, (int, float)):
        seconds = value
    else:
        return None
    if seconds != seconds or not (0 <= seconds <= _MAX_TS):
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def require_timestamp(container: dict, key: str, where: str) -> datetime:
    moment = timestamp(container.get(key))
    if moment is None:
        raise Problem(f"{where}.{key}: missing or not unix seconds (expected e.g. \"1764230400\")")
    return moment


def sha256_hex(value: Any) -> str | None:
    """A SHA-256 as lowercase hex from Meta's base64 (webhooks) or hex (media GET); None if neither."""
    if not isinstance(value, str):
        return None
    body = value.strip()
    if _HEX64.match(body):
        return body.lower()
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if ("-" in body or "_" in body) else None,
                               validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def non_negative_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value == value and 0 <= value < 2**63:
        return int(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()) and len(value.strip()) < 19:
        return int(value.strip())
    return None
