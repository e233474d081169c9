"""The record's content, once, as plain data: what both bodies (text and HTML) show.

Building the content apart from its two renderings keeps them saying the same thing: every
field of the item appears in both, values are the item's exact strings (only lone surrogates
repaired), and escaping is the renderers' job alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from zoneinfo import ZoneInfo

from shared.domain.items import Attachment, Item, Participant
from shared.domain.record.addresses import ResolvedAddress, display_name, e164_of
from shared.domain.record.attachments import REASON_TEXT, PlannedFile, inline_content_id
from shared.domain.record.images import display_size
from shared.domain.record.ids import message_id_for
from shared.domain.record.labels import DELETED_NOTICE, EVENT_NAMES, TITLES, call_label, chat_label
from shared.domain.record.subject import what
from shared.domain.record.times import both, duration_text

MAX_TO_IN_FACTS = 20


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    href: str | None = None


@dataclass(frozen=True)
class TextBlock:
    label: str
    text: str  # the item's exact text
    note: str = ""


@dataclass(frozen=True)
class Section:
    heading: str
    facts: list[Fact] = field(default_factory=list)


@dataclass(frozen=True)
class FileRow:
    number: int
    name: str  # safe name, as in the MIME part
    original_name: str
    content_type: str
    declared_content_type: str
    size: int
    sha256: str
    kind: str
    attachment_id: str
    caption: str | None
    embedded: bool
    reason: str = ""
    location: str = ""
    role: str = "attachment"  # or "call recording"
    content_id: str | None = None  # set when the HTML shows the file inline (cid:)
    width: int = 0  # inline pictures: the size to draw at
    height: int | None = None


@dataclass(frozen=True)
class RecordView:
    title: str
    headline: str
    facts: list[Fact]
    blocks: list[TextBlock]
    sections: list[Section]
    files: list[FileRow]
    notes: list[str]


def address_text(resolved: ResolvedAddress) -> str:
    return f"{resolved.display_name} <{resolved.addr_spec}>"


def participant_text(p: Participant, resolved: ResolvedAddress, region: str) -> str:
    """One participant, every property the feed gave: nothing about a person is lost."""
    bits = [address_text(resolved) + ("" if resolved.mapped else " (not a Microsoft 365 mailbox)")]
    if p.name is not None:
        bits.append(f"name: {p.name}")
    if p.phone is not None:
        e164 = e164_of(p, region)
        bits.append(f"phone: {e164}" + (f" (captured as: {p.phone})" if e164 != p.phone else "") if e164
                    else f"phone as captured: {p.phone}")
    if p.user_id is not None:
        bits.append(f"WhatsApp user id: {p.user_id}")
    if p.email is not None:
        bits.append(f"email property: {p.email}")
    if p.owner_verified:
        bits.append("the exporting employee, named by the admin at import")
    return "; ".join(bits)


def _ref_fact(label: str, target_id: str) -> Fact:
    return Fact(label, f"item id {target_id}, Message-ID {message_id_for(target_id)}")


def map_url(latitude: float, longitude: float) -> str:
    lat, lon = f"{latitude:.7f}", f"{longitude:.7f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def file_row(number: int, planned: PlannedFile, location: str, role: str) -> FileRow:
    att: Attachment = planned.attachment
    cid = inline_content_id(number, planned)
    width, height = display_size(planned.data, sticker=att.kind == "sticker") if cid else (0, None)
    return FileRow(
        number=number, name=planned.file_name, original_name=att.file_name, content_type=planned.content_type,
        declared_content_type=att.content_type, size=len(planned.data) if planned.data is not None else att.size,
        sha256=att.sha256, kind=att.kind, attachment_id=att.id, caption=att.caption, embedded=planned.embedded,
        reason=REASON_TEXT[planned.reason] if planned.reason else "", location=location, role=role,
        content_id=cid, width=width, height=height,
    )


def _headline(item: Item) -> str:
    """One sentence: who did what, where."""
    sender = display_name(item.sender)
    if item.type == "message":
        doing = f"{sender} {'forwarded' if item.forwarded else 'sent'} a message"
    elif item.type == "edit":
        doing = f"{sender} edited a message"
    elif item.type == "deletion":
        doing = f"{sender} deleted a message"
    elif item.type == "reaction":
        doing = f"{sender} reacted {item.emoji} to a message" if item.emoji else f"{sender} removed a reaction"
    else:
        doing = what(item)
    where = chat_label(item)
    return f"{doing} in the group {where}" if item.conversation.kind == "group" else f"{doing} (chat: {where})"


def quoted_text(target: Item) -> str:
    """A quoted original as text: its text, else what it carried (files with captions, location, contacts)."""
    bits = [target.text] if target.text else []
    bits += [f"[{a.kind}: {a.file_name}" + (f" — {a.caption}" if a.caption else "") + "]" for a in target.attachments]
    if target.location is not None:
        bits.append(f"[location: {target.location.name or ''} {target.location.latitude!r}, {target.location.longitude!r}]")
    bits += [f"[contact: {c.name}]" for c in target.contacts or []]
    return "\n".join(bits) if bits else "(empty message)"


def _quote_blocks(item: Item, context: Mapping[str, Item]) -> list[TextBlock]:
    """The archived originals this item quotes, same conversation only, labelled as quotes."""
    out = []
    for label, target_id in (("Replied-to message", item.reply_to), ({"edit": "Edited message", "deletion": "Deleted message",
                             "reaction": "Reacted-to message"}.get(item.type, "Target message"), item.target_id)):
        target = context.get(target_id) if target_id is not None else None
        if target is None or target.conversation.id != item.conversation.id:
            continue
        out.append(TextBlock(f"{label}, quoted from the archive", quoted_text(target),
                             note=f"Sent by {display_name(target.sender)}; item id {target.id}, "
                                  f"Message-ID {message_id_for(target.id)}"))
    return out


def build_view(item: Item, *, sender: ResolvedAddress, recipients: list[ResolvedAddress],
               call_people: list[ResolvedAddress], files: list[FileRow], region: str,
               display_zone: ZoneInfo | None, repaired: list[str],
               context: Mapping[str, Item] | None = None) -> RecordView:
    to_names = [address_text(r) for r in recipients[:MAX_TO_IN_FACTS]]
    if len(recipients) > MAX_TO_IN_FACTS:
        to_names.append(f"… and {len(recipients) - MAX_TO_IN_FACTS} more (all listed under People)")
    conv = item.conversation
    chat = f"{chat_label(item)} ({conv.kind} chat, conversation id {conv.id})"
    if conv.title is not None:
        chat += f"; title: {conv.title}"
    facts = [
        Fact("From", address_text(sender)),
        Fact("To", "; ".join(to_names) if to_names else "(no recipients)"),
        Fact("Chat", chat),
        Fact("Sent", both(item.sent_at, display_zone)),
        Fact("Captured", both(item.captured_at, display_zone)),
    ]
    if item.direction:
        facts.append(Fact("Direction", item.direction + (" (sent from the archived phone)" if item.direction == "outbound"
                                                         else " (received on the archived phone)")))
    facts.append(Fact("Item id", item.id))
    facts.append(Fact("Item type", item.type))
    if item.source is not None:
        facts.append(Fact("Source", item.source))
    for key, value in (item.provenance or {}).items():
        facts.append(Fact(key[:1].upper() + key[1:], value))
    if item.reply_to is not None:
        facts.append(_ref_fact("In reply to", item.reply_to))
    if item.forwarded is not None:
        facts.append(Fact("Forwarded", "yes, WhatsApp marked this message forwarded" if item.forwarded else "no"))
    if item.target_id is not None:
        label = {"edit": "Edited message", "deletion": "Deleted message", "reaction": "Reacted to"}.get(item.type, "Target")
        facts.append(_ref_fact(label, item.target_id))
    if item.emoji is not None:
        facts.append(Fact("Reaction", item.emoji if item.emoji else "(reaction removed)"))

    blocks: list[TextBlock] = []
    if item.type == "deletion":
        blocks.append(TextBlock("Deletion", DELETED_NOTICE))
        if item.original_text is not None:
            blocks.append(TextBlock("Deleted text (kept by the capture service)", item.original_text))
        else:
            blocks.append(TextBlock("Deleted text", "", note="The capture service did not keep the deleted text."))
        if item.text is not None:
            blocks.append(TextBlock("Text", item.text))
    else:
        if item.original_text is not None:
            blocks.append(TextBlock("Original text" if item.type == "edit" else "Original text (as captured)",
                                    item.original_text))
        elif item.type == "edit" and item.target_id is not None:
            blocks.append(TextBlock("Original text", "", note="An edit carries only the new text; the original is in "
                                    f"the record with Message-ID {message_id_for(item.target_id)}."))
        if item.text is not None:
            label = {"edit": "New text", "message": "Message"}.get(item.type, "Text")
            blocks.append(TextBlock(label, item.text, note="(empty)" if item.text == "" else ""))
    if context:
        blocks += _quote_blocks(item, context)

    sections: list[Section] = []
    if item.location is not None:
        loc = item.location
        lf = [Fact("Coordinates", f"{loc.latitude!r}, {loc.longitude!r}", map_url(loc.latitude, loc.longitude)),
              Fact("Map", map_url(loc.latitude, loc.longitude), map_url(loc.latitude, loc.longitude))]
        if loc.name is not None:
            lf.insert(0, Fact("Name", loc.name))
        if loc.address is not None:
            lf.insert(1 if loc.name is not None else 0, Fact("Address", loc.address))
        sections.append(Section("Shared location", lf))
    for n, card in enumerate(item.contacts or [], 1):
        cf = [Fact("Name", card.name)] + [Fact(f"Phone {i}", phone) for i, phone in enumerate(card.phones, 1)]
        sections.append(Section(f"Shared contact {n}", cf if card.phones else cf + [Fact("Phones", "(none)")]))
    if item.call is not None:
        call = item.call
        cf = [Fact("Call", call_label(item)), Fact("Media", call.media), Fact("Status", call.status),
              Fact("Started", both(call.started_at, display_zone)),
              Fact("Duration", f"{duration_text(call.duration_seconds)} ({call.duration_seconds} seconds)")]
        for i, (p, r) in enumerate(zip(call.participants or [], call_people), 1):
            cf.append(Fact(f"Call participant {i}", participant_text(p, r, region)))
        if call.participants == []:
            cf.append(Fact("Call participants", "(none listed)"))
        if call.recording is not None:
            cf.append(Fact("Recording", f"{call.recording.file_name} (see Attachments)"))
        sections.append(Section("Call", cf))
    if item.event is not None:
        ef = [Fact("Event", EVENT_NAMES.get(item.event.kind, item.event.kind)), Fact("Event kind", item.event.kind)]
        if item.event.detail is not None:
            ef.append(Fact("Detail", item.event.detail))
        sections.append(Section("Group event", ef))
    people = [Fact("Sender", participant_text(item.sender, sender, region))]
    people += [Fact(f"Recipient {i}", participant_text(p, r, region))
               for i, (p, r) in enumerate(zip(item.recipients, recipients), 1)]
    sections.append(Section("People", people))

    notes = repair_and_partial_notes(repaired, files, what="record", named="named below")
    return RecordView(title=TITLES.get(item.type, "WhatsApp item"), headline=_headline(item),
                      facts=facts, blocks=blocks, sections=sections, files=files, notes=notes)


def repair_and_partial_notes(repaired: list[str], files: list, *, what: str, named: str) -> list[str]:
    """The notes a reviewer must see first: text that was repaired, files that are not embedded."""
    notes = []
    if repaired:
        notes.append("Some text held invalid UTF-16 (lone surrogates) and was repaired with U+FFFD in: "
                     + ", ".join(repaired) + ".")
    omitted = [f for f in files if not f.embedded]
    if omitted:
        notes.append(f"This {what} is partial: {len(omitted)} of {len(files)} file(s) are not embedded; "
                     f"each is {named} and in a text attachment, with where the original is kept.")
    return notes
