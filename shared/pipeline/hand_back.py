"""HandBack: a copy whose first attempt at convert did not land goes to the deliveries queue, and when its wait
is short it is also tried again in this process as soon as the wait is over.

Why: a 429 pauses a whole mailbox for a second or so, and every copy for it converted meanwhile is handed back.
Through the queue alone each of them came back after whole seconds of visibility delay and polling, and then
a queue handler waited out the rest holding one of the host's few handler slots while copies for other
mailboxes waited behind it: a day under a realistic fault mix took 2 x its clean time, nearly all of it copies
waiting for nothing. Now such a copy waits in the process's ``WaitingRoom`` (no thread held) and is tried
again, as the queue's handler would try it, when its wait ends.

Nothing is less durable than before. The queued message is sent first, as before, only shown later: after
the wait plus ``BACKSTOP_SECONDS``. When the retry here lands (or finds the copy landed), it deletes that
message; when it is handed back again or fails, it shows the message after the new wait, and the queue's
handler takes over. If this process ends first, the message shows on its own at the backstop. Two attempts
at once (the backstop showing while a retry here is slow) are what the ledger's claim is for: one creates,
the other finds the copy busy or landed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable

from shared import names
from shared.domain.bounded import for_log
from shared.pipeline.deliver import WAITED_OUT_FROM_THE_QUEUE, Delivered, Requeue
from shared.pipeline.messages import DeliveryMessage
from shared.pipeline.waiting_room import WaitingRoom

log = logging.getLogger(__name__)

BACKSTOP_SECONDS = 30  # the queued message shows this long after the wait if the retry here has not settled it
RETRIED_HERE_WITHIN = WAITED_OUT_FROM_THE_QUEUE  # waits up to this long (in all, per copy) are waited here
RETRY_AFTER_FAILED_ATTEMPT = 1.0  # seconds before a copy whose attempt raised (at convert, or here) is tried again


@dataclass
class HandBack:
    queues: object
    room: WaitingRoom | None
    attempt: Callable[[DeliveryMessage], Delivered | Requeue]  # one delivery attempt, tracking written
    outcome: Callable[[str], None] = lambda _outcome: None  # a retry here ended: imported, partial, skipped, failed

    def __call__(self, message: DeliveryMessage, after_seconds: float) -> None:
        """Queue ``message`` for the deliveries handler after ``after_seconds``; retry it here first when short."""
        here = self.room is not None and after_seconds <= RETRIED_HERE_WITHIN
        delay = math.ceil(after_seconds) + (BACKSTOP_SECONDS if here else 0)
        receipt = self.queues.send(names.DELIVERIES_QUEUE, message.model_dump(exclude_none=True), delay_seconds=delay)
        if here:
            self._wait(message, receipt, after_seconds, waited=0.0)

    def _wait(self, message: DeliveryMessage, receipt, after_seconds: float, *, waited: float) -> None:
        if not self.room.later(after_seconds, lambda: self._again(message, receipt, waited + after_seconds),
                               key=message.mailbox.lower()):
            self._to_the_queue(message, receipt, after_seconds)

    def _again(self, message: DeliveryMessage, receipt, waited: float) -> None:
        try:
            result = self.attempt(message)
        except Exception as exc:  # noqa: BLE001 - the queue's handler takes over, as for any failed attempt
            log.warning("retry of a copy of %s failed (%s); it is tried again", for_log(message.item_id),
                        type(exc).__name__)
            result = Requeue(RETRY_AFTER_FAILED_ATTEMPT, f"the attempt failed: {type(exc).__name__}")
        if isinstance(result, Requeue):
            if waited + result.after_seconds <= RETRIED_HERE_WITHIN:
                self._wait(message, receipt, result.after_seconds, waited=waited)
            else:
                self._to_the_queue(message, receipt, result.after_seconds)
            return
        self.outcome(result.outcome)
        try:
            self.queues.delete(receipt)
        except Exception:  # noqa: BLE001 - it shows at the backstop; its handler then finds the copy landed
            log.warning("could not delete the queued copy of %s after it landed; its handler will find it landed",
                        for_log(message.item_id))

    def _to_the_queue(self, message: DeliveryMessage, receipt, after_seconds: float) -> None:
        """Show the queued message after ``after_seconds`` instead of at the backstop: its handler takes over."""
        try:
            self.queues.release(receipt, delay_seconds=math.ceil(after_seconds))
        except Exception:  # noqa: BLE001 - it shows at the backstop instead
            log.warning("could not bring the queued copy of %s forward; it shows within %d s",
                        for_log(message.item_id), BACKSTOP_SECONDS)
