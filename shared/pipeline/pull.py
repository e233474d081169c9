"""pull_delta: copy the capture feed's new items into storage and queue them for conversion.

Windows run from the checkpoint to now, each at most MAX_WINDOW_HOURS long (a missed day is
caught up in steps). Inside a window, page by page: raw item JSON to ``raw/``, each attachment
fetched, its sha256 checked and stored by hash, then one message on ``items``. The checkpoint
moves to a window's end only after the whole window is stored and queued; a run that dies
half-way leaves it, and the next run pulls the window again (downstream is idempotent).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from shared import names
from shared.domain.items import Attachment, ItemRejected, capture_day, parse_item
from shared.pipeline.messages import INLINE_RAW_MAX, ItemMessage, item_key
from shared.pipeline.ports import AttachmentCorrupt, Feed, FeedAuthError, FeedError, FeedTransientError

log = logging.getLogger(__name__)

SPOOL_BYTES = 8 * 1024 * 1024  # attachments larger than this stream through a temp file


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


def _fetch_attachment(feed: Feed, blobs, attachment: Attachment, attempts: int = 3) -> str:
    """Store one attachment under attachments/{sha256}; 'fetched', 'reused' or raise AttachmentCorrupt."""
    if blobs.exists(names.ATTACHMENTS, attachment.sha256):
        return "reused"
    last = ""
    for _ in range(attempts):
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as sink:
            size = feed.download_attachment(attachment.id, sink)
            sink.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: sink.read(1024 * 1024), b""):
                digest.update(chunk)
            if digest.hexdigest() == attachment.sha256:
                sink.seek(0)
                blobs.put(names.ATTACHMENTS, attachment.sha256, sink, content_type=attachment.content_type or "application/octet-stream",
                          metadata={"attachment_id": attachment.id[:256].encode("ascii", "replace").decode(), "size": str(size)})
                return "fetched"
            last = f"got {size} bytes hashing to {digest.hexdigest()}"
    raise AttachmentCorrupt(
        f"attachment {attachment.id}: expected sha256 {attachment.sha256} ({attachment.size} bytes), {last} "
        f"after {attempts} downloads; the record will name it as unavailable"
    )


def _store_raw(blobs, raw: dict, key: str, day: str) -> tuple[str, bool, bytes | None]:
    """Keep the first copy of an item as received; a re-send with different bytes is kept beside it.
    Returns the blob name, whether this was a changed re-send, and the stored bytes when they are these."""
    body = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
    name = f"{day}/{key}.json"
    if blobs.put(names.RAW, name, body, content_type="application/json", overwrite=False):
        return name, False, body
    if blobs.get(names.RAW, name) == body:
        return name, False, body
    resend = f"{day}/{key}.resent-{hashlib.sha256(body).hexdigest()[:16]}.json"
    blobs.put(names.RAW, resend, body, content_type="application/json", overwrite=False)
    return name, True, None  # the item is archived from its first version; the changed re-send is kept as evidence


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
) -> PullResult:
    started = now()
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    result = PullResult(run_id=run_id, report_date=started.strftime("%Y-%m-%d"))
    windows = plan_windows(checkpoints.watermark(), started, max_hours=max_window_hours, first_lookback_hours=first_lookback_hours)
    checkpoints.record_run(run_id, started=started.isoformat(), status="running", report_date=result.report_date)
    try:
        for since, until in windows:
            progress(f"pulling window {since.isoformat()} .. {until.isoformat()}")
            for page in feed.pages(since, until):
                pulled: list[tuple[str, dict, ItemMessage]] = []
                for raw in page.items:
                    pulled.append(_pull_one(raw, feed=feed, blobs=blobs, result=result, window_day=capture_day(since),
                                            traceparent=traceparent()))
                # the page's item rows in one tracking write, before their messages (convert writes after it)
                tracking.items_pulled(result.report_date, [(key, fields) for key, fields, _m in pulled])
                for _key, _fields, message in pulled:
                    queues.send(names.ITEMS_QUEUE, message.model_dump(exclude_none=True))
                progress(f"  {result.items} items stored and queued")
            checkpoints.set_watermark(until)
            result.windows.append((since, until))
            checkpoints.record_run(run_id, last_window_end=until.isoformat(), items=result.items)
    except FeedError as exc:
        checkpoints.record_run(run_id, status="failed", error=str(exc)[:1000], finished=now().isoformat(), items=result.items)
        raise
    checkpoints.record_run(run_id, status="succeeded", finished=now().isoformat(), items=result.items,
                           windows=len(result.windows), attachments_corrupt=result.attachments_corrupt)
    return result


def _pull_one(raw, *, feed, blobs, result: PullResult, window_day: str, traceparent) -> tuple[str, dict, ItemMessage]:
    """Store one item and its attachments; returns its tracking row (key, fields) and its items message."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    item_id = raw_id if isinstance(raw_id, str) and raw_id else f"invalid-{uuid.uuid4().hex}"
    key = item_key(item_id)
    corrupt: list[str] = []
    try:
        item = parse_item(raw)
        day = capture_day(item.captured_at)
    except ItemRejected:
        item, day = None, window_day  # stored and queued all the same: convert rejects it with the reason
    raw_blob, changed, body = _store_raw(blobs, raw if isinstance(raw, dict) else {"value": raw}, key, day)
    result.resent_changed += int(changed)
    if item is not None:
        for attachment in item.all_attachments:
            try:
                outcome = _fetch_attachment(feed, blobs, attachment)
            except (FeedAuthError, FeedTransientError):
                raise  # the run fails and the checkpoint stays: the next run fetches it again
            except FeedError as exc:  # corrupt after re-fetching, or the feed refuses this one file (e.g. 404)
                log.warning("attachment %s of item %s not stored: %s", attachment.id, item_id, type(exc).__name__)
                corrupt.append(attachment.id)
                result.attachments_corrupt += 1
                continue
            if outcome == "fetched":
                result.attachments_fetched += 1
            else:
                result.attachments_reused += 1
    fields = dict(item_id=item_id, stage="pulled", run_id=result.run_id, item_type=item.type if item else "",
                  corrupt_attachments=",".join(corrupt) or None)
    inline = base64.b64encode(body).decode("ascii") if body is not None and len(body) <= INLINE_RAW_MAX else None
    message = ItemMessage(item_id=item_id, raw_blob=raw_blob, report_date=result.report_date, run_id=result.run_id,
                          traceparent=traceparent, raw_b64=inline)
    result.items += 1
    return key, fields, message
