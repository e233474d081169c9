"""At most N Graph requests in flight from this instance: the ports that call Graph behind one semaphore.

DELIVERY_WORKERS is that N. The copies' first attempts at convert run on more threads than this
(twice as many), because a delivery spends part of its time on other things than Graph: waiting
for one of its mailbox's 4 slots, the ledger claim before the create and the mark after it.
Bounding the Graph requests rather than the threads keeps Graph as busy as the bound allows while
those happen, and keeps the bound what an operator sets: Graph requests in flight per instance,
directory look-ups included (the per-mailbox slots still hold each mailbox to Exchange's 4, across
instances). No port method here calls another, so a request never waits for a permit its own
caller holds.
"""

from __future__ import annotations

import threading

from shared.pipeline.ports import ArchiveCopy, CreatedCopy, Directory, Mailbox, UserStatus


class GraphInFlight:
    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._permits = threading.BoundedSemaphore(limit)

    def mailbox(self, inner: Mailbox) -> "_Mailbox":
        return _Mailbox(inner, self._permits)

    def directory(self, inner: Directory) -> "_Directory":
        return _Directory(inner, self._permits)


class _Gated:
    def __init__(self, inner, permits: threading.BoundedSemaphore):
        self._inner = inner
        self._permits = permits

    def __getattr__(self, name: str):  # the rest of the adapter (evidence look-ups, close) as it is
        return getattr(self._inner, name)


class _Mailbox(_Gated):
    def ensure_folder(self, mailbox: str, folder_name: str) -> str:
        with self._permits:
            return self._inner.ensure_folder(mailbox, folder_name)

    def find_copy(self, mailbox: str, folder_id: str, archive_id: str) -> str | None:
        with self._permits:
            return self._inner.find_copy(mailbox, folder_id, archive_id)

    def create_copy(self, mailbox: str, folder_id: str, copy: ArchiveCopy) -> CreatedCopy:
        with self._permits:
            return self._inner.create_copy(mailbox, folder_id, copy)


class _Directory(_Gated):
    def lookup(self, address: str) -> UserStatus:
        with self._permits:
            return self._inner.lookup(address)
