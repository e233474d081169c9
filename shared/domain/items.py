"""The capture feed's item, exactly as ../shared/feed-contract.md (version 1) defines it.

Pure pydantic models, no I/O. Unknown fields are ignored (the provider may add some); a
missing required field or a wrong type raises ``ItemRejected`` naming the field, so the
pipeline can keep the raw item under ``rejected/`` with a reason a person can act on.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

ItemType = Literal["message", "edit", "deletion", "reaction", "call", "event"]
AttachmentKind = Literal["image", "video", "audio", "voice", "document", "sticker", "other"]
EventKind = Literal[
    "participant_added",
    "participant_removed",
    "participant_left",
    "group_created",
    "subject_changed",
    "number_changed",
    "security_code_changed",
]


def _lower_hex(value: str) -> str:
    return value.lower()


Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(_lower_hex)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


class Participant(_Model):
    phone: str | None = None
    name: str | None = None
    email: str | None = None
    user_id: str | None = None

    @model_validator(mode="after")
    def _phone_or_user_id(self) -> "Participant":
        if not (self.phone and self.phone.strip()) and not (self.user_id and self.user_id.strip()):
            raise ValueError("a participant needs at least one of 'phone' and 'user_id'")
        return self


class Conversation(_Model):
    id: str = Field(min_length=1)
    kind: Literal["direct", "group"]
    title: str | None = None


class Attachment(_Model):
    id: str = Field(min_length=1)
    file_name: str
    content_type: str
    size: int = Field(ge=0)
    sha256: Sha256Hex
    kind: AttachmentKind
    caption: str | None = None


class Location(_Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class ContactCard(_Model):
    name: str
    phones: list[str] = Field(default_factory=list)


class Call(_Model):
    media: Literal["voice", "video"]
    status: Literal["answered", "missed", "declined"]
    started_at: AwareDatetime
    duration_seconds: int = Field(ge=0)
    participants: list[Participant] | None = None
    recording: Attachment | None = None


class Event(_Model):
    kind: EventKind
    detail: str | None = None


class Item(_Model):
    id: str = Field(min_length=1, max_length=200)
    type: ItemType
    captured_at: AwareDatetime
    sent_at: AwareDatetime
    conversation: Conversation
    sender: Participant
    recipients: list[Participant]
    direction: Literal["inbound", "outbound"] | None = None
    text: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    reply_to: str | None = None
    forwarded: bool | None = None
    location: Location | None = None
    contacts: list[ContactCard] | None = None
    target_id: str | None = None
    original_text: str | None = None
    emoji: str | None = None
    call: Call | None = None
    event: Event | None = None

    @model_validator(mode="after")
    def _type_specific_fields(self) -> "Item":
        if self.type in ("edit", "deletion", "reaction") and not self.target_id:
            raise ValueError(f"a '{self.type}' item needs 'target_id' (the id of the message it changes)")
        if self.type == "reaction" and self.emoji is None:
            raise ValueError("a 'reaction' item needs 'emoji' (an empty string means the reaction was removed)")
        if self.type == "call" and self.call is None:
            raise ValueError("a 'call' item needs 'call' (the call record)")
        if self.type == "event" and self.event is None:
            raise ValueError("an 'event' item needs 'event' ({kind, detail?})")
        return self

    @property
    def participants(self) -> list[Participant]:
        """Sender first, then recipients, then call participants: everyone the item names."""
        people = [self.sender, *self.recipients]
        if self.call and self.call.participants:
            people.extend(self.call.participants)
        return people

    @property
    def all_attachments(self) -> list[Attachment]:
        """Every file the item carries, the call recording included."""
        files = list(self.attachments)
        if self.call and self.call.recording:
            files.append(self.call.recording)
        return files


class ItemRejected(ValueError):
    """The raw item does not meet the contract. ``reason`` says which field and why."""

    def __init__(self, item_id: str | None, reason: str):
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"item {item_id or '<no id>'} rejected: {reason}")


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "item"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_item(raw: bytes | str | dict) -> Item:
    """Validate one raw item; raise ``ItemRejected`` with every problem named, never anything else."""
    data = raw
    if isinstance(raw, (bytes, str)):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ItemRejected(None, f"not valid JSON ({exc})") from None
        except RecursionError:  # a hostile item nested deeper than the parser allows: rejected, never retried
            raise ItemRejected(None, "nested deeper than the JSON parser allows") from None
    if not isinstance(data, dict):
        raise ItemRejected(None, f"expected a JSON object, got {type(data).__name__}")
    item_id = data.get("id") if isinstance(data.get("id"), str) else None
    try:
        return Item.model_validate(data)
    except ValidationError as exc:
        raise ItemRejected(item_id, _describe(exc)) from None


def capture_day(moment: datetime) -> str:
    """The UTC calendar day of a timestamp, as used in blob paths (YYYY-MM-DD)."""
    from datetime import timezone

    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")
