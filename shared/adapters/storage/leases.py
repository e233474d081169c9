"""Per-mailbox concurrency slots shared by every worker instance, built on blob leases.

Exchange allows an app 4 concurrent requests per mailbox. Each mailbox has N lease blobs
(``locks/mailbox/{hash}/slot-{i}``); a delivery talks to Graph only while it holds one of them.

Leases are sticky: an instance keeps the leases it took in a small pool and hands a free one to
its next delivery for that mailbox without asking storage again; one renewer thread per instance
keeps every held lease alive and gives back a lease nobody here used for ``idle_seconds``. So a
steady stream of copies for one mailbox costs a lease acquire now and then instead of an acquire,
a renewer thread and a release per copy. The cap holds as before: each delivery in flight owns a
distinct live lease (a lease is handed out only while it has ``HANDOUT_MARGIN`` seconds left), and
a crashed instance frees its slots within the lease period.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from shared import names

log = logging.getLogger(__name__)

LEASE_SECONDS = 15  # the shortest lease Azure allows: a crashed worker frees its slot soonest
RENEW_AFTER = 8.0  # seconds since the last acquire/renew: renew (7 s of margin before it lapses)
HANDOUT_MARGIN = 5.0  # a lease with less life left than this is not handed to a new delivery
IDLE_SECONDS = 5.0  # a lease nobody here used for this long goes back to storage
GROW_AFTER = 0.15  # seconds a delivery waits for a sibling's lease before taking another slot from storage
LOCAL_WAIT = 10.0  # seconds a delivery waits for a slot a sibling delivery of this instance holds


@dataclass
class _Held:
    index: int
    lease: BlobLeaseClient
    renewed_at: float
    idle_since: float | None = None  # None: a delivery is using it
    lost: bool = False


class MailboxSlots:
    def __init__(self, service: BlobServiceClient, slots: int, *, idle_seconds: float = IDLE_SECONDS,
                 local_wait: float = LOCAL_WAIT, clock: Callable[[], float] = time.monotonic):
        self.container = service.get_container_client(names.LOCKS)
        self.slots = slots
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.local_wait = local_wait
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # notified when a delivery here puts a lease back
        self._trying: dict[str, set[int]] = {}  # mailbox -> slot indexes a thread here is acquiring now
        self._held: dict[str, list[_Held]] = {}  # mailbox (lower case) -> leases this instance holds
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _blob(self, mailbox: str, index: int):
        digest = hashlib.sha256(mailbox.lower().encode()).hexdigest()[:32]
        return self.container.get_blob_client(f"mailbox/{digest}/slot-{index}")

    def _try_lease(self, mailbox: str, index: int) -> BlobLeaseClient | None:
        blob = self._blob(mailbox, index)
        for _ in range(2):
            try:
                return blob.acquire_lease(lease_duration=LEASE_SECONDS)
            except ResourceNotFoundError:
                try:
                    blob.upload_blob(b"", overwrite=False)
                except (ResourceExistsError, HttpResponseError):
                    pass  # created by another worker, or leased already
            except HttpResponseError as exc:
                if exc.status_code == 409:  # LeaseAlreadyPresent
                    return None
                raise
        return None

    # ------------------------------------------------------------------ hand-out
    def _take_idle(self, key: str) -> _Held | None:
        now = self.clock()
        with self._lock:
            for held in self._held.get(key, []):
                if held.idle_since is not None and not held.lost and now - held.renewed_at < LEASE_SECONDS - HANDOUT_MARGIN:
                    held.idle_since = None
                    return held
        return None

    def _acquire(self, key: str) -> _Held | None:
        with self._lock:
            mine = {h.index for h in self._held.get(key, [])} | self._trying.setdefault(key, set())
            order = [i for i in range(self.slots) if i not in mine]
            self._trying[key].update(order)  # sibling threads here try the other slots, not these
        random.shuffle(order)
        try:
            for index in order:
                started = self.clock()
                lease = self._try_lease(key, index)
                if lease is None:
                    continue
                held = _Held(index=index, lease=lease, renewed_at=started)
                with self._lock:
                    self._held.setdefault(key, []).append(held)
                    self._start_renewer()
                return held
            return None
        finally:
            with self._lock:
                self._trying[key].difference_update(order)

    def _put_back(self, key: str, held: _Held) -> None:
        with self._freed:
            held.idle_since = self.clock()
            self._freed.notify_all()

    def _holds_any(self, key: str) -> bool:
        with self._lock:
            return any(not h.lost for h in self._held.get(key, []))

    def _all_mine_busy(self, key: str) -> bool:
        with self._lock:
            held = [h for h in self._held.get(key, []) if not h.lost]
            return len(held) + len(self._trying.get(key, ())) >= self.slots

    @contextmanager
    def hold(self, mailbox: str) -> Iterator[bool]:
        """Yield True holding one of the mailbox's slots, or False when all are busy.

        When every slot is held by deliveries of this instance, wait up to ``local_wait`` seconds for one
        of them to finish (a Graph request takes well under a second) instead of handing the copy back."""
        key = mailbox.lower()
        held = self._take_idle(key)
        if held is None and self._holds_any(key):
            # a sibling's request ends soon: wait a moment for its lease before taking one more from storage
            grow_at = self.clock() + GROW_AFTER
            while held is None and (left := grow_at - self.clock()) > 0:
                with self._freed:
                    self._freed.wait(left)
                held = self._take_idle(key)
        deadline = self.clock() + self.local_wait
        while held is None:
            if not self._all_mine_busy(key):
                held = self._acquire(key)
                if held is None and not self._all_mine_busy(key):
                    break  # another instance holds the rest
                if held is not None:
                    break
            left = deadline - self.clock()
            if left <= 0:
                break
            with self._freed:
                self._freed.wait(min(left, 0.5))
            held = self._take_idle(key)
        if held is None:
            yield False
            return
        try:
            yield True
        finally:
            self._put_back(key, held)

    # ------------------------------------------------------------------ upkeep
    def _start_renewer(self) -> None:  # under self._lock
        if self._renewer is None or not self._renewer.is_alive():
            self._stop.clear()
            self._renewer = threading.Thread(target=self._upkeep_loop, daemon=True, name="mailbox-slot-upkeep")
            self._renewer.start()

    def _upkeep_loop(self) -> None:
        while not self._stop.wait(0.5):
            if not self.upkeep():
                with self._lock:
                    if not any(self._held.values()):
                        self._renewer = None
                        return

    def upkeep(self, *, release_all: bool = False) -> int:
        """Renew the held leases that need it and give back the idle ones; returns how many are held."""
        now = self.clock()
        to_renew, to_release = [], []
        with self._lock:
            for key, leases in list(self._held.items()):
                for held in list(leases):
                    idle = held.idle_since is not None
                    if held.lost and idle:
                        leases.remove(held)
                    elif idle and (release_all or now - held.idle_since >= self.idle_seconds
                                   or now - held.renewed_at >= RENEW_AFTER):  # idle and due: give back, not renew
                        leases.remove(held)
                        to_release.append(held)
                    elif not held.lost and now - held.renewed_at >= RENEW_AFTER:
                        to_renew.append(held)
                if not leases:
                    del self._held[key]
            count = sum(len(v) for v in self._held.values())
        for held in to_renew:
            started = self.clock()
            try:
                held.lease.renew()
                held.renewed_at = started
            except Exception:  # noqa: BLE001 - it lapses on its own; never hand it out again
                held.lost = True
                log.warning("a mailbox slot lease could not be renewed; it lapses within %d s", LEASE_SECONDS)
        for held in to_release:
            try:
                held.lease.release()
            except Exception:  # noqa: BLE001 - an unreleased lease expires after LEASE_SECONDS
                pass
        return count

    def close(self) -> None:
        """Give back every idle lease now (leases in use go back when their delivery ends)."""
        self._stop.set()
        self.upkeep(release_all=True)
