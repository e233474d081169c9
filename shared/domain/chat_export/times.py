"""Wall-clock export times to UTC in a named zone, with DST gaps and repeats named, not hidden."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def to_utc(wall: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """(UTC time, note): the note says when the wall-clock time did not exist or existed twice."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    utc = first.astimezone(timezone.utc)
    back = utc.astimezone(zone).replace(tzinfo=None)
    if back != wall:
        return utc, (f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks went forward); "
                     f"read with the offset before the change, {first.strftime('%z')}")
    if first.utcoffset() != second.utcoffset():
        return utc, (f"{wall:%Y-%m-%d %H:%M} happened twice in {zone.key} (clocks went back); "
                     f"took the first, offset {first.strftime('%z')}")
    return utc, None
