"""What the benchmarks' naive archivers share: a day's attachments read from memory, and one create sent
until it lands, a 429 (what msgraph's own retries did not absorb) waited out for its Retry-After, with or
without Exchange's 4 per mailbox kept."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, ContextManager

from shared.domain.record.labels import item_class_for
from shared.pipeline.ports import ArchiveCopy, MailboxThrottled

ITEM_CLASS = item_class_for("message")


class DayAttachments:
    """A generated day's attachment bytes, by attachment id, as the renderer reads them."""

    def __init__(self, by_id: dict[str, bytes]):
        self.by_id = by_id

    def read(self, attachment):
        return self.by_id.get(attachment.id)


def create_until_landed(mailbox, folder: str, copy: ArchiveCopy, *, gate: ContextManager | None = None) -> int:
    """Create ``copy`` straight through the Graph adapter (``gate``, e.g. a mailbox's semaphore of 4, held around
    each try); returns how many 429s were waited out."""
    throttled = 0
    while True:
        try:
            with gate if gate is not None else contextlib.nullcontext():
                mailbox.create_copy(copy.mailbox, folder, copy)
            return throttled
        except MailboxThrottled as exc:
            throttled += 1
            time.sleep(exc.retry_after)


def creator(mailbox, folders: dict[str, str], *, label: str, polite: bool = True) -> Callable[..., int]:
    """``create(target, item_id, eml, item_class)``: one copy into ``folders`` (by lower-cased address) until it
    lands, its archive id marked with ``label``; ``polite``: Exchange's 4 in flight per mailbox kept."""
    gates = {mb: threading.BoundedSemaphore(4) for mb in folders}

    def create(target: str, item_id: str, eml: bytes, item_class: str = ITEM_CLASS) -> int:
        return create_until_landed(mailbox, folders[target.lower()], ArchiveCopy(
            mailbox=target, archive_id=f"bench-{label}-{item_id}", eml=eml, item_class=item_class),
            gate=gates[target.lower()] if polite else None)

    return create
