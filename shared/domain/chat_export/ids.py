"""Stable ids for messages that have none: the same message gets the same id in every export.

Key = (owner, chat, wall-clock minute, canonical sender, canonical body) plus the occurrence
number among identical keys in one file (Android writes runs of same-minute ``<Media omitted>``).
Canonical forms drop what differs between two exports of one message: invisible marks, exotic
spaces and line ends, seconds (Android has none), the marker's language, and whether the export
carried media (an attached file and "omitted" are the same message: ``⟨media⟩``).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import datetime
from functools import lru_cache

from shared.domain.chat_export.markers import Kind, plain
from shared.domain.phones import is_phone_like, normalise_phone

ID_PREFIX = "wa-export-"
_EDITED_TAIL = re.compile(r"\s*<[^<>]+>$")
_WS = re.compile(r"\s+")


@lru_cache(maxsize=4096)
def canonical_sender(author: str | None, region: str) -> str:
    if author is None:
        return "⟨system⟩"
    name = plain(author)
    if is_phone_like(name):
        return normalise_phone(name, region) or name
    return _WS.sub(" ", name)


def canonical_body(body: str, kind: Kind) -> str:
    if kind.name in ("attached", "omitted"):
        caption = kind.detail.get("caption")
        return "⟨media⟩" + ("\n" + _WS.sub(" ", plain(caption)) if caption else "")
    if kind.name == "deleted":
        return "⟨deleted⟩"
    if kind.name == "location":
        return "⟨location⟩ " + kind.detail.get("url", "")
    if kind.name == "view_once":
        return "⟨view once⟩"
    text = "\n".join(_WS.sub(" ", plain(line)) for line in body.replace("\r\n", "\n").split("\n"))
    if kind.name == "edited":
        return _EDITED_TAIL.sub("", text) + "⟨edited⟩"
    return text.strip()


def canonical_message(author: str | None, body: str, kind: Kind, region: str) -> tuple[str, str]:
    """(sender key, body key), the same however the line was split into author and body.

    A name may hold ': ' ("Bob: Jr: hi" is Bob Jr saying "hi", or Bob saying "Jr: hi"), and which
    reading wins depends on how often each prefix occurs, which differs between a short export and
    a longer later one. So the key is taken from the whole remainder: the text before its first
    ': ' (E.164 when it is a phone number) and everything after it, with the first marker found
    after any ': ' made neutral.
    """
    if author is None:
        return canonical_sender(None, region), canonical_body(body, kind)
    full = plain(author) + ": " + body
    first, _, tail = full.partition(": ")
    return canonical_sender(first, region), _canonical_tail(tail)


def _canonical_tail(tail: str) -> str:
    from shared.domain.chat_export.markers import classify_body

    start = 0
    for _ in range(5):
        rest = tail[start:]
        kind = classify_body(rest)
        if kind.name != "text":
            head = _WS.sub(" ", plain(tail[:start]))
            return head + canonical_body(rest, kind)
        i = tail.find(": ", start)
        if i < 0 or i > 200:
            break
        start = i + 2
    return canonical_body(tail, Kind("text"))


def message_key(owner: str, chat: str, wall_clock: datetime, sender: str, body: str) -> str:
    minute = wall_clock.strftime("%Y-%m-%dT%H:%M")
    return "\0".join((owner.lower(), chat, minute, sender, body))


def message_id(key: str, occurrence: int) -> str:
    digest = hashlib.sha256(f"{key}\0{occurrence}".encode("utf-8", "surrogatepass")).hexdigest()
    return ID_PREFIX + digest[:40]


def slot(owner: str, chat: str, wall_clock: datetime, sender: str) -> str:
    """Where a message's earlier versions live: (owner, chat, minute, sender), as a short path."""
    h = lambda v: hashlib.sha256(v.encode("utf-8", "surrogatepass")).hexdigest()[:16]  # noqa: E731
    return f"{h(owner.lower())}/{h(chat)}/{wall_clock.strftime('%Y%m%dT%H%M')}/{h(sender)}"


class EntryIds:
    """(id, slot) of each entry of one file, called in file order: the importer's only per-message state
    is here, one digest per distinct key, counting its occurrences."""

    def __init__(self, owner: str, chat: str, region: str):
        self.owner, self.chat, self.region = owner, chat, region
        self.occurrences: Counter = Counter()

    def __call__(self, entry) -> tuple[str, str]:
        sender, body = canonical_message(entry.author, entry.body, entry.kind, self.region)
        key = message_key(self.owner, self.chat, entry.wall_clock, sender, body)
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        self.occurrences[digest] += 1
        return message_id(key, self.occurrences[digest]), slot(self.owner, self.chat, entry.wall_clock, sender)
