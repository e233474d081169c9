"""Subject and Thread-Topic: what a reviewer sees in a list of thousands of records.

Subject: ``WhatsApp · <chat> · <who did what>: <start of text>``, one line, at most
``MAX_SUBJECT`` characters (the text preview at most ``MAX_PREVIEW``). Thread-Topic is the chat
alone, the same for every record of a conversation.
"""

from __future__ import annotations

from shared.domain.items import Item
from shared.domain.record.addresses import display_name
from shared.domain.record.labels import DELETED_NOTICE, EVENT_NAMES, call_label, chat_label
from shared.domain.record.text import one_line, shorten
from shared.domain.record.times import duration_text

MAX_SUBJECT = 200
MAX_PREVIEW = 80


def _files_preview(item: Item) -> str:
    files = item.attachments
    if not files:
        return ""
    kinds = {"image": "photo", "voice": "voice note"}
    if len(files) == 1:
        f = files[0]
        name = one_line(f.file_name, 40)
        return f"[{kinds.get(f.kind, f.kind)}{': ' + name if name else ''}]"
    return f"[{len(files)} attachments]"


def _preview(item: Item) -> str:
    text = one_line(item.text, MAX_PREVIEW)
    if text:
        return text
    if item.location:
        return "[location" + (": " + one_line(item.location.name, 40) if one_line(item.location.name, 40) else "") + "]"
    if item.contacts:
        return "[contact: " + one_line(item.contacts[0].name, 40) + "]"
    return _files_preview(item)


def what(item: Item) -> str:
    sender = display_name(item.sender)
    if item.type == "edit":
        return f"{sender} edited a message"
    if item.type == "deletion":
        return f"{sender}: {DELETED_NOTICE}"
    if item.type == "reaction":
        emoji = one_line(item.emoji, 16)
        return f"{sender} reacted {emoji}" if emoji else f"{sender} removed a reaction"
    if item.type == "call" and item.call is not None:
        label = call_label(item)
        if item.call.status == "answered":
            label += f" ({duration_text(item.call.duration_seconds)})"
        return f"{label} from {sender}"
    if item.type == "event" and item.event is not None:
        return "Event: " + EVENT_NAMES.get(item.event.kind, item.event.kind)
    return f"{sender} (forwarded)" if item.type == "message" and item.forwarded else sender


def subject(item: Item) -> str:
    head = f"WhatsApp · {chat_label(item, 60)} · {what(item)}"
    if item.type == "event" and item.event is not None:
        detail = one_line(item.event.detail, MAX_PREVIEW)
        return shorten(head + (f" · {detail}" if detail else ""), MAX_SUBJECT)
    if item.type == "deletion":
        return shorten(head, MAX_SUBJECT)
    preview = _preview(item) if item.type in ("message", "edit") else one_line(item.text, MAX_PREVIEW)
    return shorten(head + (f": {preview}" if preview else ""), MAX_SUBJECT)


def thread_topic(item: Item) -> str:
    return "WhatsApp · " + chat_label(item, 120)
