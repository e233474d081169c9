"""pull_delta: copy the capture feed's new items into storage and queue them for conversion.

Windows run from the checkpoint to now, each at most MAX_WINDOW_HOURS long (a missed day is
caught up in steps). Inside a window, page by page: raw item JSON to ``raw/``, each attachment
fetched, its sha256 checked and stored by hash, then one message on ``items``. The checkpoint
moves to a window's end only after the whole window is stored and queued; a run that dies
half-way leaves it, and the next run pulls the window again (downstream is idempotent).

A hostile or broken source never stops the window (issue 15):

- an error that belongs to one item (a value storage refuses, one that cannot be serialised, ...)
  rejects that item at the pull, kept under ``rejected/`` with the reason, and the window goes on;
  only the feed's own failures (auth, transient, a page that is not a page) and storage outages
  fail the window, and the run record then says ``failed`` with the error, whatever it was;
- every value from the feed written to a table or a log line is bounded (``shared.domain.bounded``);
- an attachment is fetched only when its declared ``size`` is within MAX_ATTACHMENT_BYTES, the
  download stops at the declared size, and bytes of another length are refused like a sha256
  mismatch (named in the record as unavailable, reported with the reason);
- a re-sent item whose bytes differ from the first copy is archived as its own record, id
  ``{id}.resent-{sha256 of its bytes, 16 hex}`` (its raw blob is the re-send as received), linked
  to the first (``X-WhatsApp-Resent-Of``, References/In-Reply-To, a note in the record) and
  reported; the first record stays as it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from azure.core.exceptions import HttpResponseError

from shared import names
from shared.domain.bounded import ID_CHARS, bounded, for_log
from shared.domain.items import FEED, Attachment, ItemRejected, capture_day, parse_item
from shared.pipeline import attachment_store
from shared.pipeline.messages import INLINE_RAW_MAX, ItemMessage, item_key
from shared.pipeline.ports import (
    AttachmentCorrupt,
    AttachmentSizeMismatch,
    AttachmentTooLarge,
    Feed,
    FeedAuthError,
    FeedError,
    FeedTransientError,
)

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 150 * 1024 * 1024  # the setting's default, in line with MAX_ITEM_BYTES
RESENT_MARK = ".resent-"


@dataclass
class PullResult:
    run_id: str
    report_date: str
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    items: int = 0
    attachments_fetched: int = 0
    attachments_reused: int = 0
    attachments_corrupt: int = 0
    resent_changed: int = 0
    rejected: int = 0  # items refused at the pull (an error of that item alone), kept under rejected/


def plan_windows(watermark: datetime | None, now: datetime, *, max_hours: int, first_lookback_hours: int) -> list[tuple[datetime, datetime]]:
    """Half-open windows [since, until) covering watermark..now with no gap and no overlap."""
    start = watermark or (now - timedelta(hours=first_lookback_hours))
    windows = []
    step = timedelta(hours=max_hours)
    while start < now:
        end = min(start + step, now)
        windows.append((start, end))
        start = end
    return windows


def _fetch_attachment(feed: Feed, blobs, attachment: Attachment, attempts: int = 3, *,
                      max_bytes: int = MAX_ATTACHMENT_BYTES) -> str:
    """Store one attachment under attachments/{sha256}; 'fetched', 'reused', or raise a FeedError saying why not.

    Refused: a declared size over ``max_bytes`` (not downloaded), bytes past the declared size (the
    download stops there), a length other than the declared one, a sha256 other than the declared one.
    """
    if attachment.size > max_bytes:
        raise AttachmentTooLarge(f"declared {attachment.size} bytes, more than MAX_ATTACHMENT_BYTES ({max_bytes}); not fetched")
    stored = blobs.size(names.ATTACHMENTS, attachment.sha256)
    if stored is not None:
        if stored != attachment.size:
            raise AttachmentSizeMismatch(f"declared {attachment.size} bytes, but the file with its sha256 has {stored}")
        return "reused"
    last = ""
    for _ in range(attempts):
        with attachment_store.spool() as sink:
            try:
                size = feed.download_attachment(attachment.id, sink, max_bytes=attachment.size)
            except AttachmentTooLarge:
                raise AttachmentSizeMismatch(f"declared {attachment.size} bytes, the feed sent more; "
                                             "download stopped at the declared size") from None
            if size != attachment.size:
                last = f"got {size} bytes, {attachment.size} declared"
                continue
            sha256 = attachment_store.sha256_of(sink)
            if sha256 == attachment.sha256:
                attachment_store.store(blobs, sha256, sink, size=size, content_type=attachment.content_type,
                                       attachment_id=attachment.id)
                return "fetched"
            last = f"got {size} bytes hashing to {sha256}"
    error = AttachmentSizeMismatch if last.endswith("declared") else AttachmentCorrupt
    raise error(
        f"expected sha256 {attachment.sha256} ({attachment.size} bytes), {last} "
        f"after {attempts} downloads; the record will name it as unavailable"
    )


def _store_raw(blobs, raw: dict, key: str, day: str) -> tuple[str, str | None, bytes]:
    """Keep the first copy of an item as received; a re-send with different bytes is kept beside it.

    Returns (the first copy's blob, the changed re-send's blob or None, these bytes)."""
    body = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    name = f"{day}/{key}.json"
    if blobs.put(names.RAW, name, body, content_type="application/json", overwrite=False):
        return name, None, body
    if blobs.get(names.RAW, name) == body:
        return name, None, body
    resend = f"{day}/{key}{RESENT_MARK}{hashlib.sha256(body).hexdigest()[:16]}.json"
    blobs.put(names.RAW, resend, body, content_type="application/json", overwrite=False)
    return name, resend, body


def _inline(body: bytes | None) -> str | None:
    """A small raw item rides in its items message (the raw/ blob is written all the same): no read at convert."""
    return base64.b64encode(body).decode("ascii") if body is not None and len(body) <= INLINE_RAW_MAX else None


def resent_id(item_id: str, resend_blob: str) -> str:
    """The id a changed re-send is archived under: the first's id (head) + '.resent-' + 16 hex of its bytes."""
    tag = resend_blob.rsplit(RESENT_MARK, 1)[1].removesuffix(".json")
    return f"{item_id[:200 - len(RESENT_MARK) - len(tag)]}{RESENT_MARK}{tag}"


def item_specific(exc: BaseException) -> bool:
    """Did this error come from one item's content (reject it, go on) rather than from the feed or an outage?"""
    if isinstance(exc, (FeedAuthError, FeedTransientError)):
        return False
    if isinstance(exc, HttpResponseError):  # storage refused what we sent for this item (too large, bad value)
        status = getattr(exc, "status_code", None) or 0
        return 400 <= status < 500 and status not in (401, 403, 408, 429)
    return isinstance(exc, (ValueError, TypeError, KeyError, RecursionError, UnicodeError, OverflowError, FeedError))


def _reject_at_pull(raw, exc: BaseException, *, blobs, tracking, result: "PullResult", window_day: str,
                    item_id: str | None = None) -> None:
    """Keep ``raw`` under rejected/ with the reason and mark its row rejected. ``item_id``: the row's own id
    when it is not the raw item's (a changed re-send), so the first copy's row and message stay as they are."""
    if item_id is None:
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        item_id = bounded(raw_id, ID_CHARS) if isinstance(raw_id, str) and raw_id else f"invalid-{uuid.uuid4().hex}"
    key = item_key(item_id)
    reason = f"refused at the pull: {type(exc).__name__}: {bounded(str(exc), 500)}"
    entry = {"item_id": item_id, "reason": reason, "report_date": result.report_date, "stage": "pull"}
    try:
        entry["raw"] = json.loads(json.dumps(raw, ensure_ascii=False))
    except (ValueError, TypeError, RecursionError):
        entry["raw_unserialisable"] = bounded(repr(raw), 10000)
    blobs.put(names.REJECTED, f"{window_day}/{key}.json", json.dumps(entry, ensure_ascii=False, indent=2).encode("utf-8", "surrogatepass"),
              content_type="application/json")
    tracking.item(result.report_date, key, item_id=item_id, stage="rejected", run_id=result.run_id, reason=reason)
    result.rejected += 1
    log.warning("item %s %s", for_log(item_id), for_log(reason, 300))


def pull_delta(
    *,
    feed: Feed,
    blobs,
    queues,
    checkpoints,
    tracking,
    max_window_hours: int,
    first_lookback_hours: int,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    traceparent: Callable[[], str | None] = lambda: None,
    progress: Callable[[str], None] = lambda _msg: None,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    queued: Callable[[int], None] = lambda _n: None,
) -> PullResult:
    """Pull every window since the watermark: store each item as received, track it and queue it for convert.

    A page is queued in growing batches (FIRST_BATCH items, then twice as many each time): conversion starts
    while the page is still being stored; ``queued(n)`` is told each time n more items are on the queue."""
    started = now()
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    result = PullResult(run_id=run_id, report_date=started.strftime("%Y-%m-%d"))
    windows = plan_windows(checkpoints.watermark(), started, max_hours=max_window_hours, first_lookback_hours=first_lookback_hours)
    checkpoints.record_run(run_id, started=started.isoformat(), status="running", report_date=result.report_date)
    try:
        for since, until in windows:
            progress(f"pulling window {since.isoformat()} .. {until.isoformat()}")
            for page in feed.pages(since, until):
                pulled: list[Pulled] = []
                batch = FIRST_BATCH
                for raw in page.items:
                    try:
                        pulled += [(raw, *row) for row in _pull_one(
                            raw, feed=feed, blobs=blobs, result=result, window_day=capture_day(since),
                            traceparent=traceparent(), max_attachment_bytes=max_attachment_bytes)]
                    except Exception as exc:  # noqa: BLE001 - sorted just below: one item's fault, or the window's
                        if not item_specific(exc):
                            raise
                        _reject_at_pull(raw, exc, blobs=blobs, tracking=tracking, result=result, window_day=capture_day(since))
                    if len(pulled) >= batch:  # queue what is stored so far: conversion starts while the page goes on
                        queued(_queue_pulled(pulled, blobs=blobs, queues=queues, tracking=tracking, result=result,
                                             window_day=capture_day(since)))
                        pulled, batch = [], min(2 * batch, TRACKING_TRANSACTION_MAX)
                if pulled:
                    queued(_queue_pulled(pulled, blobs=blobs, queues=queues, tracking=tracking, result=result,
                                         window_day=capture_day(since)))
                progress(f"  {result.items} items stored and queued")
            checkpoints.set_watermark(until)
            result.windows.append((since, until))
            checkpoints.record_run(run_id, last_window_end=until.isoformat(), items=result.items)
    except BaseException as exc:  # any failure, a feed's or not: the run record says failed, with why
        try:
            checkpoints.record_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished=now().isoformat(),
                                   items=result.items)
        except Exception:  # noqa: BLE001 - storage may be what failed; the original error matters more
            log.warning("could not mark pull run %s failed", run_id, exc_info=True)
        raise
    checkpoints.record_run(run_id, status="succeeded", finished=now().isoformat(), items=result.items,
                           windows=len(result.windows), attachments_corrupt=result.attachments_corrupt,
                           rejected=result.rejected, resent_changed=result.resent_changed)
    return result


Pulled = tuple  # (raw item, tracking key, tracking fields, items message)
FIRST_BATCH = 2  # items stored before the first of a page are queued; each next batch twice as many (2, 4, 8, ...:
# the first create goes out after two raw writes, not eight; a 50-item page costs 5 tracking transactions, not 3)
TRACKING_TRANSACTION_MAX = 100  # rows in one entity-group transaction (Azure Tables' limit)


def _queue_pulled(pulled: list[Pulled], *, blobs, queues, tracking, result: PullResult, window_day: str) -> int:
    """The batch's item rows in one tracking write, then their messages (convert writes after it); how many."""
    messages = _track_pulled(pulled, blobs=blobs, tracking=tracking, result=result, window_day=window_day)
    for message in messages:
        queues.send(names.ITEMS_QUEUE, message.model_dump(exclude_none=True))
    return len(messages)


def _track_pulled(pulled: list[Pulled], *, blobs, tracking, result: PullResult, window_day: str) -> list[ItemMessage]:
    """Write the page's item rows in entity-group transactions, and return the messages to queue. Should
    storage refuse a transaction for one item's values, the rows go one by one and that item is rejected."""
    try:
        tracking.items_pulled(result.report_date, [(key, fields) for _raw, key, fields, _m in pulled])
        return [message for *_rest, message in pulled]
    except Exception as exc:  # noqa: BLE001 - one item's fault, or the storage's
        if not item_specific(exc):
            raise
    messages = []
    for raw, key, fields, message in pulled:
        try:
            tracking.item(result.report_date, key, **fields)
            messages.append(message)
        except Exception as exc:  # noqa: BLE001 - as above
            if not item_specific(exc):
                raise
            result.items -= 1
            if message.resent_of:
                result.resent_changed -= 1
            _reject_at_pull(raw, exc, blobs=blobs, tracking=tracking, result=result, window_day=window_day,
                            item_id=fields["item_id"])
    return messages


def _pull_one(raw, *, feed, blobs, result: PullResult, window_day: str, traceparent,
              max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> list[tuple[str, dict, ItemMessage]]:
    """Store one item and its attachments; returns the tracking rows (key, fields) and items messages it
    needs: its own, and for a changed re-send the re-send's (archived as its own record, linked)."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    # an id longer than the contract allows is kept bounded (a hash of the whole in it): convert rejects it
    item_id = bounded(raw_id, ID_CHARS) if isinstance(raw_id, str) and raw_id else f"invalid-{uuid.uuid4().hex}"
    key = item_key(item_id)
    corrupt: list[str] = []
    problems: list[str] = []
    try:
        item = parse_item(raw)
        day = capture_day(item.captured_at)
    except ItemRejected:
        item, day = None, window_day  # stored and queued all the same: convert rejects it with the reason
    raw_blob, resend_blob, body = _store_raw(blobs, raw if isinstance(raw, dict) else {"value": raw}, key, day)
    if item is not None:
        for attachment in item.all_attachments:
            try:
                outcome = _fetch_attachment(feed, blobs, attachment, max_bytes=max_attachment_bytes)
            except (FeedAuthError, FeedTransientError):
                raise  # the run fails and the checkpoint stays: the next run fetches it again
            except FeedError as exc:  # corrupt, a size lie, too large, or the feed refuses this one file (e.g. 404)
                log.warning("attachment %s of item %s not stored: %s", for_log(attachment.id), for_log(item_id),
                            type(exc).__name__)
                corrupt.append(bounded(attachment.id, 200))
                problems.append(f"{bounded(attachment.id, 80)}: {type(exc).__name__}: {bounded(str(exc), 600)}")
                result.attachments_corrupt += 1
                continue
            if outcome == "fetched":
                result.attachments_fetched += 1
            else:
                result.attachments_reused += 1
    own = resend_blob is None  # the files fetched were this copy's; for a changed re-send, the re-send's
    fields = dict(item_id=item_id, stage="pulled", run_id=result.run_id, item_type=item.type if item else "",
                  corrupt_attachments=(",".join(corrupt) or None) if own else None,
                  attachment_problems=("; ".join(problems) or None) if own else None,
                  raw_blob=raw_blob)  # the evidence manifest hashes the item as received from here
    message = ItemMessage(item_id=item_id, raw_blob=raw_blob, report_date=result.report_date, run_id=result.run_id,
                          traceparent=traceparent, raw_b64=_inline(body) if own else None, source=FEED)
    result.items += 1
    rows = [(key, fields, message)]
    if resend_blob is not None:  # an invalid re-send too: convert rejects it with the reason, in the report
        rows.append(_resend(item_id, resend_blob, body, result=result, traceparent=traceparent,
                            corrupt=corrupt, problems=problems))
    return rows


def _resend(item_id: str, resend_blob: str, body: bytes, *, result: PullResult, traceparent,
            corrupt: list[str], problems: list[str]) -> tuple[str, dict, ItemMessage]:
    """A changed re-send: its own item (id suffixed), linked to the first, reported and counted."""
    new_id = resent_id(item_id, resend_blob)
    fields = dict(item_id=new_id, stage="pulled", run_id=result.run_id, resent_of=item_id,
                  reason=f"the source re-sent item {bounded(item_id, 300)} with different content",
                  corrupt_attachments=",".join(corrupt) or None, attachment_problems="; ".join(problems) or None,
                  raw_blob=resend_blob)
    message = ItemMessage(item_id=new_id, raw_blob=resend_blob, report_date=result.report_date, run_id=result.run_id,
                          traceparent=traceparent, resent_of=item_id, raw_b64=_inline(body), source=FEED)
    result.resent_changed += 1
    result.items += 1
    log.warning("item %s was re-sent by the source with different content: archived as its own record %s, "
                "linked to the first", for_log(item_id), for_log(new_id))
    return item_key(new_id), fields, message
