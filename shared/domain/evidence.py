"""The daily evidence manifest: what was captured, what was rendered, where each copy landed.

Pure code, no I/O. One manifest per report day, ``evidence/{date}.jsonl`` (a rebuild whose content
differs goes to ``{date}.s1.jsonl``, ``.s2``, ...; nothing is ever overwritten). The file is JSON
Lines, canonical (sorted keys, no spaces, UTF-8, one ``\\n`` after each line), so the same content
always gives the same bytes:

- line 1, the header: format and version, the report date, the supplement number, ``seq`` (the
  position of this file in the chain, in the order files were written), ``previous`` (name, seq
  and sha256 of the file written just before it: normally the previous day's manifest; None for
  the first), ``items`` (how many item lines follow) and ``items_sha256`` (sha256 of those lines);
- then one line per item of the day, sorted by item id: item id, source, stage, sent time, the
  raw item as received (blob and sha256), each attachment (sha256 named by the item, and the
  sha256 of the stored bytes), each rendered record (blob, sha256), per mailbox copy the Graph
  immutable message id and the outcome, and any re-send of the item with other bytes (blob, sha256).

A removed or altered file breaks the chain: the next file's header names it and its hash. The
file's own sha256 is also sent to Application Insights (outside the storage account).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date

FORMAT = "whatsapp-archiver-evidence"
VERSION = 1
EXTENSION = ".jsonl"
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.s([1-9]\d*))?\.jsonl$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_name(day: str, supplement: int = 0) -> str:
    date.fromisoformat(day)
    return f"{day}{EXTENSION}" if supplement == 0 else f"{day}.s{supplement}{EXTENSION}"


def parse_manifest_name(name: str) -> tuple[str, int] | None:
    """(day, supplement) of a manifest blob name, or None for any other name."""
    m = _NAME.match(name)
    if not m:
        return None
    try:
        date.fromisoformat(m.group(1))
    except ValueError:
        return None
    return m.group(1), int(m.group(2) or 0)


# --------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class BlobHash:
    blob: str  # container/path
    sha256: str | None  # None: the blob was not there when the manifest was written


@dataclass(frozen=True)
class AttachmentHash:
    attachment_id: str
    sha256: str  # what the item says the file hashes to (also its blob name)
    stored_sha256: str | None  # what the stored bytes hashed to; None: never stored (refused or corrupt at the feed)


@dataclass(frozen=True)
class CopyEntry:
    mailbox: str
    outcome: str  # imported | partial | skipped | failed | pending
    message_id: str | None = None  # Graph's immutable id, when the copy landed
    archived_on: str | None = None  # the report day the copy first landed (a skipped re-send names it)


@dataclass(frozen=True)
class ItemEntry:
    item_id: str
    source: str
    stage: str
    sent_at: str | None = None  # the record's Date: what Graph's sentDateTime must show
    raw: BlobHash | None = None
    attachments: tuple[AttachmentHash, ...] = ()
    records: tuple[BlobHash, ...] = ()
    copies: tuple[CopyEntry, ...] = ()
    resent: tuple[BlobHash, ...] = ()  # re-sends of the item with other bytes, kept beside the first

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ItemEntry":
        return cls(
            item_id=data["item_id"], source=data.get("source", ""), stage=data.get("stage", ""),
            sent_at=data.get("sent_at"),
            raw=BlobHash(**data["raw"]) if data.get("raw") else None,
            attachments=tuple(AttachmentHash(**a) for a in data.get("attachments") or ()),
            records=tuple(BlobHash(**r) for r in data.get("records") or ()),
            copies=tuple(CopyEntry(**c) for c in data.get("copies") or ()),
            resent=tuple(BlobHash(**r) for r in data.get("resent") or ()),
        )


@dataclass(frozen=True)
class Link:
    name: str
    seq: int
    sha256: str


@dataclass(frozen=True)
class Header:
    date: str
    supplement: int
    seq: int
    previous: Link | None
    items: int
    items_sha256: str
    format: str = FORMAT
    version: int = VERSION

    @property
    def name(self) -> str:
        return manifest_name(self.date, self.supplement)


@dataclass(frozen=True)
class Manifest:
    header: Header
    entries: tuple[ItemEntry, ...]
    raw_items: bytes = field(default=b"", repr=False)  # the item lines as stored


class ManifestInvalid(ValueError):
    """The bytes are not a manifest this code wrote (not JSON Lines, no header, wrong format)."""


def _line(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass") + b"\n"


def item_lines(entries: list[ItemEntry] | tuple[ItemEntry, ...]) -> bytes:
    return b"".join(_line(e.to_json()) for e in sorted(entries, key=lambda e: e.item_id))


def render_manifest(day: str, entries: list[ItemEntry], *, supplement: int, seq: int, previous: Link | None) -> bytes:
    body = item_lines(entries)
    header = Header(date=day, supplement=supplement, seq=seq, previous=previous, items=len(entries),
                    items_sha256=sha256_hex(body))
    return _line({"header": asdict(header)}) + body


def parse_manifest(data: bytes) -> Manifest:
    first, sep, rest = data.partition(b"\n")
    try:
        head = json.loads(first)["header"]
        if head.get("format") != FORMAT:
            raise ManifestInvalid(f"the first line is not a {FORMAT} header")
        previous = Link(**head["previous"]) if head.get("previous") else None
        header = Header(date=head["date"], supplement=int(head["supplement"]), seq=int(head["seq"]), previous=previous,
                        items=int(head["items"]), items_sha256=head["items_sha256"], version=int(head["version"]))
        entries = tuple(ItemEntry.from_json(json.loads(line)) for line in rest.split(b"\n") if line.strip())
    except ManifestInvalid:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestInvalid(f"not a readable manifest ({type(exc).__name__}: {exc})") from None
    return Manifest(header=header, entries=entries, raw_items=rest if sep else b"")


def same_content(a: Manifest, b_entries: list[ItemEntry]) -> bool:
    """Does a stored manifest already say exactly what a rebuild would?"""
    return item_lines(a.entries) == item_lines(b_entries)


# --------------------------------------------------------------------------- findings
MISSING_BLOB = "missing blob"
ALTERED_BYTES = "altered bytes"
BROKEN_CHAIN = "broken chain"
MISSING_MANIFEST = "missing manifest"
ALTERED_MANIFEST = "altered manifest"
MISSING_COPY = "missing copy"
MOVED_COPY = "moved copy"
ALTERED_COPY = "altered copy"
UNCHECKED = "not checked"  # e.g. Graph unreachable: not proof of tampering, but not a clean verdict either


@dataclass(frozen=True)
class Finding:
    day: str
    kind: str
    subject: str  # the item id, blob or manifest the finding is about
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


def check_blob(day: str, item_id: str, what: str, expected: BlobHash, actual_sha256: str | None) -> list[Finding]:
    """Compare a recorded blob hash with what storage holds now (None: the blob is gone)."""
    if expected.sha256 is None:
        return []
    if actual_sha256 is None:
        return [Finding(day, MISSING_BLOB, item_id, f"{what} {expected.blob} is missing (manifest sha256 {expected.sha256})")]
    if actual_sha256 != expected.sha256:
        return [Finding(day, ALTERED_BYTES, item_id,
                        f"{what} {expected.blob} hashes to {actual_sha256}, the manifest says {expected.sha256}")]
    return []


def check_chain(manifests: dict[str, bytes | None], names_in_scope: list[str]) -> list[Finding]:
    """Check each in-scope manifest's own integrity and its link to the file written before it.

    ``manifests`` maps every manifest name needed (those in scope and the ones they name as
    previous) to its bytes, or None when it is not in storage.
    """
    findings: list[Finding] = []
    parsed: dict[str, Manifest] = {}
    for name in names_in_scope:
        day = (parse_manifest_name(name) or (name, 0))[0]
        data = manifests.get(name)
        if data is None:
            findings.append(Finding(day, MISSING_MANIFEST, name, "the manifest is not in the evidence container"))
            continue
        try:
            m = parse_manifest(data)
        except ManifestInvalid as exc:
            findings.append(Finding(day, ALTERED_MANIFEST, name, str(exc)))
            continue
        parsed[name] = m
        if m.header.name != name:
            findings.append(Finding(day, ALTERED_MANIFEST, name, f"its header names it {m.header.name}"))
        if sha256_hex(m.raw_items) != m.header.items_sha256 or len(m.entries) != m.header.items:
            findings.append(Finding(day, ALTERED_MANIFEST, name,
                                    f"its item lines hash to {sha256_hex(m.raw_items)} ({len(m.entries)} lines); "
                                    f"its header says {m.header.items_sha256} ({m.header.items} lines)"))
    seqs: dict[int, str] = {}
    for name, m in parsed.items():
        day = m.header.date
        if m.header.seq in seqs:
            findings.append(Finding(day, BROKEN_CHAIN, name, f"has the same chain position ({m.header.seq}) as {seqs[m.header.seq]}"))
        seqs[m.header.seq] = name
        link = m.header.previous
        if link is None:
            if m.header.seq != 0:
                findings.append(Finding(day, BROKEN_CHAIN, name, f"names no previous manifest but is number {m.header.seq} in the chain"))
            continue
        previous = manifests.get(link.name)
        if previous is None:
            findings.append(Finding(day, BROKEN_CHAIN, name,
                                    f"names {link.name} (sha256 {link.sha256}) as the previous manifest; it is missing"))
        elif sha256_hex(previous) != link.sha256:
            findings.append(Finding(day, BROKEN_CHAIN, name,
                                    f"names {link.name} with sha256 {link.sha256} as the previous manifest; "
                                    f"{link.name} now hashes to {sha256_hex(previous)} (altered after {name} was written)"))
    return findings


def days_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [date.fromordinal(d).isoformat() for d in range(start.toordinal(), end.toordinal() + 1)]
