"""Drain a queue in-process the way the Functions host does.

Receive a batch, run the handler on each message, delete it on success; on an exception make
it visible again after the retry delay, and after ``max_dequeue_count`` attempts move it to
``<queue>-poison``. Used by ``python -m shared run`` and the tests, so the CLI shows the same
retry and poison behaviour as the host.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from shared import names

log = logging.getLogger(__name__)

Handler = Callable[[bytes, int], str]
PRODUCER_PACE = 0.25  # seconds between receives while a producer still adds messages (each receive is a request)


@dataclass
class DrainStats:
    handled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    poisoned: int = 0

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def drain(
    queues,
    queue: str,
    handler: Handler,
    *,
    max_dequeue_count: int,
    retry_delay_seconds: float = 2.0,
    workers: int = 4,
    visibility_timeout: int = 120,
    max_idle_seconds: float = 600.0,
    stats: DrainStats | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    producing: Callable[[], bool] = lambda: False,
    arrivals: threading.Event | None = None,
    pace: float = PRODUCER_PACE,
) -> DrainStats:
    """Process ``queue`` until it is empty (messages delayed by throttling are waited for) and ``producing``
    says no more are coming (the pull running beside the drain; it sets ``arrivals`` when it queued some).
    While it produces, the queue is asked at most every ``pace`` seconds unless ``arrivals`` says otherwise."""
    stats = stats or DrainStats()
    idle_since: float | None = None
    last_progress = 0.0

    def work(msg) -> None:
        try:
            outcome = handler(msg.body, msg.dequeue_count)
        except Exception as exc:  # noqa: BLE001 - same contract as the host: any exception is a failed attempt
            stats.errors += 1
            if msg.dequeue_count >= max_dequeue_count:
                queues.send(queue + names.POISON_SUFFIX, msg.body)
                queues.delete(msg)
                stats.poisoned += 1
                log.error("%s: message %s moved to poison after %d attempts: %s", queue, msg.id, msg.dequeue_count,
                          type(exc).__name__)
            else:
                queues.release(msg, delay_seconds=retry_delay_seconds)
            return
        queues.delete(msg)
        stats.handled += 1
        stats.add(outcome)

    # Keep every worker busy: up to 2 x workers messages in hand, and receive the next batch as soon as no
    # more than ``workers`` are left (not after the slowest of a batch, which left workers idle). Once a
    # receive comes back empty, the rest in hand finish before the queue is asked again (no polling per
    # finished message).
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"drain-{queue}") as pool:
        in_flight: set = set()
        last_receive = float("-inf")
        while True:
            if len(in_flight) > workers:
                _done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                continue
            if producing():  # the pull is still adding messages: receive when it says it queued some (``arrivals``),
                pause = last_receive + pace - time.monotonic()  # and at least every ``pace`` seconds
                if arrivals is not None and arrivals.is_set():
                    arrivals.clear()
                elif pause > 0:  # short waits while messages are in hand: a finished one makes room to receive
                    (arrivals.wait if arrivals is not None else time.sleep)(min(pause, 0.05) if in_flight else pause)
                    continue
            room = 2 * workers - len(in_flight)
            batch = queues.receive(queue, max_messages=min(32, room), visibility_timeout=visibility_timeout)
            last_receive = time.monotonic()
            if batch:
                idle_since = None
                in_flight |= {pool.submit(work, msg) for msg in batch}
                now = time.monotonic()
                if now - last_progress > 1.0:
                    progress(f"{queue}: {stats.handled} handled {dict(sorted(stats.outcomes.items()))}, "
                             f"{stats.errors} failed attempts, {stats.poisoned} poisoned")
                    last_progress = now
                continue
            if producing():
                continue  # paced above
            if in_flight:
                wait(in_flight)
                in_flight = set()
                continue
            if queues.depth(queue) == 0:
                return stats
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > max_idle_seconds:
                log.warning("%s: messages still delayed after %.0fs; leaving them for the next run", queue, max_idle_seconds)
                return stats
            time.sleep(0.25)


def move_queue(queues, source: str, target: str, *, limit: int | None = None) -> int:
    """Move every message of ``source`` to ``target`` (the redrive of a poison queue)."""
    moved = 0
    while limit is None or moved < limit:
        batch = queues.receive(source, max_messages=32, visibility_timeout=60)
        if not batch:
            break
        for msg in batch:
            queues.send(target, msg.body)
            queues.delete(msg)
            moved += 1
    return moved
