"""The capture feed's item, exactly as ../shared/feed-contract.md (version 1) defines it.

Pure pydantic models, no I/O. Unknown fields are ignored (the provider may add some); a
missing required field or a wrong type raises ``ItemRejected`` naming the field, so the
pipeline can keep the raw item under ``rejected/`` with a reason a person can act on.

Types are checked strictly, as the contract states them: a boolean is ``true``/``false`` (never
``"yes"`` or ``1``), a number is a JSON number (never ``"12"``; an integer field takes no
fraction), a string is a JSON string, a timestamp is an RFC 3339 string with a time zone
(``2026-11-22T09:15:02Z``, ``...+01:00``; never a Unix number or ``2026-11-22 09:15``). Nothing
is coerced: an item the provider got wrong is kept and reported, not archived as something else.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

import re

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
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


Sha256Hex = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(_lower_hex)]

# RFC 3339 section 5.6 date-time: full date, 'T', full time with optional fraction, 'Z' or an offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> object:
    """A timestamp is an RFC 3339 string (or, inside Python, an aware datetime): no Unix numbers, no other notation."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 timestamp string such as 2026-11-22T09:15:02Z")
    if not _RFC3339.match(value):
        raise ValueError("not an RFC 3339 timestamp (expected e.g. 2026-11-22T09:15:02Z or 2026-11-22T10:15:02+01:00)")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


class Participant(_Model):
    phone: StrictStr | None = None
    name: StrictStr | None = None
    email: StrictStr | None = None
    user_id: StrictStr | None = None
    # Chat-export imports only: the admin named this participant's ``email`` as the exporting
    # employee with ``--owner``. Honoured only for items the import stored (see mapping_rule and
    # as_entered: a feed's own flag of that name is cleared before mapping and rendering).
    owner_verified: bool | None = None

    @field_validator("owner_verified", mode="before")
    @classmethod
    def _lenient_flag(cls, value):
        return value if isinstance(value, bool) else None  # a feed's own field of that name never rejects an item

    @model_validator(mode="after")
    def _phone_or_user_id(self) -> "Participant":
        if not (self.phone and self.phone.strip()) and not (self.user_id and self.user_id.strip()):
            raise ValueError("a participant needs at least one of 'phone' and 'user_id'")
        return self


class Conversation(_Model):
    id: StrictStr = Field(min_length=1)
    kind: Literal["direct", "group"]
    title: StrictStr | None = None


class Attachment(_Model):
    id: StrictStr = Field(min_length=1)
    file_name: StrictStr
    content_type: StrictStr
    size: StrictInt = Field(ge=0)
    sha256: Sha256Hex
    kind: AttachmentKind
    caption: StrictStr | None = None


class Location(_Model):
    latitude: StrictFloat = Field(ge=-90, le=90)
    longitude: StrictFloat = Field(ge=-180, le=180)
    name: StrictStr | None = None
    address: StrictStr | None = None


class ContactCard(_Model):
    name: StrictStr
    phones: list[StrictStr] = Field(default_factory=list)


class Call(_Model):
    media: Literal["voice", "video"]
    status: Literal["answered", "missed", "declined"]
    started_at: Timestamp
    duration_seconds: StrictInt = Field(ge=0)
    participants: list[Participant] | None = None
    recording: Attachment | None = None


class Event(_Model):
    kind: EventKind
    detail: StrictStr | None = None


class Item(_Model):
    id: StrictStr = Field(min_length=1, max_length=200)
    type: ItemType
    captured_at: Timestamp
    sent_at: Timestamp
    conversation: Conversation
    sender: Participant
    recipients: list[Participant]
    direction: Literal["inbound", "outbound"] | None = None
    text: StrictStr | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    reply_to: StrictStr | None = None
    forwarded: StrictBool | None = None
    location: Location | None = None
    contacts: list[ContactCard] | None = None
    target_id: StrictStr | None = None
    original_text: StrictStr | None = None
    emoji: StrictStr | None = None
    call: Call | None = None
    event: Event | None = None
    # Additive (not in feed contract v1): where the item came from, and how it was read
    # (chat exports: platform, date order, time zone assumed, markers). Shown in the record, but
    # only as as_entered leaves them: ``source`` is the entry point's word, never the item's, and a
    # feed item's ``provenance`` is dropped. Values: feed, whatsapp_cloud_api, chat_export. Lenient:
    # a provider's own fields of these names (other values, other shapes) never reject an item.
    source: str | None = None
    provenance: dict[str, str] | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _lenient_source(cls, value):
        return value if isinstance(value, str) else None

    @field_validator("provenance", mode="before")
    @classmethod
    def _lenient_provenance(cls, value):
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value
        return None

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


FEED, WHATSAPP_CLOUD_API, CHAT_EXPORT = "feed", "whatsapp_cloud_api", "chat_export"
ENTRY_POINTS = (FEED, WHATSAPP_CLOUD_API, CHAT_EXPORT)
OWN_ENTRY_POINTS = frozenset({WHATSAPP_CLOUD_API, CHAT_EXPORT})  # items our own code builds, provenance and all


def as_entered(item: Item, source: str, *, trust_owner: bool) -> Item:
    """The item a record shows: where it came from is the entry point's word, never the item's.

    ``source`` is the entry point that stored the item (feed, whatsapp_cloud_api, chat_export),
    as the pipeline knows it; whatever ``source`` the raw item claims is replaced. ``provenance``
    is kept only for the entry points whose items our own code builds; a feed item's is dropped
    (the raw item in storage keeps it: the evidence is unchanged). ``owner_verified`` is cleared on
    every participant unless ``trust_owner`` (an item the chat-export import stored itself).
    """
    if source not in ENTRY_POINTS:
        raise ValueError(f"unknown entry point {source!r}")
    update: dict = {"source": source, "provenance": item.provenance if source in OWN_ENTRY_POINTS else None}
    if not trust_owner:
        def plain(p: Participant) -> Participant:
            return p.model_copy(update={"owner_verified": None}) if p.owner_verified is not None else p

        update["sender"] = plain(item.sender)
        update["recipients"] = [plain(p) for p in item.recipients]
        if item.call is not None and item.call.participants:
            update["call"] = item.call.model_copy(update={"participants": [plain(p) for p in item.call.participants]})
    return item.model_copy(update=update)


class ItemRejected(ValueError):
    """The raw item does not meet the contract. ``reason`` says which field and why."""

    def __init__(self, item_id: str | None, reason: str):
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"item {item_id or '<no id>'} rejected: {reason}")


_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
               dict: "an object", type(None): "null"}


def _describe(error: ValidationError) -> str:
    """Field and reason for each problem, and the JSON type that was sent (never the value: it may be content)."""
    parts = []
    for err in error.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "item"
        got = ""
        if err["type"] in _TYPE_ERRORS:
            got = f" (got {_JSON_TYPES.get(type(err.get('input')), type(err.get('input')).__name__)})"
        parts.append(f"{where}: {err['msg']}{got}")
    return "; ".join(parts)


_TYPE_ERRORS = frozenset({"bool_type", "int_type", "float_type", "string_type", "list_type", "model_type", "dict_type",
                          "datetime_type", "int_from_float", "literal_error", "model_attributes_type"})


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
