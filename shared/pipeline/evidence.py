"""Evidence: write a report day's hash-chained manifest, and verify manifests against storage and Graph.

``write_manifest`` runs after the day's report (``Archiver.report``: the ``daily_report`` timer,
``python -m shared run`` and ``python -m shared report``). It hashes, for each item of the day, the
raw item as stored, each attachment, the rendered record, and takes each mailbox copy's Graph
message id and outcome from the ledger; writes ``evidence/{date}.jsonl`` with If-None-Match;
and sends the file's sha256 to Application Insights (the witness). A rebuild that says the same
writes nothing; one that says more (copies landed since, a late item) writes the next supplement
``{date}.sN.jsonl``, a complete snapshot of the day, chained after the latest file.

``verify`` recomputes every hash from storage, checks each file's own integrity and its link to
the file before it, that every day of the range has a manifest, and (``graph``) that every copy
is still in its mailbox's archive folder with its archive id and sent time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, ContextManager, Protocol

from shared import names
from shared.domain import evidence as ev
from shared.domain.items import ItemRejected, capture_day, parse_item
from shared.pipeline.convert import entry_point
from shared.pipeline.ports import CopyLookup, MailboxError

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- ports
@dataclass(frozen=True)
class ItemFact:
    item_key: str
    item_id: str
    stage: str
    raw_blob: str | None  # path inside raw/
    corrupt_attachments: tuple[str, ...] = ()
    source: str | None = None  # the entry point, when its tracking row names it (the webhook's does)


@dataclass(frozen=True)
class CopyFact:
    item_key: str
    item_id: str
    mailbox: str
    outcome: str
    message_id: str | None = None
    archived_on: str | None = None


@dataclass
class DayFacts:
    items: list[ItemFact] = field(default_factory=list)
    copies: list[CopyFact] = field(default_factory=list)


class ManifestStore(Protocol):
    def manifests(self) -> dict[str, int | None]:
        """Every manifest name -> its chain position (None when unknown)."""

    def read(self, name: str) -> bytes | None: ...

    def create(self, name: str, data: bytes, *, seq: int) -> bool:
        """Write only if the name is free (If-None-Match: *); False when taken."""

    def writing(self) -> ContextManager[None]:
        """Held while the chain's head is read and the next manifest written: one writer at a time."""


class BlobHasher(Protocol):
    def sha256(self, container: str, name: str) -> str | None:
        """sha256 of a stored blob; None when it does not exist."""


# --------------------------------------------------------------------------- build
def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_entries(facts: DayFacts, *, blobs, hasher: BlobHasher) -> list[ev.ItemEntry]:
    """One manifest entry per item of the day (and per transcript copy, which has no item row)."""
    copies: dict[str, list[ev.CopyEntry]] = {}
    copy_ids: dict[str, str] = {}
    for c in facts.copies:
        copies.setdefault(c.item_key, []).append(ev.CopyEntry(mailbox=c.mailbox, outcome=c.outcome, message_id=c.message_id,
                                                              archived_on=c.archived_on))
        copy_ids.setdefault(c.item_key, c.item_id)
    listed: dict[str, list[str]] = {}

    def resent(raw_blob: str) -> tuple[ev.BlobHash, ...]:
        """Re-sends with other bytes, kept beside the first as {key}.resent-{hash}.json (one listing per capture day)."""
        day_prefix = raw_blob.split("/", 1)[0] + "/"
        if day_prefix not in listed:
            listed[day_prefix] = [n for n in blobs.list(names.RAW, day_prefix) if ".resent-" in n]
        stem = raw_blob.removesuffix(".json") + ".resent-"
        return tuple(ev.BlobHash(f"{names.RAW}/{n}", hasher.sha256(names.RAW, n))
                     for n in sorted(listed[day_prefix]) if n.startswith(stem))

    entries = []
    for fact in facts.items:
        raw_bytes = blobs.get_if_exists(names.RAW, fact.raw_blob) if fact.raw_blob else None
        raw = ev.BlobHash(f"{names.RAW}/{fact.raw_blob}", ev.sha256_hex(raw_bytes) if raw_bytes is not None else None) \
            if fact.raw_blob else None
        # where the item came from is what our own code recorded (the tracking row, the raw blob's path),
        # never the item's own 'source' field: the feed could name itself chat_export
        source = entry_point(fact.source, fact.raw_blob)[0] if fact.raw_blob else "feed"
        item = None
        if raw_bytes is not None:
            try:
                item = parse_item(raw_bytes)
            except ItemRejected:
                item = None
        attachments, records = [], []
        if item is not None:
            for a in item.all_attachments:
                attachments.append(ev.AttachmentHash(attachment_id=a.id, sha256=a.sha256,
                                                     stored_sha256=hasher.sha256(names.ATTACHMENTS, a.sha256)))
            mime = f"{capture_day(item.captured_at)}/{fact.item_key}.eml"
            record_sha = hasher.sha256(names.MIME, mime)
            if record_sha is not None:  # absent: not converted (rejected, unmapped, pending) or in a transcript
                records.append(ev.BlobHash(f"{names.MIME}/{mime}", record_sha))
        entries.append(ev.ItemEntry(
            item_id=fact.item_id, source=source, stage=fact.stage, sent_at=_utc(item.sent_at) if item else None, raw=raw,
            attachments=tuple(attachments), records=tuple(records),
            copies=tuple(sorted(copies.pop(fact.item_key, []), key=lambda c: c.mailbox)),
            resent=resent(fact.raw_blob) if fact.raw_blob else ()))
    for key, rest in copies.items():  # transcript copies: their archive id is not an item of the day
        entries.append(ev.ItemEntry(item_id=copy_ids[key], source="transcript", stage="transcript",
                                    copies=tuple(sorted(rest, key=lambda c: c.mailbox))))
    return entries


# --------------------------------------------------------------------------- write
@dataclass(frozen=True)
class WriteResult:
    name: str
    sha256: str
    written: bool  # False: the latest manifest of the day already said the same
    items: int


def _head(store: ManifestStore, listing: dict[str, int | None]) -> ev.Link | None:
    """The file written last: the highest chain position (read from the header when metadata lacks it)."""
    best: tuple[int, str, bytes] | None = None
    for name, seq in listing.items():
        data = None
        if seq is None:
            data = store.read(name)
            try:
                seq = ev.parse_manifest(data).header.seq if data is not None else None
            except ev.ManifestInvalid:
                seq = None
        if seq is not None and (best is None or seq > best[0]):
            best = (seq, name, data or b"")
    if best is None:
        return None
    seq, name, data = best
    data = data or store.read(name) or b""
    return ev.Link(name=name, seq=seq, sha256=ev.sha256_hex(data))


class _Remembered:
    """Hash each blob once per write; a rebuild takes the hashes its day's latest manifest recorded
    (evidence is immutable; if it was changed since, verify names it against that manifest)."""

    def __init__(self, hasher: BlobHasher, known: dict[str, str]):
        self.hasher, self.known = hasher, known

    def sha256(self, container: str, name: str) -> str | None:
        key = f"{container}/{name}"
        if key not in self.known:
            self.known[key] = self.hasher.sha256(container, name)
        return self.known[key]


def _recorded_hashes(data: bytes | None) -> dict[str, str]:
    try:
        manifest = ev.parse_manifest(data) if data is not None else None
    except ev.ManifestInvalid:
        return {}
    known: dict[str, str] = {}
    for e in manifest.entries if manifest else ():
        for b in ([e.raw] if e.raw else []) + list(e.records) + list(e.resent):
            if b.sha256:
                known[b.blob] = b.sha256
        for a in e.attachments:
            if a.stored_sha256:
                known[f"{names.ATTACHMENTS}/{a.sha256}"] = a.stored_sha256
    return known


class _ReadOnce:
    """The store, each manifest read at most once: a manifest never changes once written (If-None-Match,
    immutable storage), and a rebuild needs the day's latest file for its hashes, again under the lock
    to compare, and the chain's head (often that same file) to link after."""

    def __init__(self, store: ManifestStore):
        self.store, self.seen = store, {}

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def read(self, name: str) -> bytes | None:
        if name not in self.seen:
            data = self.store.read(name)
            if data is None:
                return None  # not there (yet): asked again next time
            self.seen[name] = data
        return self.seen[name]


def write_manifest(day: str, *, facts: DayFacts, blobs, hasher: BlobHasher, store: ManifestStore,
                   witness: Callable[[str, str, str], None] = lambda _d, _n, _h: None) -> WriteResult:
    date.fromisoformat(day)
    store = _ReadOnce(store)
    listing = store.manifests()
    ours = sorted((ev.parse_manifest_name(n)[1], n) for n in listing if ev.parse_manifest_name(n)[0] == day)
    known = _recorded_hashes(store.read(ours[-1][1])) if ours else {}
    entries = build_entries(facts, blobs=blobs, hasher=_Remembered(hasher, known))
    with store.writing():
        return _write(day, entries, store, witness)


def _write(day: str, entries: list[ev.ItemEntry], store: ManifestStore, witness) -> WriteResult:
    for _ in range(5):  # the lock keeps other writers out; a name taken anyway (no lock held) moves us on
        listing = store.manifests()
        ours = sorted((ev.parse_manifest_name(n)[1], n) for n in listing if ev.parse_manifest_name(n)[0] == day)
        if ours:
            latest = store.read(ours[-1][1])
            try:
                if latest is not None and ev.same_content(ev.parse_manifest(latest), entries):
                    return WriteResult(ours[-1][1], ev.sha256_hex(latest), False, len(entries))
            except ev.ManifestInvalid:
                pass  # an unreadable latest file: verify names it; the rebuild goes to a new supplement
        supplement = ours[-1][0] + 1 if ours else 0
        previous = _head(store, listing)
        seq = previous.seq + 1 if previous else 0
        name = ev.manifest_name(day, supplement)
        data = ev.render_manifest(day, entries, supplement=supplement, seq=seq, previous=previous)
        if store.create(name, data, seq=seq):
            digest = ev.sha256_hex(data)
            witness(day, name, digest)
            return WriteResult(name, digest, True, len(entries))
    raise RuntimeError(f"could not write the evidence manifest of {day}: its name was taken 5 times by another writer; "
                       "run `python -m shared report --date " + day + "` again")


# --------------------------------------------------------------------------- verify
@dataclass
class DayVerdict:
    day: str
    manifests: list[str] = field(default_factory=list)
    items: int = 0
    copies_checked: int = 0
    findings: list[ev.Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass
class Verification:
    days: list[DayVerdict] = field(default_factory=list)
    graph: bool = False

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.days)

    @property
    def findings(self) -> list[ev.Finding]:
        return [f for d in self.days for f in d.findings]


def _scope_days(days: list[str], first: str | None, last: str | None, today: date, clamp: bool) -> list[str]:
    """Every day that must have a manifest. No range: from the chain's first day to the latest manifest
    or yesterday, whichever is later. A range: each of its days (``clamp``: none before the chain began)."""
    yesterday = (today - timedelta(days=1)).isoformat()
    if first is None and last is None:
        return ev.days_between(days[0], max(days[-1], yesterday)) if days else []
    start = first or (days[0] if days else last)
    end = last or max(days[-1] if days else start, yesterday)
    if clamp and days and start < days[0]:
        start = days[0]
    if clamp and not days:
        return []
    return ev.days_between(start, end) if start <= end else []


def verify(*, store: ManifestStore, hasher: BlobHasher, first: str | None = None, last: str | None = None,
           copies: CopyLookup | None = None, folder_name: str = "WhatsApp Archiver",
           today: date | None = None, since_chain_start: bool = False) -> Verification:
    today = today or datetime.now(timezone.utc).date()
    listing = store.manifests()
    by_day: dict[str, list[str]] = {}
    for name in listing:
        by_day.setdefault(ev.parse_manifest_name(name)[0], []).append(name)
    result = Verification(graph=copies is not None)
    scope = _scope_days(sorted(by_day), first, last, today, since_chain_start)
    in_scope = [n for d in scope for n in sorted(by_day.get(d, []), key=lambda n: ev.parse_manifest_name(n)[1])]
    contents: dict[str, bytes | None] = {n: store.read(n) for n in in_scope}
    for data in list(contents.values()):  # the files the in-scope ones link to (maybe out of scope)
        try:
            link = ev.parse_manifest(data).header.previous if data is not None else None
        except ev.ManifestInvalid:
            link = None
        if link is not None and link.name not in contents:
            contents[link.name] = store.read(link.name)
    chain = ev.check_chain(contents, in_scope)
    hashes: dict[tuple[str, str], str | None] = {}
    graph = _GraphCheck(copies, folder_name) if copies is not None else None
    for d in scope:
        verdict = DayVerdict(day=d, manifests=sorted(by_day.get(d, []), key=lambda n: ev.parse_manifest_name(n)[1]))
        seen: set[tuple[str, str, str]] = set()

        def add(found: list[ev.Finding], seen=seen, verdict=verdict) -> None:
            for f in found:
                if (f.kind, f.subject, f.detail) not in seen:
                    seen.add((f.kind, f.subject, f.detail))
                    verdict.findings.append(f)

        if not verdict.manifests:
            add([ev.Finding(d, ev.MISSING_MANIFEST, ev.manifest_name(d),
                            "no manifest for this day: it was removed, or no report ran that day")])
        add([f for f in chain if f.day == d or (f.subject in verdict.manifests)])
        items: set[str] = set()
        asked_before = graph.checked if graph else 0
        for name in verdict.manifests:
            try:
                manifest = ev.parse_manifest(contents[name]) if contents.get(name) is not None else None
            except ev.ManifestInvalid:
                manifest = None
            for entry in manifest.entries if manifest else ():
                items.add(entry.item_id)
                add(_check_entry(d, entry, hasher, hashes))
                if graph is not None:
                    add(graph.check(d, entry))
        verdict.items = len(items)
        verdict.copies_checked = graph.checked - asked_before if graph else 0
        result.days.append(verdict)
    return result


def _hash(hasher: BlobHasher, hashes: dict, blob: str) -> str | None:
    container, _, path = blob.partition("/")
    key = (container, path)
    if key not in hashes:
        hashes[key] = hasher.sha256(container, path)
    return hashes[key]


def _check_entry(day: str, entry: ev.ItemEntry, hasher: BlobHasher, hashes: dict) -> list[ev.Finding]:
    found: list[ev.Finding] = []
    if entry.raw is not None:
        found += ev.check_blob(day, entry.item_id, "raw item", entry.raw, _hash(hasher, hashes, entry.raw.blob))
    for a in entry.attachments:
        if a.stored_sha256 is None:
            continue
        expected = ev.BlobHash(f"{names.ATTACHMENTS}/{a.sha256}", a.stored_sha256)
        found += ev.check_blob(day, entry.item_id, f"attachment {a.attachment_id}", expected,
                               _hash(hasher, hashes, expected.blob))
    for r in entry.records:
        found += ev.check_blob(day, entry.item_id, "record", r, _hash(hasher, hashes, r.blob))
    for r in entry.resent:
        found += ev.check_blob(day, entry.item_id, "re-sent raw item", r, _hash(hasher, hashes, r.blob))
    return found


class _GraphCheck:
    def __init__(self, copies: CopyLookup, folder_name: str):
        self.copies, self.folder_name = copies, folder_name
        self.folders: dict[str, str | None] = {}
        self.done: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.checked = 0

    def check(self, day: str, entry: ev.ItemEntry) -> list[ev.Finding]:
        out = []
        for c in entry.copies:
            if not c.message_id:
                continue
            key = (c.mailbox.lower(), c.message_id)
            if key not in self.done:
                self.done[key] = self._ask(c.mailbox, c.message_id, entry)
                self.checked += 1
            out += [ev.Finding(day, kind, entry.item_id, detail) for kind, detail in self.done[key]]
        return out

    def _ask(self, mailbox: str, message_id: str, entry: ev.ItemEntry) -> list[tuple[str, str]]:
        where = f"copy in {mailbox} (message id {message_id})"
        try:
            if mailbox.lower() not in self.folders:
                self.folders[mailbox.lower()] = self.copies.find_folder(mailbox, self.folder_name)
            stored = self.copies.get_copy(mailbox, message_id)
        except MailboxError as exc:
            return [(ev.UNCHECKED, f"{where}: Graph did not answer ({exc}); run verify --graph again")]
        if stored is None:
            return [(ev.MISSING_COPY, f"{where} no longer exists in the mailbox")]
        problems = []
        folder = self.folders[mailbox.lower()]
        if folder is None or stored.folder_id != folder:
            problems.append((ev.MOVED_COPY, f"{where} is not in the folder '{self.folder_name}' any more "
                                            f"(now in folder {stored.folder_id})"))
        if stored.archive_id != entry.item_id:
            problems.append((ev.ALTERED_COPY, f"{where} carries archive id {stored.archive_id!r}, expected {entry.item_id!r}"))
        if entry.sent_at and (stored.sent_at is None or _utc(stored.sent_at) != entry.sent_at):
            shown = _utc(stored.sent_at) if stored.sent_at else "none"
            problems.append((ev.ALTERED_COPY, f"{where} shows sent time {shown}, the item was sent {entry.sent_at}"))
        return problems


def verdict_lines(result: Verification) -> list[str]:
    """What `verify` prints: one verdict per day, then each mismatch named."""
    lines = []
    for d in result.days:
        files = ", ".join(f"{names.EVIDENCE}/{n}" for n in d.manifests) or "no manifest"
        graph = f", {d.copies_checked} mailbox copies checked in Graph" if result.graph else ""
        if d.ok:
            lines.append(f"{d.day}: CLEAN ({files}: {d.items} items, every hash and the chain hold{graph})")
        else:
            lines.append(f"{d.day}: FAILED ({files}: {d.items} items; {len(d.findings)} mismatch(es){graph})")
            lines += [f"  {f.line()}" for f in d.findings]
    if not result.days:
        lines.append("verdict: NOTHING VERIFIED: there is no evidence manifest in the range")
        return lines
    bad = sum(1 for d in result.days if not d.ok)
    lines.append(f"verdict: {'CLEAN' if result.ok else 'FAILED'}: {len(result.days)} day(s) checked, {bad} with mismatches")
    return lines
