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

A directory look-up waiting for a permit gets the next one freed, ahead of the deliveries waiting: the
items of a conversation with someone new all wait for that one look-up (each holding one of the
instance's queue workers meanwhile), while a delivery behind it is one copy.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import ContextManager, Iterator

from shared.pipeline.ports import Directory, UserStatus


class _Permits:
    """N permits; a waiter marked ``first`` is served before the others waiting."""

    def __init__(self, limit: int):
        self._free = limit
        self._lock = threading.Lock()
        self._first = threading.Condition(self._lock)
        self._others = threading.Condition(self._lock)
        self._first_waiting = 0
        self._others_waiting = 0

    def waiting(self) -> tuple[int, int]:
        """(look-ups, others) waiting for a permit now."""
        with self._lock:
            return self._first_waiting, self._others_waiting

    @contextmanager
    def hold(self, *, first: bool = False) -> Iterator[None]:
        with self._lock:
            if first:
                self._first_waiting += 1
                try:
                    while self._free == 0:
                        self._first.wait()
                finally:
                    self._first_waiting -= 1
                self._free -= 1
                if self._free and not self._first_waiting:  # more were freed while it waited: for the others now
                    self._others.notify(self._free)
            else:
                self._others_waiting += 1
                try:
                    while self._free == 0 or self._first_waiting:
                        self._others.wait()
                finally:
                    self._others_waiting -= 1
                self._free -= 1
        try:
            yield
        finally:
            with self._lock:
                self._free += 1
                (self._first if self._first_waiting else self._others).notify()


class GraphInFlight:
    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._permits = _Permits(limit)

    def hold(self) -> ContextManager[None]:
        """One of the permits, for a delivery's Graph requests (look-up and create, one after the other). Taken
        after the mailbox's slot; the delivery confirms its claim under it, right before the create."""
        return self._permits.hold()

    def waiting(self) -> tuple[int, int]:
        """(directory look-ups, deliveries) waiting for a permit now."""
        return self._permits.waiting()

    def directory(self, inner: Directory) -> "_Directory":
        return _Directory(inner, self._permits)


class _Directory:
    def __init__(self, inner: Directory, permits: _Permits):
        self._inner = inner
        self._permits = permits

    def lookup(self, address: str) -> UserStatus:
        with self._permits.hold(first=True):
            return self._inner.lookup(address)

    def __getattr__(self, name: str):  # the rest of the adapter (close) as it is
        return getattr(self._inner, name)
