"""Words a reviewer reads: item-type names, item classes, chat names, event names.

Item class scheme (PR_MESSAGE_CLASS, also in X-WhatsApp-Item-Class):
``IPM.ExternalData.WhatsAppArchiver.<Type>`` with Type one of Message, Edit, Deletion, Reaction,
Call, Event (one per feed item type, so a retention or search rule can pick e.g. only deletions).
"""

from __future__ import annotations

from shared.domain.items import Item, Participant
from shared.domain.record.addresses import display_name
from shared.domain.record.text import one_line, shorten

ITEM_CLASS_PREFIX = "IPM.ExternalData.WhatsAppArchiver"

TYPE_NAMES = {"message": "Message", "edit": "Edit", "deletion": "Deletion", "reaction": "Reaction",
              "call": "Call", "event": "Event"}

TITLES = {"message": "WhatsApp message", "edit": "WhatsApp message edited", "deletion": "WhatsApp message deleted",
          "reaction": "WhatsApp reaction", "call": "WhatsApp call", "event": "WhatsApp group event"}

EVENT_NAMES = {
    "participant_added": "participant added",
    "participant_removed": "participant removed",
    "participant_left": "participant left",
    "group_created": "group created",
    "subject_changed": "group subject changed",
    "number_changed": "phone number changed",
    "security_code_changed": "security code changed",
}

DELETED_NOTICE = "This message was deleted"


def item_class_for(item_type: str) -> str:
    return f"{ITEM_CLASS_PREFIX}.{TYPE_NAMES.get(item_type, 'Message')}"


def people_label(people: list[Participant], limit: int = 80) -> str:
    names = sorted({display_name(p) for p in people})
    return shorten(" & ".join(names[:6]) + (f" & {len(names) - 6} more" if len(names) > 6 else ""), limit)


def chat_label(item: Item, limit: int = 80) -> str:
    """The chat as a reviewer knows it: the group's name, else who is in a direct chat.

    Stable for every item of a conversation (sorted names, independent of who sent it).
    """
    title = one_line(item.conversation.title, limit)
    if title:
        return title
    if item.conversation.kind == "group":
        return shorten("WhatsApp group " + one_line(item.conversation.id, limit), limit)
    return people_label([item.sender, *item.recipients], limit)


def call_label(item: Item) -> str:
    call = item.call
    if call is None:
        return "Call"
    status = {"answered": "", "missed": "Missed ", "declined": "Declined "}[call.status]
    kind = f"{call.media} call"
    return (status + kind) if status else kind.capitalize()
