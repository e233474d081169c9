"""Two passes over an export's lines: ``scan`` decides the file's shape, ``parse`` yields its messages.

Lines come in as ``str`` (their line end kept or not: a trailing CR/LF is dropped here). The
first pass reads headers only: the platform, the date order (decided once per file, never per
line), the authors seen (so that a name holding ``: `` or an author-less line holding ``": "``
is split right) and the exporter's own name when "You deleted this message" gives it away. The
second pass yields one ``Entry`` per message or system line, continuation lines joined to it,
and one ``Problem`` per line it could not place: nothing is dropped in silence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Iterator

from shared.domain.chat_export.header import DateOrder, DateOrderVote, Header, parse_header
from shared.domain.chat_export.markers import _DELETED, Kind, classify_body, classify_system, plain

MAX_AUTHOR = 100  # characters; longer prefixes before ": " are text, not names
MAX_SPLITS = 4


@dataclass
class Profile:
    platform: str  # ios | android
    date_order: DateOrder
    date_order_how: str
    lines: int
    headers: int
    authors: Counter
    exporter_names: Counter
    crlf_lines: int = 0

    @property
    def exporter_name(self) -> str | None:
        return self.exporter_names.most_common(1)[0][0] if self.exporter_names else None


@dataclass(frozen=True)
class Entry:
    line_no: int  # the header line, 1-based
    line_count: int
    wall_clock: datetime  # naive, as the phone showed it
    platform: str
    author: str | None  # as written (marks removed), None for author-less system lines
    body: str  # the raw text after the header (and after "Author: "), continuation lines joined by "\n"
    kind: Kind


@dataclass(frozen=True)
class Problem:
    line_no: int
    reason: str


def _strip_eol(line: str) -> tuple[str, bool]:
    if line.endswith("\r\n"):
        return line[:-2], True
    if line.endswith(("\n", "\r")):
        return line[:-1], False
    return line, False


def _candidates(rest: str) -> list[tuple[str, int]]:
    """(author as written, index where the body starts) for each ': ' in the first MAX_AUTHOR characters."""
    out = []
    start = 0
    for _ in range(MAX_SPLITS):
        i = rest.find(": ", start)
        if i < 0 or i > MAX_AUTHOR:
            break
        name = plain(rest[:i])
        if name:
            out.append((name, i + 2))
        start = i + 2
    return out


def scan(lines: Iterable[str], *, fallback_order: DateOrder = "dmy", forced_order: DateOrder | None = None) -> Profile:
    vote = DateOrderVote()
    platforms: Counter = Counter()
    authors: Counter = Counter()
    exporter: Counter = Counter()
    count = crlf = 0
    for raw in lines:
        count += 1
        line, had_crlf = _strip_eol(raw)
        crlf += had_crlf
        header = parse_header(line)
        if header is None:
            continue
        vote.add(header)
        platforms[header.platform] += 1
        rest = line[header.end:]
        for name, at in _candidates(rest):
            authors[name] += 1
            body = plain(rest[at:]).rstrip(".").lower()
            if _DELETED.get(body) == "you":
                exporter[name] += 1
    if forced_order:
        order, how = forced_order, "given (--date-order)"
    else:
        order, how = vote.decide(fallback_order)
    platform = platforms.most_common(1)[0][0] if platforms else "unknown"
    return Profile(platform=platform, date_order=order, date_order_how=how, lines=count, headers=vote.headers,
                   authors=authors, exporter_names=exporter, crlf_lines=crlf)


def split_author(rest: str, profile: Profile) -> tuple[str | None, str, Kind | None]:
    """(author or None, body, system kind) of a header line's remainder."""
    candidates = _candidates(rest)
    known = [c for c in candidates if profile.authors.get(c[0], 0) >= 2 or c[0] in profile.exporter_names]
    if known:
        # "Dr: Who: hi": 'Dr' and 'Dr: Who' are both seen; the longer name wins when the shorter never
        # appears without it (same count), else the shorter ("Bob: Note: x" from a Bob who says more).
        first = profile.authors.get(known[0][0], 0)
        best = [c for c in known if profile.authors.get(c[0], 0) == first][-1]
        return best[0], rest[best[1]:], None
    system = classify_system(rest)
    if system is not None or not candidates:
        return None, rest, system or Kind("system", {})
    return candidates[0][0], rest[candidates[0][1]:], None


@dataclass
class _Open:
    line_no: int
    header: Header
    wall: datetime
    author: str | None
    parts: list[str] = field(default_factory=list)
    system: Kind | None = None


def _close(cur: _Open) -> Entry:
    body = "\n".join(cur.parts)
    if cur.author is None:
        kind = classify_system(body) or cur.system or Kind("system", {})
    else:
        kind = classify_body(body)
    return Entry(line_no=cur.line_no, line_count=len(cur.parts), wall_clock=cur.wall, platform=cur.header.platform,
                 author=cur.author, body=body, kind=kind)


def parse(lines: Iterable[str], profile: Profile) -> Iterator[Entry | Problem]:
    """One Entry per message or system line (in file order), one Problem per line left unplaced.

    A line whose header does not read as a date in the file's order is kept as text of the
    previous message, and a Problem names it too (so the report accounts for it).
    """
    cur: _Open | None = None
    for n, raw in enumerate(lines, 1):
        line, _ = _strip_eol(raw)
        header = parse_header(line)
        wall = header.wall_clock(profile.date_order) if header else None
        if header is not None and wall is None:
            if cur is not None:
                cur.parts.append(line)
            yield Problem(n, f"looks like a header but is no date in the file's order ({profile.date_order})"
                             + ("; kept as text of the previous message" if cur is not None else "; not part of any message"))
            continue
        if header is None:
            if cur is not None:
                cur.parts.append(line)
            elif line.strip(" \ufeff\u200e\u200f"):
                yield Problem(n, "text before the first message header; not part of any message")
            else:
                yield Problem(n, "blank line before the first message header; not part of any message")
            continue
        if cur is not None:
            yield _close(cur)
        author, body, system = split_author(line[header.end:], profile)
        cur = _Open(n, header, wall, author, [body], system)
    if cur is not None:
        yield _close(cur)


def authors(lines: Iterable[str], profile: Profile, limit: int = 5000) -> list[str]:
    """Every name ``parse`` will give as an author (a third, cheap pass: headers only)."""
    seen: set[str] = set()
    for raw in lines:
        line, _ = _strip_eol(raw)
        header = parse_header(line)
        if header is None or header.wall_clock(profile.date_order) is None:
            continue
        author, _, _ = split_author(line[header.end:], profile)
        if author is not None and len(seen) < limit:
            seen.add(author)
    return sorted(seen)
