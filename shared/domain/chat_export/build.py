"""One parsed export entry as a contract item (a plain dict, validated by ``parse_item`` downstream).

Who is who: the owner (the exporting employee, ``--owner``) is a participant of every item,
as sender when the line's author is their display name or "You", else as a recipient, carrying
their mailbox as ``email`` with ``owner_verified`` set. Authors written as phone numbers are
phones (E.164 when readable: the mapping file maps them like any phone); any other author stays a
name (``user_id`` ``chat-export:<name>``, so a mapping-file row can map it deliberately; nothing
guesses a mailbox from a name). System lines come from a participant that says so.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from shared.domain.chat_export.markers import plain
from shared.domain.chat_export.parser import Entry, Profile
from shared.domain.chat_export.times import to_utc
from shared.domain.phones import is_phone_like, normalise_phone

NAME_UID_PREFIX = "chat-export:"
OWNER_UID = "chat-export-owner"
SYSTEM = {"user_id": "chat-export:whatsapp-system", "name": "WhatsApp (system line of the export)"}
_YOU = {"you", "du", "tú", "vous", "você", "tu", "jij", "u", "sie"}
_KIND_BY_PREFIX = (("IMG", "image"), ("PHOTO", "image"), ("VID", "video"), ("VIDEO", "video"), ("PTT", "voice"),
                   ("AUD", "audio"), ("AUDIO", "audio"), ("STK", "sticker"), ("STICKER", "sticker"), ("GIF", "video"))
_SEQ = re.compile(r"^\d{8}-")
_MIME = mimetypes.MimeTypes()  # Python's built-in table only: the same type on every host (records are deterministic)


@dataclass(frozen=True)
class FileRef:
    """A file of the zip that a message names: hashed by us, stored by the caller."""

    name: str
    sha256: str
    size: int
    contacts: list[dict] = field(default_factory=list)  # parsed from a .vcf


@dataclass(frozen=True)
class Context:
    owner: str
    owner_name: str | None
    chat: str
    conversation_id: str
    group: bool
    zone: ZoneInfo
    region: str
    profile: Profile
    authors: list[str]  # every known author of the chat, as written


def attachment_kind(file_name: str, content_type: str) -> str:
    stem = _SEQ.sub("", file_name)
    for prefix, kind in _KIND_BY_PREFIX:
        if stem.upper().startswith(prefix + "-"):
            return "voice" if kind == "audio" and file_name.lower().endswith(".opus") else kind
    major = content_type.split("/")[0]
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")


def content_type_of(file_name: str) -> str:
    if file_name.lower().endswith(".opus"):
        return "audio/ogg"
    if file_name.lower().endswith(".vcf"):
        return "text/vcard"
    return _MIME.guess_type(file_name, strict=False)[0] or "application/octet-stream"


def person(author: str, ctx: Context) -> dict:
    name = plain(author)
    if ctx.owner_name and name == ctx.owner_name or name.lower() in _YOU:
        return owner(ctx)
    if is_phone_like(name):
        return {"phone": normalise_phone(name, ctx.region) or name}
    if name.startswith("~"):
        profile_name = name.lstrip("~ ").strip() or name
        return {"user_id": NAME_UID_PREFIX + name, "name": profile_name + " (WhatsApp profile name)"}
    return {"user_id": NAME_UID_PREFIX + name, "name": name}


def owner(ctx: Context) -> dict:
    return {"user_id": OWNER_UID, "name": ctx.owner_name or ctx.owner, "email": ctx.owner, "owner_verified": True}


def read_contacts(vcard: bytes) -> list[dict]:
    """Names and phones of a .vcf (enough for the record; the file itself is attached)."""
    text = vcard[:1_000_000].decode("utf-8", "replace")
    cards, name, phones = [], None, []
    for line in text.replace("\r\n", "\n").split("\n"):
        key, _, value = line.partition(":")
        key = key.split(";")[0].upper()
        if key == "BEGIN":
            name, phones = None, []
        elif key == "FN":
            name = value.strip()
        elif key == "TEL":
            phones.append(value.strip())
        elif key == "END" and (name or phones):
            cards.append({"name": name or "(no name)", "phones": phones})
    return cards


def build_item(entry: Entry, ctx: Context, *, item_id: str, files: Callable[[str], FileRef | None],
               target_id: str | None = None, target_note: str | None = None) -> tuple[dict, list[str]]:
    """(item dict, names of files the line names but the zip lacks)."""
    sent, time_note = to_utc(entry.wall_clock, ctx.zone)
    kind = entry.kind
    if kind.name == "e2e_notice":
        sender = SYSTEM  # iOS attributes it to the chat's name; it is WhatsApp's line, not a person's
    elif entry.author is None:
        actor = plain(kind.detail.get("actor") or "")
        known = actor and (actor.lower() in _YOU or actor in ctx.authors or is_phone_like(actor))
        sender = person(actor, ctx) if known else SYSTEM
    else:
        sender = person(entry.author, ctx)
    others = [person(a, ctx) for a in ctx.authors]
    recipients, seen = [], {repr(sorted(sender.items()))}
    for p in [owner(ctx), *others]:
        key = repr(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            recipients.append(p)
    provenance = {
        "imported from": "a WhatsApp 'Export chat' file",
        "platform": entry.platform,
        "date order": f"{ctx.profile.date_order} ({ctx.profile.date_order_how})",
        "time zone": f"{ctx.zone.key} (the export has wall-clock times only; assumed)",
        "wall clock": entry.wall_clock.strftime("%Y-%m-%d %H:%M") + (":%02d" % entry.wall_clock.second
                                                                     if entry.platform == "ios" else ""),
        "line kind": kind.name,
        "exported by": ctx.owner,
    }
    if time_note:
        provenance["time note"] = time_note
    if entry.author is not None:
        provenance["author as written"] = plain(entry.author)
    item: dict = {
        "id": item_id, "type": "message", "captured_at": sent.isoformat(), "sent_at": sent.isoformat(),
        "conversation": {"id": ctx.conversation_id, "kind": "group" if ctx.group else "direct", "title": ctx.chat},
        "sender": sender, "recipients": recipients, "text": entry.body, "source": "chat_export",
    }
    if sender is not SYSTEM:
        item["direction"] = "outbound" if sender.get("owner_verified") else "inbound"
    missing: list[str] = []
    name = kind.name
    if name == "attached":
        ref = files(kind.detail["file"])
        if ref is None:
            missing.append(kind.detail["file"])
            provenance["attachment"] = (f"{kind.detail['file']} is named in the export but not in the zip; "
                                        "the file is not archived")
        else:
            ctype = content_type_of(ref.name)
            att = {"id": f"{item_id}-file", "file_name": ref.name, "content_type": ctype, "size": ref.size,
                   "sha256": ref.sha256, "kind": attachment_kind(ref.name, ctype)}
            if kind.detail.get("caption"):
                att["caption"] = kind.detail["caption"]
            item["attachments"] = [att]
            provenance["attachment"] = f"{ref.name} from the export zip, sha256 computed on import"
            if ref.contacts:
                item["contacts"] = ref.contacts
    elif name == "omitted":
        provenance["attachment"] = ("the file was not exported (export made without media, or the file was no "
                                    "longer on the phone); only this marker is known")
    elif name == "location" and kind.detail.get("coords"):
        lat, lon = kind.detail["coords"]
        loc = {"latitude": lat, "longitude": lon}
        for k in ("name", "address"):
            if kind.detail.get(k):
                loc[k] = kind.detail[k]
        item["location"] = loc
    elif name == "location":
        provenance["location"] = "a place link without coordinates; kept as text"
    elif name == "deleted":
        item["type"] = "deletion"
        item["target_id"] = target_id or f"{item_id}-deleted-original"
        provenance["deleted"] = ("the export shows only that the message was deleted; its content is gone"
                                 + (f" ({target_note})" if target_note else ""))
    elif name == "edited":
        if target_id:
            item["type"] = "edit"
            item["target_id"] = target_id
        provenance["edited"] = ("WhatsApp marked this message edited; the export keeps only the latest text"
                                + (f" ({target_note})" if target_note else ""))
    elif name == "call":
        d = kind.detail
        item["type"] = "call"
        item["call"] = {"media": d["media"], "status": d["status"], "started_at": sent.isoformat(),
                        "duration_seconds": d["duration_seconds"]}
    elif name == "event":
        item["type"] = "event"
        item["event"] = {"kind": kind.detail["event"], "detail": plain(entry.body)}
    elif name == "view_once":
        provenance["view once"] = "a view-once message; its content is never exported"
    elif name == "undecryptable":
        provenance["undecryptable"] = "the phone could not decrypt this message when the chat was exported"
    elif name == "poll":
        provenance["poll"] = "a poll, as the export writes it (question, options, votes)"
    elif name == "e2e_notice":
        provenance["notice"] = "WhatsApp's end-to-end encryption notice"
    elif name == "system":
        provenance["system"] = "a system line the importer does not classify further; kept as text"
    item["provenance"] = provenance
    return item, missing


def utc_of(wall: datetime, zone: ZoneInfo) -> datetime:
    return to_utc(wall, zone)[0]
