"""What a compliance officer checks after a run: every mapped copy present exactly once, nothing else.

The expectation comes from the generated day itself (``SampleDay.expected``: the generator knows who
is who), not from the archiver's mapping code, so a mapping bug cannot hide behind its own output.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

FOLDER = "WhatsApp Archiver"


@dataclass
class Verdict:
    items: int
    copies_expected: int
    copies_found: int
    lost: list[tuple[str, str]] = field(default_factory=list)
    duplicated: list[tuple[str, str, int]] = field(default_factory=list)
    unexpected: list[tuple[str, str, str]] = field(default_factory=list)  # (item, mailbox, folder)

    @property
    def exact(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)

    def __str__(self) -> str:
        return (f"{self.items} items, {self.copies_expected} copies expected, {self.copies_found} found; "
                f"lost {len(self.lost)} {self.lost[:5]}, duplicated {len(self.duplicated)} {self.duplicated[:5]}, "
                f"unexpected {len(self.unexpected)} {self.unexpected[:5]}")


def archive_id(message: dict) -> str | None:
    return message.get("archiveItemId")


def landed(world) -> Counter:
    """(item id, mailbox) -> number of copies in the mailbox's archive folder."""
    counts: Counter = Counter()
    for user in world.day.users:
        address = user["address"].lower()
        for message in world.graph.mailbox(address).get(FOLDER, []):
            counts[(archive_id(message), address)] += 1
    return counts


def verdict(world, expected: dict[str, set[str]] | None = None) -> Verdict:
    expected = world.day.expected if expected is None else expected
    want = {(item, mb.lower()) for item, mailboxes in expected.items() for mb in mailboxes}
    counts = landed(world)
    v = Verdict(items=len(expected), copies_expected=len(want), copies_found=sum(counts.values()))
    v.lost = sorted(k for k in want if counts.get(k, 0) == 0)
    v.duplicated = sorted((i, m, n) for (i, m), n in counts.items() if n > 1)
    v.unexpected = sorted((i, m, FOLDER) for (i, m) in counts if (i, m) not in want)
    for user in world.day.users:
        address = user["address"].lower()
        for folder, messages in world.graph.mailbox(address).items():
            if folder != FOLDER:
                v.unexpected.extend((archive_id(m) or "?", address, folder) for m in messages)
    return v


def sent_at(item_id: str, world) -> datetime:
    raw = next(i for i in world.day.items if i.get("id") == item_id)
    return datetime.fromisoformat(raw["sent_at"].replace("Z", "+00:00"))


def parse_graph_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fact(body_html: str, label: str) -> str | None:
    """The value a record's HTML body shows beside ``label`` in its table of facts (Source, Time zone, ...)."""
    m = re.search(r"<th[^>]*>" + re.escape(html.escape(label)) + r"</th><td[^>]*>(.*?)</td>", body_html, re.S)
    return html.unescape(m.group(1)) if m else None
