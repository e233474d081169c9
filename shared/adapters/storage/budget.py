"""The per-mailbox Graph request budget, shared by every instance through one table row per mailbox.

Exchange allows one app 10,000 requests per mailbox in 10 minutes. A backlog drained by many
instances at once would cross that and bounce off 429s; instead each delivery takes its
requests from the mailbox's budget for the current minute first, and when the minute is spent
the delivery is handed back to the queue until the next one. The row holds the minute and the
count; writes are conditional on the ETag, so two instances never both take the last request.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared import names
from shared.adapters.storage.tables import Tables, table_key

PARTITION = "budget"


class MailboxRequestBudget:
    def __init__(self, tables: Tables, per_window: int, *, window_seconds: int = 60,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        if per_window < 1 or window_seconds < 1:
            raise ValueError("per_window and window_seconds must be at least 1")
        self.table = tables.client(names.BUDGET_TABLE)
        self.per_window = per_window
        self.window = window_seconds
        self.clock = clock

    def take(self, mailbox: str, requests: int = 1) -> float:
        """Take ``requests`` from this window's budget: 0.0 when granted, else seconds until the next window."""
        now = self.clock()
        window_start = int(now.timestamp()) // self.window * self.window
        window = str(window_start)
        key = table_key(mailbox.lower())
        for _ in range(16):  # lost races retry; each loss means another taker was granted
            try:
                row = self.table.get_entity(PARTITION, key)
            except ResourceNotFoundError:
                try:
                    self.table.create_entity({"PartitionKey": PARTITION, "RowKey": key, "window": window, "used": requests})
                    return 0.0
                except ResourceExistsError:
                    continue
            used = int(row.get("used", 0)) if row.get("window") == window else 0
            if used + requests > self.per_window:
                return max(window_start + self.window - now.timestamp(), 0.5)
            try:
                self.table.update_entity({"PartitionKey": PARTITION, "RowKey": key, "window": window, "used": used + requests},
                                         mode=UpdateMode.REPLACE, etag=row.metadata["etag"],
                                         match_condition=MatchConditions.IfNotModified)
                return 0.0
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
        return 1.0  # heavy contention: come back in a second rather than spin
