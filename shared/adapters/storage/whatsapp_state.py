"""The ``whatsappstate`` table: what the WhatsApp webhook normaliser must remember between bodies.

- ``item``    / item key  -> where a wamid's raw item is (``raw_blob``) and whether it was queued: an edit or a
  revoke finds its original's content here; a message Meta re-sends (retries, history) is queued once.
- ``contact`` / key       -> the display name the business phone's address book (or a profile) gives a number or user id.
- ``call``    / call key  -> an open call (a ``connect`` without its ``terminate`` yet), as JSON.
- ``gap``     / number    -> capture stopped for a business number (account_update), with reason and since when.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared import names
from shared.adapters.storage.tables import Tables, table_key


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class WhatsAppState:
    def __init__(self, tables: Tables):
        self.table = tables.client(names.WHATSAPP_STATE_TABLE)
        self.tracking = tables.client(names.TRACKING_TABLE)

    def report_row(self, report_date: str, row_key: str, **fields) -> None:
        """A ``wa|...`` row of the day's tracking partition (statuses, gaps, unknown changes) for the report."""
        self.tracking.upsert_entity({"PartitionKey": report_date, "RowKey": row_key, **fields}, mode=UpdateMode.MERGE)

    def _get(self, pk: str, rk: str) -> dict | None:
        try:
            return dict(self.table.get_entity(pk, table_key(rk)))
        except ResourceNotFoundError:
            return None

    def _merge(self, pk: str, rk: str, **fields) -> None:
        self.table.upsert_entity({"PartitionKey": pk, "RowKey": table_key(rk), **fields}, mode=UpdateMode.MERGE)

    # ------------------------------------------------------------------ items
    def item(self, key: str) -> dict | None:
        return self._get("item", key)

    def item_stored(self, key: str, raw_blob: str) -> None:
        self._merge("item", key, raw_blob=raw_blob)

    def item_queued(self, key: str, report_date: str) -> None:
        self._merge("item", key, queued=True, report_date=report_date, queued_at=_now())

    # ------------------------------------------------------------------ contact names
    def contact_name(self, key: str) -> str | None:
        row = self._get("contact", key)
        return (row or {}).get("name") or None

    def set_contact_name(self, key: str, name: str | None) -> None:
        if name:
            self._merge("contact", key, name=name[:500], updated_at=_now())
        else:
            try:
                self.table.delete_entity("contact", table_key(key))
            except ResourceNotFoundError:
                pass

    # ------------------------------------------------------------------ open calls
    def open_calls(self) -> list[dict]:
        return [json.loads(r["call"]) for r in self.table.query_entities("PartitionKey eq 'call'")]

    def save_open_calls(self, calls: list[dict], closed: list[str]) -> None:
        for call in calls:
            self.table.upsert_entity({"PartitionKey": "call", "RowKey": table_key(str(call["call_id"])),
                                      "call": json.dumps(call, ensure_ascii=False, default=str)}, mode=UpdateMode.REPLACE)
        for call_id in closed:
            try:
                self.table.delete_entity("call", table_key(call_id))
            except ResourceNotFoundError:
                pass

    # ------------------------------------------------------------------ capture gaps
    def gap(self, number: str) -> dict | None:
        return self._get("gap", number)

    def set_gap(self, number: str, **fields) -> None:
        self._merge("gap", number, **fields)

    def gaps(self) -> list[dict]:
        try:
            return [dict(r) for r in self.table.query_entities("PartitionKey eq 'gap'")]
        except ResourceNotFoundError:  # storage not initialised yet: no gap known
            return []
