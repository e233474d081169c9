"""Deterministic identifiers: Message-ID, conversation root, Thread-Index, MIME boundaries.

Everything here is a pure function of the item's own ids, so rendering the same item twice gives
the same bytes, a re-sent item is recognised by its Message-ID, and an edit, deletion or reaction
can point at its target's Message-ID without ever having seen the target.

The domain ``whatsapp-archiver.invalid`` is reserved by RFC 2606 (``.invalid`` never resolves), so
these ids can never collide with a real mail system's.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

ID_DOMAIN = "whatsapp-archiver.invalid"

# Thread-Index header: fixed time so every record of one conversation shares the same 22 bytes.
_THREAD_EPOCH = datetime(2009, 2, 24, tzinfo=timezone.utc)  # WhatsApp Inc. founded
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


def _digest(namespace: str, value: str) -> bytes:
    # surrogatepass: ids are hashed as received, so a target id with a lone surrogate still
    # matches the Message-ID of the record it targets.
    return hashlib.sha256(namespace.encode() + b"\0" + value.encode("utf-8", "surrogatepass")).digest()


def message_id_for(item_id: str) -> str:
    """The Message-ID of the record of item ``item_id`` (also how other records refer to it)."""
    return f"<{_digest('item', item_id).hex()[:32]}@{ID_DOMAIN}>"


def conversation_root_id(conversation_id: str) -> str:
    """A Message-ID that every record of one conversation references: the thread's root."""
    return f"<conversation.{_digest('conversation', conversation_id).hex()[:32]}@{ID_DOMAIN}>"


def thread_index(conversation_id: str) -> str:
    """Outlook's Thread-Index header block (22 bytes, base64): 6 bytes FILETIME + 16 bytes GUID.

    Outlook and Exchange derive the conversation from this block, so it depends on the
    conversation id alone: every record of a chat lands in one conversation.
    """
    filetime = int((_THREAD_EPOCH - _FILETIME_EPOCH).total_seconds()) * 10_000_000
    guid = _digest("thread", conversation_id)[:16]
    return base64.b64encode(filetime.to_bytes(8, "big")[:6] + guid).decode("ascii")


def boundary(item_id: str, level: str) -> str:
    """A MIME boundary fixed by the item id (same item, same bytes).

    Every part of a record is base64, whose lines never start with '-', so no content line can
    be mistaken for a boundary, however hostile the text.
    """
    return f"=_wa_{level}_{_digest('boundary', item_id).hex()[:24]}"
