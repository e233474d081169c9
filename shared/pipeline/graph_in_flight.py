"""At most N Graph requests in flight from this instance: deliveries and directory look-ups share N permits.

DELIVERY_WORKERS is that N. The copies' first attempts at convert run on more threads than this
(twice as many), because a delivery spends part of its time on other things than Graph: waiting
for its ledger claim, then one of its mailbox's 4 slots, and for the mark after the create.
Bounding the Graph requests rather than the threads keeps Graph as busy as the bound allows while
those happen, and keeps the bound what an operator sets: Graph requests in flight per instance,
directory look-ups included (the per-mailbox slots still hold each mailbox to Exchange's 4, across
instances). A delivery takes its permit after its claim and its mailbox's slot, and confirms the
claim (taking it again if the waits ran it down) under the permit, right before the create. No holder
of a permit asks for another.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from shared.pipeline.ports import Directory, UserStatus


class GraphInFlight:
    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._permits = threading.BoundedSemaphore(limit)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One of the permits, for a delivery's Graph requests (look-up and create, one after the other). Taken
        after the mailbox's slot; the delivery confirms its claim under it, right before the create."""
        with self._permits:
            yield

    def directory(self, inner: Directory) -> "_Directory":
        return _Directory(inner, self._permits)


class _Directory:
    def __init__(self, inner: Directory, permits: threading.BoundedSemaphore):
        self._inner = inner
        self._permits = permits

    def lookup(self, address: str) -> UserStatus:
        with self._permits:
            return self._inner.lookup(address)

    def __getattr__(self, name: str):  # the rest of the adapter (close) as it is
        return getattr(self._inner, name)
