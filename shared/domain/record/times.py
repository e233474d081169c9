"""Timestamps as a reviewer reads them: UTC always, and the tenant's display time zone beside it."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo | None:
    """The display zone, or None (UTC only) when the name is unknown: a bad setting never stops a render."""
    try:
        return ZoneInfo(name) if name and name.upper() != "UTC" else None
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return None


def _fmt(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text


def utc_text(moment: datetime) -> str:
    return _fmt(moment.astimezone(timezone.utc)) + " UTC"


def local_text(moment: datetime, display_zone: ZoneInfo | None) -> str | None:
    """The time in the display zone, e.g. ``2026-11-22 10:15:02 CET (Europe/Berlin, UTC+01:00)``."""
    if display_zone is None:
        return None
    local = moment.astimezone(display_zone)
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{_fmt(local)} {local.tzname() or ''} ({display_zone.key}, {offset})".replace("  ", " ")


def both(moment: datetime, display_zone: ZoneInfo | None) -> str:
    local = local_text(moment, display_zone)
    return utc_text(moment) + (f" / {local}" if local else "")


def duration_text(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
