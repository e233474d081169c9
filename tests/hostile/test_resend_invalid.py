"""A re-send whose changed bytes break the contract is not dropped: it is its own item, rejected with the reason."""

from __future__ import annotations

import json
from datetime import datetime, time, timezone

from devtools.local_world import start_world
from shared import names
from shared.bootstrap import Archiver
from tests.e2e.conftest import FAST
from tests.hostile.test_pull_page_transaction import OnePageFeed, queued_ids


def test_an_invalid_changed_resend_is_queued_and_rejected_with_its_reason(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        first = next(i for i in world.day.items if not i.get("attachments") and not i.get("call") and i["type"] == "message")
        feed = OnePageFeed([first])
        app = Archiver(world.settings(), feed=feed)
        app.ensure_storage()
        day = world.day.day  # both pulls' windows on the first copy's capture day: the re-send lands beside it
        app.pull(now=lambda: datetime.combine(day, time(12, 0), tzinfo=timezone.utc))
        assert queued_ids(app) == [first["id"]]

        feed.items = [{**first, "sent_at": "not a time"}]
        result = app.pull(now=lambda: datetime.combine(day, time(18, 0), tzinfo=timezone.utc))

        assert result.resent_changed == 1 and result.items == 2
        messages = []
        while batch := app.queues.receive(names.ITEMS_QUEUE, max_messages=32, visibility_timeout=60):
            messages += [m.body for m in batch]
        resend = [m for m in messages if json.loads(m).get("resent_of") == first["id"]]
        assert len(resend) == 1, "the changed re-send is queued as its own item"
        assert app.on_item(resend[0], 1) == "rejected"
        rows = {r["item_id"]: r for r in app.tracking.rows(result.report_date) if r["RowKey"].startswith("item|")}
        resent_id = json.loads(resend[0])["item_id"]
        assert rows[resent_id]["stage"] == "rejected" and rows[resent_id]["reason"]
        assert rows[resent_id]["resent_of"] == first["id"]
        app.close()
