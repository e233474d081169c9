"""How many large files one worker process renders at once: a budget of bytes, not of messages.

Rendering a record holds its files several times over (the bytes, their base64, the MIME tree,
the flattened .eml): measured at about 6.3x the file's size (a 20 MiB file: 105 MiB above the
file itself; ``python -m devtools.hostile_memory`` reproduces it). The queue batch of
host.json (batchSize 8 + newBatchThreshold 4 = 12 messages per instance per queue) counts
messages, not bytes: 12 conversions of a 110 MB file (the largest a 150 MiB record can embed)
would want ~8.3 GB on an instance of 2,048 MB (infra: instanceMemoryMB).

So a conversion reserves ``RENDER_FACTOR x`` the declared bytes of the files it may embed (the
declared sizes are checked against the bytes before anything is read, see ``BlobAttachments``),
capped at the budget; an item without files reserves nothing and never waits. With the default
budget of 1,024 MiB one worst-case record (7 x 150 MiB ~ 1,050 MiB, capped: it runs alone) or
several smaller ones run at once, beside any number of file-less items:

    worst case per instance ~ 1,024 MiB (large renders) + 12 x ~5 MiB (small items)
                              + ~300 MiB (the Python worker and its clients)   < 2,048 MiB

Delivery holds one .eml (at most MAX_ITEM_BYTES) per message plus Graph's upload chunks; see
docs/hostile-source.md for its share and why instanceMemoryMB 4,096 is the safe choice when
MAX_ITEM_BYTES stays at 150 MiB.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

MiB = 1024 * 1024
RENDER_FACTOR = 7  # measured 6.3x, rounded up
DEFAULT_BUDGET = 1024 * MiB


class MemoryBudget:
    """A process-wide byte budget; ``hold(cost)`` waits while others hold too much of it."""

    def __init__(self, limit: int = DEFAULT_BUDGET):
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, cost: int) -> Iterator[None]:
        cost = max(0, min(cost, self.limit))  # a job larger than the whole budget runs alone
        if cost == 0:
            yield
            return
        with self._cond:
            while self.used and self.used + cost > self.limit:
                self._cond.wait()
            self.used += cost
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            with self._cond:
                self.used -= cost
                self._cond.notify_all()


def render_cost(file_sizes: list[int], max_item_bytes: int) -> int:
    """Bytes a render may hold: RENDER_FACTOR x the declared sizes of the files that could be embedded."""
    embeddable = sum(size for size in file_sizes if size <= max_item_bytes)
    return RENDER_FACTOR * min(embeddable, max_item_bytes)


PROCESS_BUDGET = MemoryBudget()  # one per worker process: the Functions host runs the handlers in its threads
