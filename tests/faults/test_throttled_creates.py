"""What a throttled create costs: a 429 (Exchange throttling this app on the mailbox) pauses every copy of
the mailbox for its Retry-After and created nothing, so the copy's retry creates without asking Graph
first; a 503 (the service unavailable for that request) makes only that copy wait, and since a 503 can
come after a create that was done, its retry asks Graph first."""

from __future__ import annotations

import pytest

from devtools.graph_server import Fault
from devtools.local_world import start_world
from shared import names
from shared.pipeline import deliver
from shared.pipeline.messages import DeliveryMessage
from shared.pipeline.runner import drain
from tests.e2e.oracle import landed

SETTINGS = {"DELIVERY_CLAIM_SECONDS": "600", "GRAPH_TIMEOUT_SECONDS": "2"}


def _two_copies_for_one_mailbox(app) -> tuple[DeliveryMessage, DeliveryMessage]:
    app.deliver_at_convert = False  # the copies wait in the deliveries queue: delivered by hand here
    app.pull()
    drain(app.queues, names.ITEMS_QUEUE, app.on_item, max_dequeue_count=5, retry_delay_seconds=0.2)
    by_mailbox: dict[str, list[DeliveryMessage]] = {}
    while batch := app.queues.receive(names.DELIVERIES_QUEUE, max_messages=32, visibility_timeout=120):
        for received in batch:
            m = DeliveryMessage.model_validate_json(received.body)
            by_mailbox.setdefault(m.mailbox.lower(), []).append(m)
    first, second = next(ms for ms in by_mailbox.values() if len(ms) >= 2)[:2]
    return first, second


def _deliver(app, message):
    return deliver.deliver_copy(message, blobs=app.blobs, ledger=app.ledger, tracking=app.tracking,
                                mailbox=app.mailbox, slots=app.slots, folder_name=app.settings.archive_folder_name,
                                budget=app.budget)


def _sent(world, since: int) -> tuple[int, int]:
    """(creates, look-ups by archive id) sent since request ``since``."""
    rs = world.graph.requests[since:]
    return (sum(1 for r in rs if r["method"] == "POST" and r["path"].endswith("/messages")),
            sum(1 for r in rs if r["method"] == "GET" and "ArchiveItemId" in r["path"]))


@pytest.mark.parametrize("status", ["429", "503"])
def test_a_throttled_create_paces_the_mailbox_only_when_exchange_throttled_it(storage_connection, status):
    with start_world(storage_connection=storage_connection, overrides=SETTINGS) as world:
        app = world.archiver()
        first, second = _two_copies_for_one_mailbox(app)
        world.graph.inject(Fault(kind=status, method="POST", path_contains="/messages", times=1, retry_after=3))
        throttled = _deliver(app, first)
        assert isinstance(throttled, deliver.Requeue) and throttled.after_seconds == 3, throttled

        sibling = _deliver(app, second)  # the same mailbox, at once
        if status == "429":
            assert isinstance(sibling, deliver.Requeue) and 2 <= sibling.after_seconds <= 3, sibling
        else:
            assert isinstance(sibling, deliver.Delivered) and sibling.outcome == "imported", sibling
        app.close()


@pytest.mark.parametrize("status, asks_first", [("429", False), ("503", True)])
def test_a_throttled_copy_is_retried_and_lands_once_asking_graph_only_when_it_may_exist(storage_connection, status,
                                                                                       asks_first):
    with start_world(storage_connection=storage_connection, overrides=SETTINGS) as world:
        app = world.archiver()
        first, _second = _two_copies_for_one_mailbox(app)
        world.graph.inject(Fault(kind=status, method="POST", path_contains="/messages", times=1, retry_after=1))
        assert isinstance(_deliver(app, first), deliver.Requeue)
        before = len(world.graph.requests)
        waited = deliver.deliver_copy(first, blobs=app.blobs, ledger=app.ledger, tracking=app.tracking,
                                      mailbox=app.mailbox, slots=app.slots, folder_name=app.settings.archive_folder_name,
                                      budget=app.budget, wait_out=deliver.WAITED_OUT_FROM_THE_QUEUE)
        assert isinstance(waited, deliver.Delivered) and waited.outcome == "imported", waited
        creates, lookups = _sent(world, before)
        assert creates == 1
        assert lookups == (1 if asks_first else 0)
        assert landed(world)[(first.item_id, first.mailbox.lower())] == 1
        app.close()
