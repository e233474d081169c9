"""convert_item: validate a pulled item, map its participants, render the record, fan out copies.

Idempotent: the record is deterministic (same item, same bytes), copies are tracked by
(item, mailbox), and the deliverer skips copies that already landed.

In transcript mode (``stage`` given, TRANSCRIPT_MODE=true) a mapped item is not rendered on its own:
it is staged for its conversation's transcript of its capture day (``shared.pipeline.transcripts``).
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Callable

from shared import names
from shared.domain.bounded import for_log
from shared.domain.items import (CHAT_EXPORT, ENTRY_POINTS, FEED, Attachment, Item, ItemRejected, as_entered, capture_day,
                                 parse_item)
from shared.domain.mapping_file import MappingFile, parse_mapping_csv
from shared.domain.mapping_rule import (
    TRUST_EMAIL_PROPERTY,
    EmailPolicy,
    ItemMapping,
    addresses_to_check,
    map_item,
    mapped_via,
)
from shared.domain.phones import participant_keys
from shared.domain.record import RenderOptions, render_record
from shared.domain.record.annotate import RESENT_NOTE, add_headers
from shared.domain.record.ids import message_id_for
from shared.pipeline.hand_back import RETRY_AFTER_FAILED_ATTEMPT
from shared.pipeline.memory_budget import PROCESS_BUDGET, render_cost
from shared.pipeline.messages import INLINE_EML_MAX, DeliveryMessage, ItemMessage, item_key
from shared.pipeline.ports import Directory, UserStatus

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- mapping file
class MappingSource:
    """The mapping CSV from MAPPING_BLOB, re-read only when its ETag changes (checked at most every ``recheck_seconds``)."""

    def __init__(self, blobs, container: str, path: str, default_region: str, recheck_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, email_policy: EmailPolicy = TRUST_EMAIL_PROPERTY):
        self.blobs, self.container, self.path = blobs, container, path
        self.email_policy = email_policy  # MAPPING_EMAIL_PROPERTY: how far the items' email property is trusted
        self.region = default_region
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._etag: str | None = None
        self._checked = float("-inf")
        self._mapping = parse_mapping_csv(b"", default_region)
        self.loads = 0

    def get(self) -> MappingFile:
        with self._lock:
            if self.clock() - self._checked < self.recheck_seconds:
                return self._mapping
            etag = self.blobs.etag(self.container, self.path)
            self._checked = self.clock()
            if etag is None:
                if self._etag is not None:
                    log.warning("mapping file %s/%s is gone: only the items' email property maps now", self.container, self.path)
                self._etag, self._mapping = None, parse_mapping_csv(b"", self.region)
            elif etag != self._etag:
                data, etag = self.blobs.get_with_etag(self.container, self.path)
                self._mapping, self._etag = parse_mapping_csv(data, self.region), etag
                self.loads += 1
                errors = [p for p in self._mapping.problems if p.severity == "error"]
                log.info("mapping file loaded: %d keys, %d rows with errors", len(self._mapping.entries), len(errors))
            return self._mapping

    def invalidate(self) -> None:
        with self._lock:
            self._checked = float("-inf")


# --------------------------------------------------------------------------- directory
LOOKUPS_SIDE_BY_SIDE = 4  # an item's directory look-ups at once, at most (each also takes a Graph permit)


class CachedDirectory:
    """Directory answers cached in table storage with a TTL: a day's run looks each user up once.

    In front of the table, each process keeps the answers it already read or fetched in memory for
    ``memo_seconds`` (at most the table's TTL): an address this process looked up is not read from the
    table again while its answer is fresh.

    ``lookup_all`` looks up an item's addresses side by side when more than one is not in memory: an item
    naming two people new to this process waits for the slower look-up, not for one after the other.
    """

    def __init__(self, directory: Directory, cache, *, memo_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        self.directory, self.cache = directory, cache
        self.lookups = 0
        self._guard = threading.Lock()
        self._per_address: dict[str, threading.Lock] = {}
        ttl = getattr(cache, "ttl", None)
        self.memo_seconds = min(memo_seconds, ttl.total_seconds()) if ttl is not None else memo_seconds
        self.clock = clock
        self._memo: dict[str, tuple[float, UserStatus]] = {}

    def lookup(self, address: str) -> UserStatus:
        address = address.lower()
        fresh = self._fresh(address)
        if fresh is not None:
            return fresh
        # Workers converting items of one chat all ask for the same people at once: one reads the
        # table (and if need be asks Graph), the others wait and take its answer from memory.
        with self._guard:
            lock = self._per_address.setdefault(address, threading.Lock())
        with lock:
            fresh = self._fresh(address)
            if fresh is not None:
                return fresh
            status = self.cache.get(address)
            if status is None:
                status = self.directory.lookup(address)  # DirectoryUnavailable propagates: retried, never "not a user"
                self.lookups += 1
                self.cache.put(status)
            self._memo[address] = (self.clock(), status)
            return status

    def lookup_all(self, addresses: list[str]) -> dict[str, UserStatus]:
        """Each address's answer, keyed as given; a DirectoryUnavailable raised for any of them propagates
        (the first of them in the order given), once every look-up started has ended."""
        missing = [a for a in addresses if self._fresh(a.lower()) is None]
        if len(missing) < 2:
            return {a: self.lookup(a) for a in addresses}
        with ThreadPoolExecutor(max_workers=min(len(missing), LOOKUPS_SIDE_BY_SIDE),
                                thread_name_prefix="directory") as pool:
            started = {a: pool.submit(contextvars.copy_context().run, self.lookup, a) for a in missing}
        return {a: started[a].result() if a in started else self.lookup(a) for a in addresses}

    def _fresh(self, address: str) -> UserStatus | None:
        memo = self._memo.get(address)
        if memo is not None and self.clock() - memo[0] < self.memo_seconds:
            return memo[1]
        return None


class BlobAttachments:
    """The converter's AttachmentSource: bytes stored by the pull under attachments/{sha256}."""

    def __init__(self, blobs):
        self.blobs = blobs

    def read(self, attachment: Attachment) -> bytes | None:
        """The stored bytes, only when they are exactly as many as declared: the size is checked before
        the body is read, so an item declaring 0 bytes for a 400 MB file never loads it (unavailable)."""
        found = self.blobs.get_at_most(names.ATTACHMENTS, attachment.sha256, attachment.size)
        if found is None or found[0] is None or found[1] != attachment.size:
            return None
        return found[0]


def attachment_location(attachment: Attachment) -> str:
    return f"{names.ATTACHMENTS}/{attachment.sha256}"


QUOTE_LOOKBACK_DAYS = 7


class RecentItems:
    """Items this process converted lately, by id: a reply, edit or reaction usually follows its original
    within minutes, often to the same instance, so its quote needs no storage read. Only first copies
    are kept (the bytes raw/ holds under that id, never rewritten), small ones, a bounded number."""

    def __init__(self, capacity: int = 2048, max_raw_bytes: int = 64 * 1024):
        self.capacity, self.max_raw_bytes = capacity, max_raw_bytes
        self._items: OrderedDict[str, Item] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, item: Item, raw_size: int) -> None:
        if raw_size > self.max_raw_bytes:
            return
        with self._lock:
            self._items[item.id] = item
            self._items.move_to_end(item.id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, item_id: str) -> Item | None:
        with self._lock:
            return self._items.get(item_id)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


RECENT_ITEMS = RecentItems()


class ArchivedItems:
    """The originals a record quotes (the message a reply answers, an edit, deletion or reaction changes),
    read from the raw items the pull kept (``raw/{capture day}/{item key}.json``).

    The target's capture day is not known: its key is looked for on the item's own capture day, then on
    each of the ``lookback_days`` days before (at most that many reads, only for items that point at
    another). Only a valid item of the same conversation is quoted; a missing or rejected one is simply
    not quoted (the record says the original is not in the archive). A storage fault propagates: the
    conversion retries rather than archiving a record that wrongly says the original is missing.
    """

    def __init__(self, blobs, lookback_days: int = QUOTE_LOOKBACK_DAYS, recent: RecentItems | None = None):
        self.blobs, self.lookback_days, self.recent = blobs, lookback_days, recent
        self.reads = 0

    def find(self, item_id: str, item: Item) -> Item | None:
        known = self.recent.get(item_id) if self.recent is not None else None
        if known is not None:
            return known
        day = item.captured_at.astimezone(timezone.utc).date()
        key = item_key(item_id)
        for back in range(self.lookback_days + 1):
            self.reads += 1
            raw = self.blobs.get_if_exists(names.RAW, f"{(day - timedelta(days=back)).isoformat()}/{key}.json")
            if raw is None:
                continue
            try:
                found = parse_item(raw)
            except ItemRejected:
                return None
            return found if found.id == item_id else None
        return None

    def context_for(self, item: Item) -> dict[str, Item]:
        """The quoted originals of ``item`` by id (same conversation only)."""
        wanted = sorted({i for i in (item.reply_to, item.target_id) if i and i != item.id})
        found = {i: self.find(i, item) for i in wanted}
        return {i: t for i, t in found.items() if t is not None and t.conversation.id == item.conversation.id}


# --------------------------------------------------------------------------- use case
@dataclass(frozen=True)
class ConvertOutcome:
    status: str  # converted | rejected | unmapped | staged (transcript mode)
    copies: int = 0
    reason: str = ""


Stage = Callable[[Item, ItemMapping, ItemMessage], ConvertOutcome]


def participant_labels(item: Item, region: str) -> list[str]:
    """Each participant's key (E.164 or uid:...), unmasked: stored inside the tenant, masked in reports."""
    out = []
    for p in item.participants:
        keys = participant_keys(p, region)
        out.append(keys[0] if keys else "(no usable number or user id)")
    return sorted(set(out))


IMPORT_RAW_PREFIX = "imports/"  # raw blobs only `import-export` writes (pull writes raw/{YYYY-MM-DD}/...)


def entry_point(source: str | None, raw_blob: str) -> tuple[str, bool]:
    """Where an item came from, and whether its ``owner_verified`` is honoured, from what our own code
    wrote (the queue message's ``source``, the raw blob's path), never from the item.

    A message queued before messages carried ``source`` is judged by its raw blob: under imports/
    (only the import writes there) it is chat_export, anything else is feed (a webhook item then
    shows as feed: it loses nothing but its name). The owner named at import is trusted only on a
    chat_export item the import stored under imports/: a feed cannot write there.
    """
    under_imports = raw_blob.startswith(IMPORT_RAW_PREFIX)
    if source not in ENTRY_POINTS:
        source = CHAT_EXPORT if under_imports else FEED
    return source, source == CHAT_EXPORT and under_imports


def map_participants(item: Item, *, mapping: MappingFile, directory: Directory, region: str,
                     policy: EmailPolicy = TRUST_EMAIL_PROPERTY, trust_owner: bool = False) -> ItemMapping:
    addresses = sorted(addresses_to_check(item, mapping, region, policy))
    lookup_all = getattr(directory, "lookup_all", None)  # CachedDirectory's: the misses side by side
    valid = lookup_all(addresses) if lookup_all is not None else {a: directory.lookup(a) for a in addresses}
    return map_item(item, mapping, valid, region, policy, trust_owner)


def archive_notes(item_mapping: ItemMapping, message: ItemMessage) -> tuple[list[tuple[str, str]], str | None]:
    """Headers the pipeline adds to a record: where each mapping came from; for a changed re-send, its link."""
    headers = [("X-WhatsApp-Mapped-Via", mapped_via(item_mapping))]
    if not message.resent_of:
        return headers, None
    headers += [("X-WhatsApp-Resent-Of", message.resent_of),
                ("X-WhatsApp-Note", f"{RESENT_NOTE}; the first version is archived as item {message.resent_of}")]
    return headers, message_id_for(message.resent_of)


def convert_item(
    message: ItemMessage,
    *,
    blobs,
    queues,
    tracking,
    mapping: MappingSource,
    directory: Directory,
    region: str,
    options: RenderOptions,
    traceparent: Callable[[], str | None] = lambda: None,
    stage: Stage | None = None,
    raw: bytes | None = None,
    deliver: Deliver | None = None,
    pool: Executor | None = None,
    hand_back: Callable[[DeliveryMessage, float], None] | None = None,
) -> ConvertOutcome:
    """``stage`` set (transcript mode): a mapped item is handed to it instead of rendered and fanned out.
    ``raw`` given (reprocess-unmapped, from the unmapped/ entry): used instead of reading raw/."""
    key = item_key(message.item_id)
    if raw is None:
        raw = base64.b64decode(message.raw_b64) if message.raw_b64 else blobs.get(names.RAW, message.raw_blob)
    try:
        item = parse_item(raw)
        if message.resent_of:  # a changed re-send is archived under its own id, linked to the first
            item = item.model_copy(update={"id": message.item_id})
        else:
            RECENT_ITEMS.remember(item, len(raw))
    except ItemRejected as exc:
        blobs.put(names.REJECTED, f"{message.report_date}/{key}.json",
                  json.dumps({"item_id": message.item_id, "reason": exc.reason, "raw_blob": f"{names.RAW}/{message.raw_blob}",
                              "report_date": message.report_date}, ensure_ascii=False, indent=2).encode(),
                  content_type="application/json")
        tracking.item(message.report_date, key, item_id=message.item_id, stage="rejected", reason=exc.reason[:1000])
        log.warning("item %s rejected: %s", for_log(message.item_id), for_log(exc.reason, 300))
        return ConvertOutcome("rejected", reason=exc.reason)

    # Where the item came from is the entry point's word: the feed cannot forge a source, provenance
    # or owner_verified into a record. The owner named by the admin at import is trusted only on
    # items the import itself stored: a feed cannot write under raw/imports/.
    source, trust_owner = entry_point(message.source, message.raw_blob)
    item = as_entered(item, source, trust_owner=trust_owner)
    item_mapping = map_participants(item, mapping=mapping.get(), directory=directory, region=region,
                                    policy=getattr(mapping, "email_policy", TRUST_EMAIL_PROPERTY),
                                    trust_owner=trust_owner)
    if item_mapping.unmapped:
        people = participant_labels(item, region)
        reasons = sorted({pm.reason for pm in item_mapping.participants if pm.reason})
        # the raw item travels inside the entry: the lifecycle rule on raw/ can never orphan it
        blobs.put(names.UNMAPPED, f"{message.report_date}/{key}.json",
                  json.dumps({"item_id": message.item_id, "raw_blob": message.raw_blob, "report_date": message.report_date,
                              "run_id": message.run_id, "participants": people, "reasons": reasons,
                              "resent_of": message.resent_of, "source": source, "raw": json.loads(raw)},
                             ensure_ascii=False, indent=2).encode("utf-8", "surrogatepass"), content_type="application/json")
        tracking.item(message.report_date, key, item_id=message.item_id, stage="unmapped", item_type=item.type,
                      participants=", ".join(people)[:2000], reason="; ".join(reasons)[:1000])
        return ConvertOutcome("unmapped", reason="no participant maps to a valid Microsoft 365 mailbox")
    if stage is not None:
        return stage(item, item_mapping, message)

    cost = render_cost([a.size for a in item.all_attachments], options.max_item_bytes)
    with PROCESS_BUDGET.hold(cost):  # large files: a few at a time per process, whatever the batch
        record = render_record(item, mailbox_of=item_mapping.mailbox_of, attachments=BlobAttachments(blobs), options=options,
                               context=ArchivedItems(blobs, recent=RECENT_ITEMS).context_for(item))
        headers, reference = archive_notes(item_mapping, message)
        eml = add_headers(record.eml, headers, reference=reference)
        mime_blob = f"{capture_day(item.captured_at)}/{key}.eml"
        blobs.put(names.MIME, mime_blob, eml, content_type="message/rfc822",
                  metadata={"item_class": record.item_class, "partial": str(record.partial).lower()})
        small = eml if len(eml) <= INLINE_EML_MAX else None  # the stored bytes (with the pipeline's headers)
        del eml
    fan_out(item, item_mapping, record, message=message, mime_blob=mime_blob, eml=small, queues=queues,
            tracking=tracking, traceparent=traceparent(), deliver=deliver, pool=pool, hand_back=hand_back)
    return ConvertOutcome("converted", copies=len(item_mapping.mailboxes))


Deliver = Callable[..., object]  # deliver.deliver_copy with everything but the message and tracking bound


class _Outcomes:
    """The tracking a delivery at convert time writes to, kept for the item's one tracking write."""

    def __init__(self):
        self.outcome: tuple[str, str, dict] | None = None

    def copy_outcome(self, report_date, item_key, mailbox, outcome, reason="", **fields) -> None:
        self.outcome = (outcome, reason, fields)


def fan_out(item: Item, item_mapping: ItemMapping, record, *, message: ItemMessage, mime_blob: str, queues, tracking,
            traceparent: str | None, deliver: Deliver | None = None, eml: bytes | None = None,
            pool: Executor | None = None, hand_back: Callable[[DeliveryMessage, float], None] | None = None) -> None:
    """One delivery per mailbox copy. With ``deliver`` (the default in the app) each copy's first attempt
    happens right here: a copy that lands costs no queue message and no record read; a copy that is
    handed back (throttled, busy, failed) goes to the deliveries queue, through ``hand_back`` when given
    (which also tries it again in this process once a short wait is over). Then the item row and
    a row per copy with its outcome (or 'pending') are written in one tracking request. With ``pool``
    the copies' attempts run side by side on it (a group message's copies go to different mailboxes, so
    one item no longer waits for its copies one after another); the Graph requests in flight stay bounded
    by ``deliver``'s permits (DELIVERY_WORKERS), whatever the number of items being converted. Without
    ``deliver``, every copy is queued (the record rides in the message when small: ``eml``, the bytes
    stored in mime/, given when they are small enough)."""
    key = item_key(item.id)
    by_mailbox: dict[str, str] = {}
    for pm in item_mapping.participants:
        if pm.mailbox and pm.mailbox not in by_mailbox:
            by_mailbox[pm.mailbox] = pm.keys[0] if pm.keys else ""
    inline = base64.b64encode(eml).decode("ascii") if eml is not None and len(eml) <= INLINE_EML_MAX else None
    messages = [DeliveryMessage(item_id=item.id, item_type=item.type, mailbox=mailbox, mime_blob=mime_blob,
                                item_class=record.item_class, partial=record.partial, report_date=message.report_date,
                                source=by_mailbox.get(mailbox, ""), traceparent=traceparent, eml_b64=inline)
                for mailbox in item_mapping.mailboxes]

    def attempt(m: DeliveryMessage) -> tuple[dict, tuple[DeliveryMessage, float] | None]:
        row = dict(item_id=item.id, source=m.source, item_type=item.type)
        if deliver is None:
            return row, (m, 0)
        outcomes = _Outcomes()
        try:
            result = deliver(m, tracking=outcomes)
        except Exception as exc:  # noqa: BLE001 - the queue retries this copy; the other copies go on
            log.warning("first delivery attempt of a copy of %s failed (%s); it is tried again shortly",
                        for_log(item.id), type(exc).__name__)
            row.update(reason=f"first attempt failed: {type(exc).__name__}: {exc}"[:1000], stage="deliver")
            return row, (m, RETRY_AFTER_FAILED_ATTEMPT)
        after = getattr(result, "after_seconds", None)
        if after is not None:  # handed back: throttled, slot busy, claimed elsewhere
            return row, (m.model_copy(update={"requeues": m.requeues + 1}), after)
        if outcomes.outcome is not None:
            outcome, reason, fields = outcomes.outcome
            row.update(fields, outcome=outcome, reason=reason[:1000])
        return row, None

    if pool is not None and deliver is not None:  # the copies go out together
        futures = [pool.submit(contextvars.copy_context().run, attempt, m) for m in messages]  # spans follow the item
        results = [f.result() for f in futures]
    else:
        results = [attempt(m) for m in messages]
    copies = [(m.mailbox, row) for m, (row, _later) in zip(messages, results)]
    later = [entry for _row, entry in results if entry is not None]
    tracking.item_with_copies(
        message.report_date, key,
        dict(item_id=message.item_id, stage="converted", item_type=item.type, copies=len(item_mapping.mailboxes),
             partial=record.partial, unresolved="; ".join(item_mapping.unresolved) or None),
        copies)
    for m, delay in later:  # after the tracking write: a retry's outcome must not be overwritten by 'pending'
        if hand_back is not None and deliver is not None:  # a first attempt was made and handed the copy back
            hand_back(m, delay)
        else:
            queues.send(names.DELIVERIES_QUEUE, m.model_dump(exclude_none=True), delay_seconds=math.ceil(delay))
