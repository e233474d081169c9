"""What the benchmarks' naive archivers share: a day's attachments read from memory, and one create sent
until it lands, a 429 (what msgraph's own retries did not absorb) waited out for its Retry-After."""

from __future__ import annotations

import contextlib
import time
from typing import ContextManager

from shared.pipeline.ports import ArchiveCopy, MailboxThrottled

ITEM_CLASS = "IPM.ExternalData.WhatsAppArchiver.Message"


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
