"""The per-mailbox Graph request budget, shared by every instance through one table row per mailbox.

Exchange allows one app 10,000 requests per mailbox in 10 minutes (a sliding window). A backlog drained
by many instances at once would cross that and bounce off 429s; instead each delivery takes its
requests from the mailbox's budget for the current window first (by default 9,500 per 600 s, Exchange's
own window less headroom for requests not counted here), and when the window is spent the delivery is
handed back to the queue until the next one. The row holds the window and the count; writes are
conditional on the ETag, so two instances never both take the last request. The windows here are fixed
(aligned to the epoch) and Exchange's slides, so they can disagree (a full window's worth at the end of
one and again at the start of the next): then Exchange answers 429 and its Retry-After, through
``pause``, is what paces the mailbox until the two agree again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared import names
from shared.adapters.storage.tables import Tables, table_key

PARTITION = "budget"


class MailboxRequestBudget:
    """Each instance reserves part of a mailbox's window budget from the shared row (a chunk, never more
    than is left, and smaller as the window runs out) and spends it in memory: the cap holds because a
    request is spent only from a reservation, and a reservation never exceeds what is left. At most the
    unspent rest of each instance's last chunk goes unused in a window. A reservation is one conditional
    write while this instance is the only taker (it remembers the row's ETag), a read and a write after
    another instance wrote the row.
    """

    def __init__(self, tables: Tables, per_window: int, *, window_seconds: int = 60,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), chunk: int = 32):
        if per_window < 1 or window_seconds < 1:
            raise ValueError("per_window and window_seconds must be at least 1")
        self.table = tables.client(names.BUDGET_TABLE)
        self.per_window = per_window
        self.window = window_seconds
        self.clock = clock
        self.chunk = max(1, chunk)
        self._lock = threading.Lock()
        self._local: dict[str, tuple[str, int]] = {}  # mailbox key -> (window, requests reserved and unspent)
        self._reserving: dict[str, threading.Lock] = {}
        self._paused: dict[str, float] = {}  # mailbox key -> epoch seconds until which Graph asked us to wait
        self._rows: dict[str, tuple[str, int, str]] = {}  # mailbox key -> (window, used, etag) as last written here
        self._spent: dict[str, str] = {}  # mailbox key -> the window this instance found with no request left

    def take(self, mailbox: str, requests: int = 1) -> float:
        """Take ``requests`` from this window's budget: 0.0 when granted, else seconds until the next window."""
        key, now, window_start = self._now(mailbox)
        window = str(window_start)
        with self._lock:
            if (wait := self._known_wait(key, now, window_start)) > 0:
                return wait
            held_window, left = self._local.get(key, ("", 0))
            if held_window == window and left >= requests:
                self._local[key] = (window, left - requests)
                return 0.0
        with self._lock:
            single = self._reserving.setdefault(key, threading.Lock())
        with single:  # one reservation per mailbox at a time in this instance; the others then spend it
            with self._lock:
                held_window, left = self._local.get(key, ("", 0))
                if held_window == window and left >= requests:
                    self._local[key] = (window, left - requests)
                    return 0.0
            granted = self._reserve(key, window, requests, now)
            if granted < requests:
                with self._lock:
                    if requests == 1 and self._paused.get(key, 0.0) <= now:
                        self._spent[key] = window  # a window's count only grows: spent until it ends
                    return self._known_wait(key, now, window_start) or max(window_start + self.window - now, 0.5)
            with self._lock:
                held_window, left = self._local.get(key, ("", 0))
                left = left if held_window == window else 0
                self._local[key] = (window, left + granted - requests)
            return 0.0

    def waiting(self, mailbox: str) -> float:
        """Seconds this instance already knows the mailbox must wait before its next request (Graph paused it, or
        this window's budget was found spent), 0.0 when it may try; asks storage nothing. A delivery asks before
        it claims its copy, so that the copies of a paused mailbox go back to the queue without a claim each."""
        key, now, window_start = self._now(mailbox)
        with self._lock:
            return self._known_wait(key, now, window_start)

    def _now(self, mailbox: str) -> tuple[str, float, int]:
        """The mailbox's row key, the time (epoch seconds) and the start of the current window."""
        now = self.clock().timestamp()
        return table_key(mailbox.lower()), now, int(now) // self.window * self.window

    def _known_wait(self, key: str, now: float, window_start: int) -> float:
        """Under ``_lock``: Graph's pause on the mailbox, else the rest of a window this instance found spent, else 0.0."""
        paused = self._paused.get(key, 0.0) - now
        if paused > 0:
            return paused
        if self._spent.get(key) == str(window_start):
            return max(window_start + self.window - now, 0.5)
        return 0.0

    def pause(self, mailbox: str, seconds: float) -> None:
        """Graph throttled this mailbox (429/503 with Retry-After): no instance takes from its budget for
        ``seconds``, so the copies waiting for it come back after the pause instead of meeting 429s."""
        key = table_key(mailbox.lower())
        until = self.clock().timestamp() + max(seconds, 0.0)
        with self._lock:
            if until <= self._paused.get(key, 0.0):
                return
            self._paused[key] = until
            self._local.pop(key, None)  # what was reserved before the 429 is not spent into it
        try:  # tell the other instances (they see it at their next reservation)
            self.table.upsert_entity({"PartitionKey": PARTITION, "RowKey": key, "paused_until": until},
                                     mode=UpdateMode.MERGE)
        except Exception:  # noqa: BLE001 - this instance pauses all the same
            pass

    def _reserve(self, key: str, window: str, requests: int, now: float) -> int:
        """Move a chunk (at least ``requests``) of the window's budget to this instance; 0 when not enough is
        left or the mailbox is paused."""
        known = self._rows.get(key)
        for _ in range(16):  # lost races retry; each loss means another taker was granted
            if known is None:
                try:
                    row = self.table.get_entity(PARTITION, key)
                    paused_until = float(row.get("paused_until") or 0.0)
                    if paused_until > now:
                        with self._lock:
                            self._paused[key] = max(self._paused.get(key, 0.0), paused_until)
                        return 0
                    known = (row.get("window", ""), int(row.get("used", 0)), row.metadata["etag"])
                except ResourceNotFoundError:
                    grant = self._chunk(self.per_window, requests)
                    if grant < requests:
                        return 0
                    try:
                        meta = self.table.create_entity({"PartitionKey": PARTITION, "RowKey": key, "window": window,
                                                         "used": grant})
                        self._rows[key] = (window, grant, meta["etag"])
                        return grant
                    except ResourceExistsError:
                        continue
            row_window, used, etag = known
            used = used if row_window == window else 0
            grant = self._chunk(self.per_window - used, requests)
            if grant < requests:
                return 0
            try:
                meta = self.table.update_entity({"PartitionKey": PARTITION, "RowKey": key, "window": window,
                                                 "used": used + grant},
                                                mode=UpdateMode.REPLACE, etag=etag,
                                                match_condition=MatchConditions.IfNotModified)
                self._rows[key] = (window, used + grant, meta["etag"])
                return grant
            except (ResourceModifiedError, ResourceNotFoundError):
                known = None  # another instance wrote it: read it again
        return 0

    def _chunk(self, left: int, requests: int) -> int:
        """How much to reserve: up to ``chunk``, an eighth of what is left when little is (so the last of a
        window is shared out finely), never more than is left."""
        if left < requests:
            return 0
        return min(left, max(requests, min(self.chunk, -(-left // 8))))
