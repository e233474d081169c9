"""Table storage: the pull checkpoint, the delivery ledger, report tracking, directory cache."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Iterator, Literal
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared import names
from shared.adapters.storage.table_batch import submit_transaction
from shared.domain.bounded import bounded
from shared.pipeline.ports import UserStatus

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _bounded_fields(fields: dict) -> dict:
    """Drop None and bound every string: a value from the feed never makes Table storage refuse a row (64 KB)."""
    return {k: bounded(v) if isinstance(v, str) else v for k, v in fields.items() if v is not None}


def table_key(value: str) -> str:
    """A PartitionKey/RowKey-safe form of an address or key ('/', '\\', '#', '?' and controls are not allowed)."""
    return quote(value, safe="@.+-_:~|")


class Tables:
    def __init__(self, service: TableServiceClient):
        self.service = service

    def ensure_tables(self) -> None:
        for table in names.TABLES:
            try:
                self.service.create_table(table)
            except ResourceExistsError:
                pass

    def client(self, table: str):
        return self.service.get_table_client(table)


# --------------------------------------------------------------------------- checkpoint
class CheckpointStore:
    PK = "feed"

    def __init__(self, tables: Tables):
        self.table = tables.client(names.CHECKPOINTS_TABLE)

    def watermark(self) -> datetime | None:
        try:
            row = self.table.get_entity(self.PK, "watermark")
        except ResourceNotFoundError:
            return None
        return datetime.fromisoformat(row["watermark"])

    def set_watermark(self, value: datetime) -> None:
        self.table.upsert_entity(
            {"PartitionKey": self.PK, "RowKey": "watermark", "watermark": value.astimezone(timezone.utc).isoformat()},
            mode=UpdateMode.REPLACE,
        )

    def record_run(self, run_id: str, **fields) -> None:
        entity = {"PartitionKey": "run", "RowKey": run_id, **_bounded_fields(fields)}
        self.table.upsert_entity(entity, mode=UpdateMode.MERGE)

    def runs(self) -> list[dict]:
        return list(self.table.query_entities("PartitionKey eq 'run'"))


class TranscriptDays:
    """Transcript mode: one row per capture day with staged items (in the checkpoints table).

    ``staged_at`` moves each time an item of the day is staged; ``built_for`` is the ``staged_at``
    a build of the day saw. A day whose two differ has items no transcript holds yet.
    """

    PK = "transcript-day"

    def __init__(self, tables: Tables):
        self.table = tables.client(names.CHECKPOINTS_TABLE)

    def staged(self, day: str, *, now: datetime | None = None) -> None:
        self.table.upsert_entity({"PartitionKey": self.PK, "RowKey": day, "staged_at": (now or utcnow()).isoformat()},
                                 mode=UpdateMode.MERGE)

    def unbuilt(self) -> list[tuple[str, str]]:
        """(day, staged_at) of every day with items staged since its last build, oldest first."""
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": self.PK})
        return sorted((r["RowKey"], r.get("staged_at", "")) for r in rows if r.get("staged_at") != r.get("built_for"))

    def built(self, day: str, staged_at: str) -> None:
        self.table.upsert_entity({"PartitionKey": self.PK, "RowKey": day, "built_for": staged_at,
                                  "built_at": utcnow().isoformat()}, mode=UpdateMode.MERGE)


# --------------------------------------------------------------------------- ledger
LedgerStatus = Literal["claimed", "creating", "delivered", "failed"]


@dataclass(frozen=True)
class Claim:
    outcome: Literal["claimed", "delivered", "busy"]
    uncertain: bool = False  # an earlier attempt may have created the copy: ask Graph first
    retry_after: float = 0.0
    row: dict | None = None
    etag: str | None = None  # the row as this claim last wrote it: handing it back or taking it again is conditional
    until: str = ""  # when the claim lapses (ISO 8601, UTC), as written on the row

    def settling_for(self, now: datetime | None = None) -> float:
        """Seconds until an earlier, unanswered create has surely settled at Graph (0.0: it has, or there was none):
        until then a copy not found by the look-up must not be created again."""
        until = (self.row or {}).get("settle_until")
        if not until:
            return 0.0
        return max((datetime.fromisoformat(until) - (now or utcnow())).total_seconds(), 0.0)


# a claim with less than this share of its period left is taken again right before the create (``Ledger.confirm``)
FRESH_SHARE = 0.9


class Ledger:
    """One row per (mailbox, item): who is delivering it, and whether it is delivered.

    A claim with an expiry serialises concurrent deliveries of the same copy; the 'creating'
    state marks that a Graph create may have happened, so the next attempt asks Graph first.
    The delivery path claims with ``begin`` (the row is inserted as 'creating': one request), makes sure
    with ``confirm`` right before the create that the claim still has nearly its whole period ahead, and
    ends with ``mark_delivered``; an attempt that ends without an outcome hands the claim back with
    ``release``. Both ``confirm`` and ``release`` are conditional on the ETag the claim wrote: a claim that
    lapsed and was taken over by another worker is theirs, and is neither taken back nor overwritten.
    'claimed' is the state that proves no create (a hand-back before anything was sent, or after a 429).
    Row fields: status (claimed | creating | delivered | failed), owner, claim_until, attempts,
    and once delivered message_id, outcome, report_date, found_existing, delivered_at.
    """

    def __init__(self, tables: Tables, claim_seconds: int = 300):
        self.table = tables.client(names.LEDGER_TABLE)
        self.claim_seconds = claim_seconds

    def get(self, mailbox: str, item_key: str) -> dict | None:
        try:
            return dict(self.table.get_entity(table_key(mailbox), item_key))
        except ResourceNotFoundError:
            return None

    def begin(self, mailbox: str, item_key: str, owner: str, *, now: datetime | None = None) -> Claim:
        """Claim the copy for a create about to be sent: one insert of the row as 'creating' when it is new.

        One request on the delivery path (claiming, then marking 'creating', took two to three). Only when the
        row exists is it read: delivered -> skip; held by another live owner -> busy; otherwise taken over
        with an ETag-conditional write, uncertain when an earlier attempt may have created the copy.
        """
        now = now or utcnow()
        until = (now + timedelta(seconds=self.claim_seconds)).isoformat()
        pk = table_key(mailbox)
        for _ in range(3):
            try:
                written = self.table.create_entity({"PartitionKey": pk, "RowKey": item_key, "status": "creating",
                                                    "owner": owner, "claim_until": until, "attempts": 1})
                return Claim("claimed", etag=written["etag"], until=until)
            except ResourceExistsError:
                pass
            try:
                row = self.table.get_entity(pk, item_key)
            except ResourceNotFoundError:
                continue
            status = row.get("status")
            if status == "delivered":
                return Claim("delivered", row=dict(row))
            held_until = datetime.fromisoformat(row["claim_until"]) if row.get("claim_until") else None
            if status in ("claimed", "creating") and held_until and held_until > now and row.get("owner") != owner:
                return Claim("busy", retry_after=(held_until - now).total_seconds(), row=dict(row))
            updated = dict(row)
            updated.update(status="creating", owner=owner, claim_until=until, attempts=int(row.get("attempts", 0)) + 1)
            try:
                written = self.table.update_entity(updated, mode=UpdateMode.REPLACE, etag=row.metadata["etag"],
                                                   match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            # 'claimed' (written before any create: a hand-back that proved none) is the only state that proves no create
            return Claim("claimed", uncertain=status != "claimed", row=updated, etag=written["etag"], until=until)
        return Claim("busy", retry_after=5.0)

    def _merge(self, mailbox: str, item_key: str, **fields) -> None:
        self.table.upsert_entity({"PartitionKey": table_key(mailbox), "RowKey": item_key, **fields}, mode=UpdateMode.MERGE)

    def mark_delivered(self, mailbox: str, item_key: str, *, message_id: str, outcome: str, report_date: str,
                       found_existing: bool = False) -> None:
        self._merge(mailbox, item_key, status="delivered", message_id=message_id, outcome=outcome,
                    report_date=report_date, found_existing=found_existing, delivered_at=utcnow().isoformat(),
                    claim_until="")

    def mark_failed(self, mailbox: str, item_key: str, reason: str) -> None:
        self._merge(mailbox, item_key, status="failed", reason=reason[:1000], claim_until="")

    def confirm(self, mailbox: str, item_key: str, owner: str, claim: Claim, *, now: datetime | None = None) -> Claim | None:
        """Right before the create: the claim, taken again when less than ``FRESH_SHARE`` of its period is left.

        A claim is taken before its delivery waits for a mailbox slot, the request budget and a Graph permit; a
        long wait (a storage outage, a busy mailbox) must not eat into the period that keeps a second worker from
        creating the same copy. So the create always starts with nearly the whole period ahead of it, as when the
        claim was taken right before it. The usual case costs no request. The re-take is conditional on the ETag
        this claim wrote: None when the claim lapsed meanwhile and another worker took the copy over (theirs now:
        this attempt must not create it)."""
        now = now or utcnow()
        if claim.until and (datetime.fromisoformat(claim.until) - now).total_seconds() >= self.claim_seconds * FRESH_SHARE:
            return claim
        until = (now + timedelta(seconds=self.claim_seconds)).isoformat()
        try:
            written = self.table.update_entity({"PartitionKey": table_key(mailbox), "RowKey": item_key, "owner": owner,
                                                "claim_until": until}, mode=UpdateMode.MERGE, etag=claim.etag,
                                               match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return replace(claim, etag=written["etag"], until=until)

    def release(self, mailbox: str, item_key: str, *, etag: str, settle_seconds: float = 0,
                nothing_created: bool = False) -> None:
        """Give the claim up without an outcome (throttled, failed, no slot): keep 'creating' so the next attempt
        checks Graph. ``etag``: the claim's (``Claim.etag``); the row is written only if it is still as the claim
        left it, so a claim that lapsed and was taken over by another worker is left to them. ``settle_seconds``:
        a create got no answer and may still land at Graph meanwhile; until then the next attempt may ask Graph
        (a copy found is delivered) but must not create again (``settling_for``). ``nothing_created``: no create
        was ever sent for this copy, or Graph refused the only one (a 429 on it), so the row goes back to
        'claimed', the state that proves no create, and the next attempt creates without asking."""
        fields: dict = {"PartitionKey": table_key(mailbox), "RowKey": item_key, "claim_until": ""}
        if settle_seconds > 0:
            fields["settle_until"] = (utcnow() + timedelta(seconds=settle_seconds)).isoformat()
        if nothing_created:
            fields["status"] = "claimed"
        try:
            self.table.update_entity(fields, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            log.info("a claim handed back had lapsed and another worker holds the copy now: left to that worker")

    def rows(self) -> Iterator[dict]:
        for row in self.table.list_entities():
            yield dict(row)


# --------------------------------------------------------------------------- tracking (report)
CopyOutcome = Literal["pending", "imported", "partial", "skipped", "failed"]
_LANDED = ("imported", "partial")


class Tracking:
    """Per report day: one row per item pulled, one per mailbox copy, with its outcome and reason."""

    def __init__(self, tables: Tables):
        self.table = tables.client(names.TRACKING_TABLE)

    def item(self, report_date: str, item_key: str, **fields) -> None:
        self.table.upsert_entity(
            {"PartitionKey": report_date, "RowKey": f"item|{item_key}", **_bounded_fields(fields)},
            mode=UpdateMode.MERGE,
        )

    def items_pulled(self, report_date: str, rows: list[tuple[str, dict]]) -> None:
        """Item rows merged in entity-group transactions of up to 100 (one request per 100 items of a day)."""
        latest = {key: fields for key, fields in rows}  # one operation per row in a transaction
        ops = [("upsert", {"PartitionKey": report_date, "RowKey": f"item|{key}", **_bounded_fields(fields)},
                {"mode": UpdateMode.MERGE})
               for key, fields in latest.items()]
        for start in range(0, len(ops), 100):
            submit_transaction(self.table, ops[start:start + 100])

    def get_item(self, report_date: str, item_key: str) -> dict | None:
        try:
            return dict(self.table.get_entity(report_date, f"item|{item_key}"))
        except ResourceNotFoundError:
            return None

    def copy_pending(self, report_date: str, item_key: str, mailbox: str, **fields) -> None:
        try:
            self.table.create_entity({"PartitionKey": report_date, "RowKey": f"copy|{item_key}|{table_key(mailbox)}",
                                      "mailbox": mailbox, "outcome": "pending", **_bounded_fields(fields)})
        except ResourceExistsError:
            pass

    def copy_outcome(self, report_date: str, item_key: str, mailbox: str, outcome: CopyOutcome, reason: str = "",
                     **fields) -> None:
        rk = f"copy|{item_key}|{table_key(mailbox)}"
        current = None
        if outcome not in _LANDED:  # a landed outcome is written blind: nothing may hide it, it hides nothing landed
            try:
                current = self.table.get_entity(report_date, rk).get("outcome")
            except ResourceNotFoundError:
                current = None
        if current in _LANDED and outcome not in _LANDED:
            return  # a copy that landed stays landed; a late duplicate does not hide it
        self.table.upsert_entity({"PartitionKey": report_date, "RowKey": rk, "mailbox": mailbox, "outcome": outcome,
                                  "reason": reason[:1000], **_bounded_fields(fields)}, mode=UpdateMode.MERGE)

    def item_with_copies(self, report_date: str, item_key: str, item_fields: dict,
                         copies: list[tuple[str, dict]]) -> None:
        """The item row (merged) and a row per copy in one entity-group transaction (one request: they share
        the report day's partition). A copy's fields may carry its ``outcome`` (and ``reason``); without
        one it is 'pending'. A landed outcome is written over whatever is there; any other row is only
        created. When one of those exists already (a re-conversion), each row is written on its own,
        with ``copy_outcome``'s rule (a landed copy stays landed) and ``copy_pending``'s (an existing
        row is kept)."""
        ops = [("upsert", {"PartitionKey": report_date, "RowKey": f"item|{item_key}", **_bounded_fields(item_fields)},
                {"mode": UpdateMode.MERGE})]
        for mailbox, fields in copies:
            entity = {"PartitionKey": report_date, "RowKey": f"copy|{item_key}|{table_key(mailbox)}",
                      "mailbox": mailbox, "outcome": "pending", **_bounded_fields(fields)}
            if entity["outcome"] in _LANDED:
                ops.append(("upsert", entity, {"mode": UpdateMode.MERGE}))
            else:
                ops.append(("create", entity))
        if len(ops) <= 100:
            try:
                submit_transaction(self.table, ops)
                return
            except TableTransactionError as exc:
                if exc.status_code != 409:
                    raise
        for mailbox, fields in copies:
            fields = dict(fields)
            outcome = fields.pop("outcome", "pending")
            if outcome == "pending" and "reason" not in fields:
                self.copy_pending(report_date, item_key, mailbox, **fields)
            else:
                self.copy_outcome(report_date, item_key, mailbox, outcome, fields.pop("reason", ""), **fields)
        self.item(report_date, item_key, **item_fields)

    def rows(self, report_date: str) -> list[dict]:
        return [dict(r) for r in self.table.query_entities("PartitionKey eq @d", parameters={"d": report_date})]

    def any_item_in_stage(self, report_date: str, stage: str) -> bool:
        rows = self.table.query_entities("PartitionKey eq @d and stage eq @s", parameters={"d": report_date, "s": stage},
                                         results_per_page=1, select=["RowKey"])
        return any(r["RowKey"].startswith("item|") for r in rows)


# --------------------------------------------------------------------------- directory cache
class DirectoryCache:
    PK = "user"

    def __init__(self, tables: Tables, ttl: timedelta):
        self.table = tables.client(names.DIRECTORY_TABLE)
        self.ttl = ttl

    def get(self, address: str, *, now: datetime | None = None) -> UserStatus | None:
        try:
            row = self.table.get_entity(self.PK, table_key(address))
        except ResourceNotFoundError:
            return None
        if (now or utcnow()) - datetime.fromisoformat(row["checked_at"]) > self.ttl:
            return None
        return UserStatus(address=address, exists=row["exists"], enabled=row["enabled"], has_mailbox=row["has_mailbox"],
                          user_id=row.get("user_id") or None, primary_address=row.get("primary_address") or None,
                          reason=row.get("reason", ""))

    def put(self, status: UserStatus) -> None:
        self.table.upsert_entity(
            {"PartitionKey": self.PK, "RowKey": table_key(status.address), "exists": status.exists,
             "enabled": status.enabled, "has_mailbox": status.has_mailbox, "user_id": status.user_id or "",
             "primary_address": status.primary_address or "", "reason": status.reason,
             "checked_at": utcnow().isoformat()},
            mode=UpdateMode.REPLACE,
        )
