"""WaitingRoom: run a piece of work once its wait is over, without a thread waiting for it meanwhile.

Copies handed back at convert for a wait of a second or two (Graph paused their mailbox, their create failed
and is retried shortly) wait here rather than in the deliveries queue: the queue brings a message back only
after whole seconds of visibility delay and polling, and then a handler waits out the rest holding one of the
host's few handler slots. Here one thread keeps the due times and hands each piece of work, when due, to an
executor. What waits here is not durable: the caller keeps a durable copy of the work (a queued message) that
takes over if this process ends first.

Work may carry a key (the copy's mailbox) with a limit of pieces running at once per key (Exchange's 4
concurrent requests per mailbox): the copies of a paused mailbox all come due when the pause ends, and without
the limit they would take every thread of the executor, waiting for their mailbox's slots, while copies due for
other mailboxes waited behind them.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
import logging
import threading
import time
from concurrent.futures import Executor
from typing import Callable

log = logging.getLogger(__name__)


class WaitingRoom:
    def __init__(self, executor: Executor, *, per_key: int = 4, clock: Callable[[], float] = time.monotonic):
        self._executor = executor
        self._per_key = per_key
        self._clock = clock
        self._due: list[tuple[float, int, object, Callable[[], None]]] = []
        self._order = itertools.count()  # equal due times run in the order they came
        self._running: dict[object, int] = {}  # key -> pieces of work running now
        self._held: dict[object, deque] = {}  # key -> due work waiting for one of its key's pieces to end
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def later(self, after_seconds: float, work: Callable[[], None], *, key: object = None) -> bool:
        """Run ``work`` on the executor ``after_seconds`` from now, and no more than ``per_key`` pieces of the same
        ``key`` at once (None: no limit); False once the room is closed (then nothing runs)."""
        with self._changed:
            if self._closed:
                return False
            heapq.heappush(self._due, (self._clock() + max(0.0, after_seconds), next(self._order), key, work))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="waiting-room")
                self._thread.start()
            self._changed.notify()
        return True

    def waiting(self) -> int:
        """Pieces of work not running yet (not due, or due and held back by their key's limit)."""
        with self._changed:
            return len(self._due) + sum(len(q) for q in self._held.values())

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (not self._due or self._due[0][0] > self._clock()):
                    self._changed.wait(None if not self._due else self._due[0][0] - self._clock())
                if self._closed:
                    return
                _at, _n, key, work = heapq.heappop(self._due)
                if key is not None and self._running.get(key, 0) >= self._per_key:
                    self._held.setdefault(key, deque()).append(work)
                    continue
                self._running[key] = self._running.get(key, 0) + 1
            if not self._submit(key, work):
                return

    def _submit(self, key: object, work: Callable[[], None]) -> bool:
        try:
            self._executor.submit(self._run_one, key, work)
            return True
        except RuntimeError:  # the executor shut down: the caller's durable copy takes over
            log.warning("waiting room: the executor is shut down; the queued copy of the work takes over")
            self.close()
            return False

    def _run_one(self, key: object, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - the work reports its own failures; one must not stop the others
            log.exception("waiting room: a piece of work failed")
        finally:
            with self._changed:
                held = self._held.get(key)
                following = held.popleft() if held and not self._closed else None
                if held is not None and not held:
                    del self._held[key]
                if following is None:
                    self._running[key] -= 1
                    if not self._running[key]:
                        del self._running[key]
            if following is not None:
                self._submit(key, following)

    def close(self) -> int:
        """Stop: work not yet running is dropped (its durable copy takes over); returns how much was dropped."""
        with self._changed:
            self._closed = True
            dropped = len(self._due) + sum(len(q) for q in self._held.values())
            self._due.clear()
            self._held.clear()
            self._changed.notify_all()
        return dropped
