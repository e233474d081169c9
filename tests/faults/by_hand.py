"""Delivering copies by hand in the fault tests: the copies a day leaves on the deliveries queue, one
delivery attempt as the queue's handler would make it, and what Graph was sent meanwhile."""

from __future__ import annotations

from shared import names
from shared.pipeline import deliver
from shared.pipeline.messages import DeliveryMessage
from shared.pipeline.runner import drain

# the claim period at its production default: a copy that waited for its claim to lapse would not land within
# the tests' idle limits
PRODUCTION_CLAIM = {"DELIVERY_CLAIM_SECONDS": "600", "DIRECTORY_CACHE_TTL_MINUTES": "60", "GRAPH_TIMEOUT_SECONDS": "2"}


def queued_copies(app, *, visibility_timeout: int = 120, limit: int | None = None) -> list[DeliveryMessage]:
    """Pull and convert the world's day with every copy left on the deliveries queue, and take them off it."""
    app.deliver_at_convert = False  # every copy waits in the deliveries queue: the test delivers them by hand
    app.pull()
    drain(app.queues, names.ITEMS_QUEUE, app.on_item, max_dequeue_count=app.max_dequeue_count, retry_delay_seconds=0.2)
    out: list[DeliveryMessage] = []
    while limit is None or len(out) < limit:
        want = 32 if limit is None else min(32, limit - len(out))
        batch = app.queues.receive(names.DELIVERIES_QUEUE, max_messages=want, visibility_timeout=visibility_timeout)
        if not batch:
            break
        out += [DeliveryMessage.model_validate_json(m.body) for m in batch]
    return out


def deliver_by_hand(app, message: DeliveryMessage, *, wait_out: float = 0.0, slots=None):
    """One attempt at ``message``, through the app's own adapters (``wait_out``: as the deliveries queue's handler;
    ``slots``: in place of the app's mailbox slots)."""
    return deliver.deliver_copy(message, blobs=app.blobs, ledger=app.ledger, tracking=app.tracking,
                                mailbox=app.mailbox, slots=app.slots if slots is None else slots,
                                folder_name=app.settings.archive_folder_name,
                                budget=app.budget, graph_permit=app.graph_in_flight.hold, wait_out=wait_out)


def create_times(requests) -> list[float]:
    """When each create (a POST of a message) reached the Graph server."""
    return [r["at"] for r in requests if r["method"] == "POST" and r["path"].endswith("/messages")]


def creates(requests) -> int:
    return len(create_times(requests))


def lookups(requests) -> int:
    """Look-ups of a copy by its archive id."""
    return sum(1 for r in requests if r["method"] == "GET" and "ArchiveItemId" in r["path"])
