"""What normalising one webhook POST produces: plain frozen records the plumbing stores or acts on.

Items are contract items (dicts validated by ``shared.domain.items.Item``, JSON-ready). Every
other record has ``to_dict()`` giving JSON-ready primitives (timestamps as RFC 3339 UTC strings),
and ``from_dict()`` where the plumbing must read it back (open calls kept in a table).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def rfc3339(moment: datetime | None) -> str | None:
    """UTC, second precision when possible: '2026-11-22T09:15:02Z'."""
    if moment is None:
        return None
    text = moment.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class MediaRef(_Record):
    """One file to download from Meta for one item's attachment.

    ``attachment_id`` is the attachment's id inside the item (the media id). ``sha256`` is the
    declared hash as lowercase hex (None when the webhook declared none: take it from the media
    GET's ``sha256`` and from the bytes). ``url`` is set when the webhook carried a pre-signed url.
    """

    item_id: str
    attachment_id: str
    media_id: str
    kind: str
    mime_type: str | None
    sha256: str | None
    url: str | None = None
    filename: str | None = None
    declared_in_item: bool = True  # False: the item lists no attachment yet (no declared hash): add it after download


@dataclass(frozen=True)
class StatusEvent(_Record):
    """Delivery/read evidence for a message the business sent (or a call state). Not an item."""

    message_id: str
    status: str
    timestamp: datetime | None
    recipient_id: str | None
    recipient_user_id: str | None
    phone_number_id: str | None
    business_phone: str | None
    type: str | None = None  # "call" for Calling API states, else None
    errors: tuple[dict[str, Any], ...] = ()
    path: str = ""

    @property
    def dedupe_key(self) -> str:
        return f"{self.message_id}|{self.status}"


@dataclass(frozen=True)
class CallEvent(_Record):
    """One Calling API webhook event (connect or terminate). ``pair_calls`` turns them into call items."""

    call_id: str
    event: str  # "connect" | "terminate"
    timestamp: datetime
    received_at: datetime
    conversation_id: str
    business: dict[str, Any]  # contract Participant (the employee's number)
    customer: dict[str, Any]  # contract Participant
    direction: str | None  # "USER_INITIATED" | "BUSINESS_INITIATED" | None
    status: str | None = None  # terminate: "COMPLETED" | "FAILED" | ...
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    media: str = "voice"
    path: str = ""

    @property
    def dedupe_key(self) -> str:
        return f"{self.call_id}|{self.event}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CallEvent":
        values = dict(data)
        for name in ("timestamp", "received_at", "start_time", "end_time"):
            values[name] = parse_rfc3339(values.get(name))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class ContactName(_Record):
    """A name from the business phone's address book (``smb_app_state_sync``)."""

    phone: str
    name: str | None
    first_name: str | None
    action: str  # "add" | "remove"
    timestamp: datetime | None
    phone_number_id: str | None
    business_phone: str | None
    path: str = ""


@dataclass(frozen=True)
class CaptureGap(_Record):
    """Capture of a business number stopped (or resumed, or history was not shared): tell an admin at once."""

    kind: str  # "stopped" | "resumed" | "history_declined"
    event: str  # Meta's event, e.g. PARTNER_REMOVED, ACCOUNT_OFFBOARDED, ACCOUNT_RECONNECTED
    since: datetime | None
    business_phone: str | None
    phone_number_id: str | None
    waba_id: str | None
    reason: str | None = None
    initiated_by: str | None = None
    path: str = ""


@dataclass(frozen=True)
class Unknown(_Record):
    """Something not turned into a record: why, where in the body, what kind. Never content."""

    field: str | None
    type: str | None
    path: str
    reason: str
    id: str | None = None


@dataclass(frozen=True)
class Normalised(_Record):
    """Everything one webhook POST said, sorted by what the plumbing must do with it."""

    items: tuple[dict[str, Any], ...] = ()
    media: tuple[MediaRef, ...] = ()
    statuses: tuple[StatusEvent, ...] = ()
    call_events: tuple[CallEvent, ...] = ()
    contact_names: tuple[ContactName, ...] = ()
    capture_gaps: tuple[CaptureGap, ...] = ()
    unknown: tuple[Unknown, ...] = ()
    fields: tuple[str, ...] = field(default=())  # the change fields seen, in order, for the report

    @property
    def counts(self) -> dict[str, int]:
        return {
            "items": len(self.items),
            "media": len(self.media),
            "statuses": len(self.statuses),
            "call_events": len(self.call_events),
            "contact_names": len(self.contact_names),
            "capture_gaps": len(self.capture_gaps),
            "unknown": len(self.unknown),
        }

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["items"] = [dict(i) for i in self.items]
        data["counts"] = self.counts
        return data
