"""The pull writes a page's item rows in one entity-group transaction. Storage refusing that transaction
for one item's value must reject only that item: the page's other items are tracked and queued, and
the window (and its checkpoint) goes on."""

from __future__ import annotations

import json

from azure.core.exceptions import HttpResponseError

from devtools.local_world import start_world
from shared import names
from shared.bootstrap import Archiver
from shared.pipeline.messages import item_key
from shared.pipeline.ports import FeedPage
from tests.e2e.conftest import FAST


class OnePageFeed:
    """The items in one page of the first window; later windows are empty."""

    def __init__(self, items):
        self.items = items

    def pages(self, since, until):
        items, self.items = self.items, []
        yield FeedPage(items=items, next_cursor=None)

    def download_attachment(self, attachment_id, sink, max_bytes=None):
        raise AssertionError("the page has no attachments")


def refused(status: int = 400) -> HttpResponseError:
    exc = HttpResponseError(message="PropertyValueTooLarge")
    exc.status_code = status
    return exc


class RefusingTracking:
    """The real tracking table, except that storage refuses any write carrying a poisoned 'pulled' row."""

    def __init__(self, real, poisoned):
        self.real, self.poisoned = real, poisoned  # poisoned(key, fields) -> bool
        self.transactions_refused = 0

    def items_pulled(self, report_date, rows):
        if any(self.poisoned(key, fields) for key, fields in rows):
            self.transactions_refused += 1
            raise refused()
        self.real.items_pulled(report_date, rows)

    def item(self, report_date, key, **fields):
        if fields.get("stage") == "pulled" and self.poisoned(key, fields):
            raise refused()
        self.real.item(report_date, key, **fields)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_transaction_refused_for_one_item_rejects_only_that_item_and_the_others_land(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        plain = [i for i in world.day.items if not i.get("attachments") and not i.get("call")][:8]
        assert len(plain) == 8
        poisoned = plain[3]["id"]
        app = Archiver(world.settings(), feed=OnePageFeed(plain))
        app.ensure_storage()
        tracking = RefusingTracking(app.tracking, lambda key, _fields: key == item_key(poisoned))
        app.__dict__["tracking"] = tracking  # the cached property, replaced for this run

        result = app.pull()

        assert tracking.transactions_refused == 1
        assert result.items == 7 and result.rejected == 1
        assert app.checkpoints.watermark() is not None, "one item's refusal must not stop the window"
        rows = {r["item_id"]: r for r in app.tracking.real.rows(result.report_date) if r["RowKey"].startswith("item|")}
        assert rows[poisoned]["stage"] == "rejected" and "PropertyValueTooLarge" in rows[poisoned]["reason"]
        assert {i["id"] for i in plain} - {poisoned} == {k for k, r in rows.items() if r["stage"] == "pulled"}
        assert sorted(queued_ids(app)) == sorted(i["id"] for i in plain if i["id"] != poisoned), "each other item queued once"
        rejected = [n for n in app.blobs.list(names.REJECTED) if n.endswith(f"/{item_key(poisoned)}.json")]
        assert len(rejected) == 1
        assert json.loads(app.blobs.get(names.REJECTED, rejected[0]))["raw"]["id"] == poisoned
        app.close()


def queued_ids(app) -> list[str]:
    out = []
    while batch := app.queues.receive(names.ITEMS_QUEUE, max_messages=32, visibility_timeout=60):
        out += [json.loads(m.body)["item_id"] for m in batch]
    return out


def test_a_refused_resend_row_rejects_the_resend_and_leaves_the_first_copy_pulled_and_queued(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        plain = [i for i in world.day.items if not i.get("attachments") and not i.get("call")][:3]
        first = plain[0]
        feed = OnePageFeed(plain)
        app = Archiver(world.settings(), feed=feed)
        app.ensure_storage()
        app.pull()
        assert sorted(queued_ids(app)) == sorted(i["id"] for i in plain)

        # the source re-sends the first item changed, beside a new one; storage refuses the re-send's row
        changed = {**first, "text": "the source changed this text"}
        extra = {**plain[1], "id": plain[1]["id"] + "-new"}
        feed.items = [changed, extra]
        tracking = RefusingTracking(app.tracking, lambda _key, fields: bool(fields.get("resent_of")))
        app.__dict__["tracking"] = tracking
        result = app.pull()

        assert tracking.transactions_refused == 1
        assert result.rejected == 1 and result.resent_changed == 0 and result.items == 2
        rows = {r["item_id"]: r for r in tracking.real.rows(result.report_date) if r["RowKey"].startswith("item|")}
        assert rows[first["id"]]["stage"] == "pulled" and not rows[first["id"]].get("reason"), \
            "the first copy's row is not the re-send's to reject"
        resent = [r for r in rows.values() if r["item_id"].startswith(first["id"] + ".resent-")]
        assert len(resent) == 1 and resent[0]["stage"] == "rejected" and "PropertyValueTooLarge" in resent[0]["reason"]
        # the first copy (unchanged: downstream is idempotent) and the new item are queued; the refused re-send is not
        assert sorted(queued_ids(app)) == sorted([first["id"], extra["id"]])
        app.close()
