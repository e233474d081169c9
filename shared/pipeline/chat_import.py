"""import_export: a WhatsApp "Export chat" upload becomes contract items, stored raw and queued as pull does.

Two passes over the chat text (``scan`` then ``parse``), memory flat whatever the length: the
only per-message state kept is the set of ids seen in this file (for occurrence counting and to
link deletions and edits) and the files already hashed.

Each item is stored under ``raw/imports/{slot}/{item key}.json`` where the slot is (owner, chat,
minute, sender): a later export's tombstone or edited message finds the earlier message of its
slot by listing that prefix, and becomes a deletion or edit linked to it, never a replacement.
Items whose raw blob is under ``imports/`` are the only ones whose ``owner_verified`` participant
is trusted (``convert``). Storing is idempotent: the same message gives the same id in every
export, its raw blob is written once (``overwrite=False``), and the delivery ledger keeps one
copy per mailbox, so importing the same or a longer export again adds only what is new.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable, Iterator, Protocol
from zoneinfo import ZoneInfo

from shared import names
from shared.domain.chat_export.build import Context, FileRef, build_item, read_contacts
from shared.domain.chat_export.header import DateOrder
from shared.domain.chat_export.ids import EntryIds
from shared.domain.chat_export.parser import Entry, Problem, authors as chat_authors, parse, scan
from shared.domain.items import CHAT_EXPORT, ItemRejected, parse_item
from shared.pipeline.convert import IMPORT_RAW_PREFIX
from shared.pipeline.messages import ItemMessage, item_key
from shared.pipeline import attachment_store
from shared.pipeline.pull import _inline  # a small raw item rides in its message, as the feed's do

log = logging.getLogger(__name__)
MAX_PROBLEMS_LISTED = 1000
TRACKING_BATCH = 100  # rows per entity-group transaction (the table's limit)


class ExportSource(Protocol):
    """What the use case needs of an upload (``shared.adapters.chat_export_zip.ExportArchive``)."""

    upload_name: str
    encoding: str

    def lines(self) -> Iterator[str]: ...
    def media_names(self) -> set[str]: ...
    def open_media(self, name: str) -> BinaryIO | None: ...
    def chat_name(self) -> str | None: ...


class NotAnExport(ValueError):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass
class ImportReport:
    upload: str
    owner: str
    chat: str = ""
    chat_name_source: str = ""
    owner_name: str | None = None
    owner_name_source: str = ""
    platform: str = ""
    locale_guess: str = ""
    date_order: str = ""
    date_order_how: str = ""
    timezone: str = ""
    encoding: str = ""
    run_id: str = ""
    report_date: str = ""
    lines_read: int = 0
    lines_in_messages: int = 0
    records: int = 0
    records_by_kind: Counter = field(default_factory=Counter)
    items_new: int = 0
    items_already_imported: int = 0
    deletions_linked: int = 0
    edits_linked: int = 0
    attachments_matched: int = 0
    attachments_missing: list[str] = field(default_factory=list)
    media_in_zip_unused: int = 0
    time_notes: int = 0
    not_understood: list[dict] = field(default_factory=list)
    not_understood_count: int = 0

    lines_outside_records: int = 0  # before the first header: named in not_understood

    @property
    def accounted(self) -> bool:
        """Every line is in a record or named, with its number, as outside any record."""
        return self.lines_in_messages + self.lines_outside_records == self.lines_read

    def to_json(self) -> dict:
        return {
            "upload": self.upload, "owner": self.owner, "owner_name": self.owner_name,
            "owner_name_source": self.owner_name_source, "chat": self.chat, "chat_name_source": self.chat_name_source,
            "platform": self.platform, "locale_guess": self.locale_guess, "date_order": self.date_order,
            "date_order_how": self.date_order_how, "timezone": self.timezone, "encoding": self.encoding,
            "run_id": self.run_id, "report_date": self.report_date, "lines_read": self.lines_read,
            "lines_in_records": self.lines_in_messages,
            "lines_outside_records": self.lines_outside_records, "every_line_accounted": self.accounted, "records": self.records,
            "records_by_kind": dict(sorted(self.records_by_kind.items())), "items_new": self.items_new,
            "items_already_imported": self.items_already_imported, "deletions_linked": self.deletions_linked,
            "edits_linked": self.edits_linked, "attachments_matched": self.attachments_matched,
            "attachments_missing": self.attachments_missing, "media_in_zip_unused": self.media_in_zip_unused,
            "times_in_dst_gaps_or_repeats": self.time_notes, "lines_not_understood": self.not_understood_count,
            "lines_not_understood_detail": self.not_understood,
        }

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.records_by_kind.items())) or "none"
        out = [
            f"upload            {self.upload} ({self.encoding})",
            f"chat              {self.chat} ({self.chat_name_source})",
            f"owner             {self.owner}" + (f" as '{self.owner_name}' ({self.owner_name_source})" if self.owner_name else
                                                  " (their display name in the file is unknown)"),
            f"platform          {self.platform}; locale guessed: {self.locale_guess}",
            f"date order        {self.date_order}: {self.date_order_how}",
            f"time zone         {self.timezone} (assumed for every wall-clock time)",
            f"lines read        {self.lines_read} ({self.lines_in_messages} in records)",
            f"records           {self.records}: {kinds}",
            f"  new             {self.items_new}; already imported before: {self.items_already_imported}",
            f"  linked          deletions {self.deletions_linked}, edits {self.edits_linked} to earlier messages",
            f"attachments       {self.attachments_matched} matched and stored; missing from the zip: "
            f"{len(self.attachments_missing)}" + (f" ({', '.join(self.attachments_missing[:10])})" if self.attachments_missing else ""),
            f"times in DST gaps or repeats  {self.time_notes} (named on each record)",
            f"lines not understood  {self.not_understood_count}",
        ]
        out += [f"  line {p['line']}: {p['reason']}" for p in self.not_understood[:50]]
        return out


_LOCALE_HINTS = [
    ("de", ("gelöscht", "weggelassen", "angehängt", "ausgeschlossen", "Ende-zu-Ende")),
    ("es", ("eliminó", "omitid", "adjunt", "cifrados")),
    ("fr", ("supprimé", "omis", "joint", "absente", "chiffrés")),
    ("pt", ("apagad", "revelad", "anexado", "encriptadas")),
    ("it", ("eliminato", "omess", "allegato", "crittografat")),
    ("nl", ("verwijderd", "weggelaten", "bijgevoegd", "versleuteld")),
    ("en", ("deleted", "omitted", "attached", "encrypted", "Missed", "created group")),
]


def _locale_vote(votes: Counter, entry: Entry) -> None:
    if entry.kind.name == "text":
        return
    for lang, words in _LOCALE_HINTS:
        if any(w in entry.body for w in words):
            votes[lang] += 1
            return


class _Files:
    """Media of the zip as the items need them: hashed once, stored under attachments/{sha256}."""

    def __init__(self, source: ExportSource, blobs, report: ImportReport):
        self.source, self.blobs, self.report = source, blobs, report
        self.refs: dict[str, FileRef | None] = {}

    def __call__(self, name: str) -> FileRef | None:
        if name in self.refs:
            return self.refs[name]
        stream = self.source.open_media(name)
        ref = None
        if stream is not None:
            try:
                ref = self._store(name, stream)
            except ValueError as exc:  # the adapter's ExportRejected: this one file is corrupt or too large
                log.warning("an export media file is unreadable in the zip (%s); its message names it as missing",
                            type(exc).__name__)
                self.report.attachments_missing.append(f"{name} (unreadable in the zip)")
            else:
                self.report.attachments_matched += 1
        self.refs[name] = ref
        return ref

    def _store(self, name: str, stream: BinaryIO) -> FileRef:
        with stream, attachment_store.spool() as sink:
            digest, size = hashlib.sha256(), 0
            for chunk in iter(lambda: stream.read(1024 * 1024), b""):  # hashed as it is copied: one pass
                digest.update(chunk)
                sink.write(chunk)
                size += len(chunk)
            sha = digest.hexdigest()
            if not self.blobs.exists(names.ATTACHMENTS, sha):
                attachment_store.store(self.blobs, sha, sink, size=size, source="chat_export")
            contacts = []
            if name.lower().endswith(".vcf"):  # only a contact card is read back (its first MB: names and phones)
                sink.seek(0)
                contacts = read_contacts(sink.read(1_000_000))
            return FileRef(name=name, sha256=sha, size=size, contacts=contacts)


def chat_conversation_id(owner: str, chat: str) -> str:
    return "chat-export-" + hashlib.sha256(f"{owner.lower()}\0{chat}".encode("utf-8", "surrogatepass")).hexdigest()[:24]


def import_export(
    source: ExportSource,
    *,
    owner: str,
    blobs,
    queues,
    tracking,
    region: str,
    zone: str = "UTC",
    owner_name: str | None = None,
    chat: str | None = None,
    date_order: DateOrder | None = None,
    fallback_order: DateOrder = "dmy",
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    traceparent: Callable[[], str | None] = lambda: None,
) -> ImportReport:
    started = now()
    owner = owner.strip().lower()
    report = ImportReport(upload=source.upload_name, owner=owner, timezone=zone, encoding=source.encoding,
                          run_id="import-" + started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8],
                          report_date=started.strftime("%Y-%m-%d"))
    profile = scan(source.lines(), fallback_order=fallback_order, forced_order=date_order)
    report.lines_read, report.platform = profile.lines, profile.platform
    report.date_order, report.date_order_how = profile.date_order, profile.date_order_how
    if profile.headers == 0 or profile.headers * 20 < profile.lines:
        raise NotAnExport(f"{source.upload_name}: {profile.headers} of {profile.lines} lines start with a WhatsApp "
                          "message header (date, time, author); this is not a WhatsApp 'Export chat' text")
    if owner_name:
        report.owner_name, report.owner_name_source = owner_name, "given (--owner-name)"
    elif profile.exporter_name:
        report.owner_name, report.owner_name_source = profile.exporter_name, "detected from 'You deleted this message'"
    chat_name = chat or source.chat_name()
    report.chat_name_source = "given (--chat)" if chat else "from the file name" if chat_name else "unknown: named after the upload"
    report.chat = chat_name or source.upload_name
    authors = chat_authors(source.lines(), profile)
    others = [a for a in authors if a != report.owner_name]
    ctx = Context(owner=owner, owner_name=report.owner_name, chat=report.chat,
                  conversation_id=chat_conversation_id(owner, report.chat),
                  group=len(others) > (1 if report.owner_name else 2), zone=ZoneInfo(zone),
                  region=region, profile=profile, authors=authors)
    files = _Files(source, blobs, report)
    ids_of = EntryIds(owner, report.chat, region)
    ids_in_file: set[str] = set()
    deferred: list[tuple[Entry, str, str]] = []
    locale_votes: Counter = Counter()
    used_media: set[str] = set()
    pending: list = []  # stored items whose tracking rows and messages are not yet written (< TRACKING_BATCH)
    for entry in parse(source.lines(), profile):
        if isinstance(entry, Problem):
            report.not_understood_count += 1
            report.lines_outside_records += "not part of any message" in entry.reason
            if len(report.not_understood) < MAX_PROBLEMS_LISTED:
                report.not_understood.append({"line": entry.line_no, "reason": entry.reason})
            continue
        report.lines_in_messages += entry.line_count
        _locale_vote(locale_votes, entry)
        item_id, where = ids_of(entry)
        ids_in_file.add(item_id)
        if entry.kind.name in ("deleted", "edited"):
            deferred.append((entry, item_id, where))
            continue
        if entry.kind.name == "attached":
            used_media.add(entry.kind.detail["file"])
        _store(entry, ctx, item_id, where, files=files, blobs=blobs, queues=queues, tracking=tracking, report=report,
               traceparent=traceparent, pending=pending)
    earlier: dict[str, tuple[str | None, str | None]] = {}  # a slot's answer does not change within the run
    for entry, item_id, where in deferred:
        if where not in earlier:
            earlier[where] = _earlier(blobs, where, ids_in_file)
        target, note = earlier[where]
        _store(entry, ctx, item_id, where, files=files, blobs=blobs, queues=queues, tracking=tracking, report=report,
               traceparent=traceparent, pending=pending, target_id=target, target_note=note)
    _flush(pending, tracking=tracking, queues=queues, report=report)
    report.media_in_zip_unused = len(source.media_names() - used_media)
    report.locale_guess = _guess_locale(locale_votes, profile)
    return report


def _guess_locale(votes: Counter, profile) -> str:
    lang = votes.most_common(1)[0][0] if votes else "unknown language (no markers seen)"
    region = {"mdy": "month-first dates (US-style region)", "dmy": "day-first dates",
              "ymd": "year-first dates"}[profile.date_order]
    return f"{lang}, {region}"


def _earlier(blobs, where: str, ids_in_file: set[str]) -> tuple[str | None, str | None]:
    """The message an earlier import stored in this slot that this export no longer shows as it was."""
    candidates = []
    prefix = f"{IMPORT_RAW_PREFIX}{where}/"
    for name in sorted(blobs.list(names.RAW, prefix=prefix)):
        if name[len(prefix):].removesuffix(".json") in ids_in_file:  # its key is its plain id (item_key)
            continue  # still in this export (or this export's own tombstone): not gone, no read needed
        raw = blobs.get_if_exists(names.RAW, name)
        try:
            item = parse_item(raw) if raw else None
        except ItemRejected:
            item = None
        if item is not None and item.type == "message" and item.id not in ids_in_file:
            candidates.append(item)
    if not candidates:
        return None, "no earlier import holds the original message of this minute and sender"
    candidates.sort(key=lambda i: (i.sent_at, i.id))
    note = None if len(candidates) == 1 else f"{len(candidates)} earlier messages of this minute and sender are gone; linked to the first"
    return candidates[0].id, note


def _store(entry: Entry, ctx: Context, item_id: str, where: str, *, files, blobs, queues, tracking, report: ImportReport,
           traceparent, pending: list, target_id: str | None = None, target_note: str | None = None) -> None:
    item, missing = build_item(entry, ctx, item_id=item_id, files=files, target_id=target_id,
                               target_note=None if target_id is None and entry.kind.name == "edited" else target_note)
    report.attachments_missing.extend(m for m in missing if m not in report.attachments_missing)
    if item["provenance"].get("time note"):
        report.time_notes += 1
    if target_id and item["type"] == "deletion":
        report.deletions_linked += 1
    if target_id and item["type"] == "edit":
        report.edits_linked += 1
    key = item_key(item_id)
    raw_blob = f"{IMPORT_RAW_PREFIX}{where}/{key}.json"
    body = json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    new = blobs.put(names.RAW, raw_blob, body, content_type="application/json", overwrite=False)
    if new:
        report.items_new += 1
    else:  # the blob kept is the earlier import's (its bytes may differ): convert reads that one
        report.items_already_imported += 1
    report.records += 1
    report.records_by_kind[entry.kind.name if entry.kind.name != "event" else "event:" + entry.kind.detail["event"]] += 1
    fields = dict(item_id=item_id, stage="pulled", run_id=report.run_id, item_type=item["type"],
                  raw_blob=raw_blob)  # the evidence manifest hashes the item as stored from here
    message = ItemMessage(item_id=item_id, raw_blob=raw_blob, report_date=report.report_date, run_id=report.run_id,
                          traceparent=traceparent(), raw_b64=_inline(body) if new else None, source=CHAT_EXPORT)
    pending.append((key, fields, message))
    if len(pending) >= TRACKING_BATCH:
        _flush(pending, tracking=tracking, queues=queues, report=report)


def _flush(pending: list, *, tracking, queues, report: ImportReport) -> None:
    """The items' tracking rows in one transaction (as the pull writes a page's), then their messages."""
    if pending:
        tracking.items_pulled(report.report_date, [(key, fields) for key, fields, _m in pending])
        for _key, _fields, message in pending:
            queues.send(names.ITEMS_QUEUE, message.model_dump(exclude_none=True))
        pending.clear()
