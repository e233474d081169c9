"""The queue messages between the three functions, and the keys derived from item ids."""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict

_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


def item_key(item_id: str) -> str:
    """A storage-safe key for an item id: the id itself when it is plain, else '~' + its sha256.

    Used in blob names and table keys. '~' cannot start a plain id, so the two forms never collide.
    """
    if _PLAIN_ID.match(item_id):
        return item_id
    return "~" + hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ItemMessage(_Msg):
    """items queue: one per pulled item."""

    item_id: str
    raw_blob: str  # path inside the raw container
    report_date: str  # the day whose report counts this item (the pull run's UTC date)
    run_id: str
    traceparent: str | None = None
    resent_of: str | None = None  # a changed re-send: the id of the first item, which this one is linked to
    raw_b64: str | None = None  # the raw item itself when small (INLINE_RAW_MAX): no raw/ read to convert it
    # The entry point that stored and queued the item: feed | whatsapp_cloud_api | chat_export. Only our
    # code writes this queue, so this (never the item's own 'source') says where the item came from.
    # None: queued before it existed; convert judges by raw_blob (imports/ -> chat_export, else feed).
    source: str | None = None


INLINE_RAW_MAX = 32 * 1024  # raw item bytes carried in its items message (the blob in raw/ is written all the same)


class DeliveryMessage(_Msg):
    """deliveries queue: one per mailbox copy of a rendered record."""

    item_id: str
    item_type: str
    mailbox: str
    mime_blob: str  # path inside the mime container
    item_class: str
    partial: bool = False  # the record left attachments out (too large / unavailable)
    report_date: str
    source: str = ""  # key (E.164 or uid:) of the participant this copy is for; masked in reports
    requeues: int = 0  # how often throttling handed it back (bounded)
    traceparent: str | None = None
    eml_b64: str | None = None  # the record itself when small (INLINE_EML_MAX): no mime/ read to deliver it


INLINE_EML_MAX = 32 * 1024  # a queue message holds 64 KiB after the host's base64: JSON + base64 eml stay under
