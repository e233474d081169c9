"""Line headers of WhatsApp "Export chat" files: the date, the time, and where the rest begins.

One compiled pattern covers every shape the notes list (iOS ``[date, time] ``, iOS before 2017
``date, time: ``, Android ``date, time - ``; 2- or 4-digit years; ``/ . -`` separators; with or
without the comma; ``à``/``klo``/``um`` between date and time; 12 h clocks with ``AM``, ``a. m.``,
``in the morning``, German day parts, NNBSP or NBSP before them). Invisible marks (LRM, RLM,
embeddings, isolates, BOM) are allowed anywhere in the header and never reach the body: the body
is the raw text after the header, untouched.

The date's component order is NOT decided here: a header gives three numbers, and
``DateOrderVote`` decides the order once per file (``decide_order``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

DateOrder = Literal["dmy", "mdy", "ymd"]
ORDERS: tuple[DateOrder, ...] = ("dmy", "mdy", "ymd")

MARKS = "\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
_MARK_CHARS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_M = f"[{MARKS}]*"
_S = "[ \u00a0\u202f\u2009]"
_AMPM = (r"(?P<ampm>[AaPp]\.?" + _S + r"?[Mm]\.?|in the morning|in the afternoon|in the evening|at night"
         r"|morgens|vorm\.|mittags|nachm\.|abends|nachts)")
_DATE = (rf"(?P<d1>\d{{1,4}}){_M}(?P<sep>[./-]){_M}(?P<d2>\d{{1,2}}){_M}(?P=sep){_M}(?P<d3>\d{{1,4}})\.?"
         rf"(?:{_S}?(?P<era>BE))?")
_BETWEEN = rf"(?:,{_S}*|{_S}+)(?:(?:à|klo|um){_S}+)?"
_TIME = rf"(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?:[:.](?P<s>\d{{2}}))?(?:{_S}*{_AMPM})?"
HEADER_RE = re.compile(
    rf"^{_M}(?P<br>\[)?{_M}{_DATE}{_M}{_BETWEEN}{_M}{_TIME}{_M}"
    rf"(?(br)\]{_S}|(?:(?P<dash>\.?{_S}+-{_S})|(?P<colon>:{_S})))"  # iOS "] ", Android " - ", old iOS ": "
    rf"{_M}"
)
_AM = {"am", "a.m.", "a. m.", "a.m", "in the morning", "morgens", "vorm."}


@dataclass(frozen=True)
class Header:
    platform: Literal["ios", "android"]
    parts: tuple[int, int, int]
    year_digits: tuple[int, int, int]
    hour: int
    minute: int
    second: int | None
    buddhist: bool
    end: int  # index in the line where the body (author or system text) begins

    def wall_clock(self, order: DateOrder) -> datetime | None:
        """The naive wall-clock time under ``order``; None when the numbers are no date in that order."""
        d = to_date(self.parts, self.year_digits, order, self.buddhist)
        if d is None:
            return None
        return datetime(d.year, d.month, d.day, self.hour, self.minute, self.second or 0)


def _hour24(hour: int, ampm: str | None) -> int | None:
    if ampm is None:
        return hour if hour < 24 else None
    if not 1 <= hour <= 12:
        return None
    tag = re.sub(f"{_S}+", " ", ampm.lower())
    if tag in _AM:
        return 0 if hour == 12 else hour
    if tag == "mittags":
        return hour if hour == 12 else hour + 12 if hour < 6 else hour
    if tag in ("nachts", "at night"):
        return (hour + 12) % 24 if hour >= 9 else (0 if hour == 12 else hour)
    return 12 if hour == 12 else hour + 12


def parse_header(line: str) -> Header | None:
    """The header at the start of ``line`` or None (then the line continues the previous message)."""
    first = line[:1]
    if not (first.isdigit() or first == "[" or first in _MARK_CHARS):
        return None  # most continuation lines: no need to run the pattern
    m = HEADER_RE.match(line)
    if m is None:
        return None
    platform: Literal["ios", "android"] = "android" if m.group("dash") else "ios"
    hour = _hour24(int(m.group("h")), m.group("ampm"))
    minute = int(m.group("mi"))
    second = int(m.group("s")) if m.group("s") else None
    if hour is None or minute > 59 or (second is not None and second > 59):
        return None
    if m.group("colon") and second is None:  # iOS always wrote seconds; without them it is pasted text
        return None
    raw = (m.group("d1"), m.group("d2"), m.group("d3"))
    return Header(platform=platform, parts=tuple(int(x) for x in raw), year_digits=tuple(len(x) for x in raw),
                  hour=hour, minute=minute, second=second, buddhist=bool(m.group("era")), end=m.end())


def _year(value: int, digits: int, buddhist: bool) -> int | None:
    if digits == 2:
        return 2000 + value
    if digits == 4:
        return value - 543 if buddhist else value
    return None


def to_date(parts: tuple[int, int, int], digits: tuple[int, int, int], order: DateOrder, buddhist: bool = False) -> date | None:
    a, b, c = parts
    if order == "ymd":
        if digits[0] != 4:
            return None
        y, mo, d = _year(a, 4, buddhist), b, c
    else:
        if digits[0] > 2 or digits[1] > 2:
            return None
        y = _year(c, digits[2], buddhist)
        d, mo = (a, b) if order == "dmy" else (b, a)
    if y is None:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


@dataclass
class DateOrderVote:
    """Scores each date order over a file's headers: failures first, then steps back in time."""

    failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDERS, 0))
    backwards: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDERS, 0))
    _last: dict[str, date | None] = field(default_factory=lambda: dict.fromkeys(ORDERS))
    headers: int = 0

    def add(self, header: Header) -> None:
        self.headers += 1
        for order in ORDERS:
            d = to_date(header.parts, header.year_digits, order, header.buddhist)
            if d is None:
                self.failures[order] += 1
                continue
            last = self._last[order]
            if last is not None and d < last:
                self.backwards[order] += 1
            self._last[order] = d

    def decide(self, fallback: DateOrder) -> tuple[DateOrder, str]:
        """(order, how it was decided): 'unambiguous', 'by chronology' or 'assumed (configured)'."""
        best = min(self.failures.values())
        fewest = [o for o in ORDERS if self.failures[o] == best]
        if len(fewest) == 1:
            return fewest[0], "decided by the dates (only one order reads every header)" if best == 0 else \
                f"decided by the dates (fewest unreadable headers: {best})"
        least_back = min(self.backwards[o] for o in fewest)
        by_time = [o for o in fewest if self.backwards[o] == least_back]
        if len(by_time) == 1:
            return by_time[0], "decided by chronology (the dates fit every order; this one goes back in time least)"
        choice = fallback if fallback in by_time else by_time[0]
        return choice, f"assumed ({choice}, the configured order): the dates fit {', '.join(by_time)} equally"
