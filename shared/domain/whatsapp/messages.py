"""One WhatsApp message object (from ``messages``, ``smb_message_echoes`` or ``history``) to one contract item.

Inbound (``messages``): the customer sent it to the business number. Outbound
(``smb_message_echoes``): the employee sent it from the WhatsApp Business app to ``to``. History
messages are either, told apart by ``from`` (the business number or not) and ``to`` (echoes only).
Edits become ``edit`` items and revokes ``deletion`` items, linked by ``target_id`` to the original
wamid; reactions become ``reaction`` items (empty emoji = removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.whatsapp.build import contract_item
from shared.domain.whatsapp.content import MEDIA_TYPES, Content, product_note, read_content, referral_note
from shared.domain.whatsapp.events import error_summary, errors_of
from shared.domain.whatsapp.people import Business, Names, conversation_id, phone, user_id
from shared.domain.whatsapp.reading import Problem, obj, plain_text, require_text, require_timestamp, text
from shared.domain.whatsapp.results import MediaRef

HISTORY_MEDIA_SUFFIX = "#media"


@dataclass(frozen=True)
class Converted:
    item: dict[str, Any]
    media: tuple[MediaRef, ...]
    lost: str | None  # what the item could not carry (also reported as an Unknown entry)


def _people(message: dict, *, field: str, business: Business, names: Names, thread: str | None) -> tuple[dict, str]:
    """(customer participant, direction)."""
    sender_phone = phone(message.get("from"))
    if field == "smb_message_echoes":
        outbound = True
    elif field == "history":
        outbound = (sender_phone is not None and sender_phone == business.phone) or text(message.get("to")) is not None
    else:
        outbound = False
    if outbound:
        number = phone(message.get("to")) or (phone(thread) if thread else None)
        uid = user_id(message.get("to_user_id"))
    else:
        number = sender_phone or (phone(thread) if thread else None)
        uid = user_id(message.get("from_user_id"))
    if number is None and uid is None:
        side = "to/to_user_id" if outbound else "from/from_user_id"
        raise Problem(f"{side}: no customer phone number or user id; cannot tell who the other party is")
    return names.customer(number, uid), ("outbound" if outbound else "inbound")


def _inner_text(inner: dict) -> tuple[str | None, str | None]:
    """(new text, inner type) of an edit's replacement message: the text body or a media caption."""
    mtype = text(inner.get("type"))
    if mtype is None:
        for candidate in ("text", *MEDIA_TYPES):
            if obj(inner.get(candidate)) is not None:
                mtype = candidate
                break
    body = obj(inner.get(mtype)) if mtype else None
    if body is None:
        return None, mtype
    if mtype == "text":
        return plain_text(body.get("body")), mtype
    return plain_text(body.get("caption")), mtype


def _specific(message: dict, mtype: str) -> Content:
    if mtype == "edit":
        edit = obj(message.get("edit")) or {}
        target = require_text(edit, "original_message_id", "edit")
        inner = obj(edit.get("message")) or {}
        new_text, inner_type = _inner_text(inner)
        if new_text is None:
            return Content(fields={"target_id": target, "text": f"[edit without readable new text (type '{inner_type or '?'}')]"},
                           item_type="edit", lost=f"edit: new text of type '{inner_type or '?'}' not readable")
        return Content(fields={"target_id": target, "text": new_text}, item_type="edit")
    if mtype == "revoke":
        revoke = obj(message.get("revoke")) or {}
        return Content(fields={"target_id": require_text(revoke, "original_message_id", "revoke")}, item_type="deletion")
    if mtype == "reaction":
        reaction = obj(message.get("reaction")) or {}
        emoji = plain_text(reaction.get("emoji")) or ""
        return Content(fields={"target_id": require_text(reaction, "message_id", "reaction"), "emoji": emoji}, item_type="reaction")
    return read_content(message, mtype)


def convert_message(message: dict, *, field: str, business: Business, names: Names, received_at: datetime,
                    thread: str | None = None) -> Converted:
    """The contract item for one message object; raises Problem (naming the field) when it cannot be built."""
    wamid = require_text(message, "id", "message")
    sent_at = require_timestamp(message, "timestamp", "message")
    mtype = text(message.get("type")) or "unknown"
    person, direction = _people(message, field=field, business=business, names=names, thread=thread)
    group_id = text(message.get("group_id"))
    content = _specific(message, mtype)
    item_id = wamid
    if field == "history" and content.media:
        item_id = wamid + HISTORY_MEDIA_SUFFIX  # history media arrive after the placeholder with the same wamid
    data: dict[str, Any] = {
        "id": item_id,
        "type": content.item_type,
        "captured_at": received_at,
        "sent_at": sent_at,
        "conversation": {"id": conversation_id(business, person, group_id), "kind": "group" if group_id else "direct"},
        "direction": direction,
    }
    if direction == "inbound":
        data["sender"], data["recipients"] = person, [business.participant()]
    else:
        data["sender"], data["recipients"] = business.participant(), [person]
    data.update(content.fields)
    context = obj(message.get("context")) or {}
    reply = text(context.get("id"))
    if reply:
        data["reply_to"] = reply
    if context.get("forwarded") is True or context.get("frequently_forwarded") is True:
        data["forwarded"] = True
    lost = content.lost
    notes = [referral_note(message), product_note(context)]
    if mtype not in ("unsupported", "unknown") and message.get("errors") is not None:
        codes = "; ".join(error_summary(e) for e in errors_of(message)) or "no code"
        notes.append(f"[Meta reported a problem with this message: {codes}; part of it may be missing]")
        lost = lost or f"Meta reported error {codes} on this message"
    notes = [n for n in notes if n]
    if notes and content.item_type != "deletion":
        data["text"] = "\n".join(p for p in (data.get("text"), *notes) if p)
    item = contract_item(data)
    media = tuple(
        MediaRef(item_id=item_id, attachment_id=plan.media_id, media_id=plan.media_id, kind=plan.kind, mime_type=plan.mime_type,
                 sha256=plan.sha256, url=plan.url, filename=plan.filename, declared_in_item=plan.attachment is not None)
        for plan in content.media
    )
    return Converted(item=item, media=media, lost=lost)

