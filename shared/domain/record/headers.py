"""The record's headers: addressing, threading, and X-WhatsApp-* metadata.

Human headers (From/To display names, Subject, Thread-Topic) are single-line and bounded
(``text.one_line``); non-ASCII is RFC 2047-encoded. Machine headers (X-WhatsApp-*) carry the exact
values: '%', control characters and '=' before '?' are percent-escaped (``text.escape_value``;
read back with ``urllib.parse.unquote`` after stripping folding blanks), and they are folded here
(``folded_x``) so that unfolding gives back every character: plain ASCII folded at spaces, else
RFC 2047 base64 encoded words. X- values longer than 4,000 characters are cut (marked with an
ellipsis); the body always holds them whole. No value can inject a header: CR, LF and NUL never
reach the header writer, and no user text can form an encoded word that a reader would decode.

X-WhatsApp-* headers (top level):
  Item-Id, Item-Type, Item-Class, Conversation-Id, Conversation-Kind, Conversation-Title,
  Direction, Sent-At, Captured-At (RFC 3339 as received), Sender, Recipients, Call-Participants
  (participant keys: E.164, ``uid:<id>`` or the phone as written; lists comma-separated with ','
  escaped), Reply-To, Forwarded, Target-Id, Reaction, Reaction-Removed, Location (lat,lon),
  Call-Media, Call-Status, Call-Started-At, Call-Duration-Seconds, Event-Kind, Event-Detail,
  Attachment (one per file: ``<sha256>; id=..; kind=..; size=..; status=embedded|omitted-<reason>``),
  Partial (``true`` when a file is not embedded), Repaired (fields whose lone surrogates became
  U+FFFD), Renderer.
On each file part: X-WhatsApp-Original-Filename, X-WhatsApp-Attachment-Id, X-WhatsApp-Sha256,
X-WhatsApp-Attachment-Kind, X-WhatsApp-Declared-Content-Type, X-WhatsApp-Caption; on the text
part that names a file left out: the same, plus X-WhatsApp-Omitted (``<reason>; sha256=...``).
"""

from __future__ import annotations

import base64
import re
from datetime import timezone
from email import policy as email_policy
from email.utils import format_datetime
from urllib.parse import quote

from shared.domain.items import Item
from shared.domain.record.addresses import ResolvedAddress, participant_key
from shared.domain.record.attachments import PlannedFile
from shared.domain.record.ids import conversation_root_id, message_id_for, thread_index
from shared.domain.record.text import escape_value, one_line, repair, shorten

# CRLF, 78-column folding; raw (pre-folded) values are written as they are, never refolded:
# refolding a 10,000-address To header is quadratic in the stdlib.
POLICY = email_policy.SMTP.clone(refold_source="none")
RENDERER = "whatsapp-archiver record/2"  # 2: chat bubble above the evidence, inline cid: pictures
MAX_X_VALUE = 4000


_KEY_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != ",")
_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=^_`{|}~-]+)*$")


def _address(name: str, addr_spec: str) -> str:
    """One mailbox as RFC 5322 writes it, display name first.

    ASCII names: atoms, else a quoted string (the stdlib's folder leaves some names, e.g. one
    starting with '.', unquoted, and its own parser then fails on them). Non-ASCII names: ONE
    base64 encoded word. RFC 2047 asks for words of at most 75 characters, but the stdlib parser
    (used by the Graph adapter) puts a space between adjacent encoded words of a display name,
    splitting names mid-word; names are bounded (``addresses.display_name``: 120 characters), so
    the word stays well under the 998-character line limit, and Exchange and Outlook read it.
    """
    if not name:
        return f"<{addr_spec}>"
    if _ATOMS.match(name):
        return f"{name} <{addr_spec}>"
    if name.isascii():
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + f'" <{addr_spec}>'
    encoded = base64.b64encode(name.encode("utf-8")).decode("ascii")
    return f"=?utf-8?b?{encoded}?=\r\n <{addr_spec}>"


def fold_addresses(addresses: list[ResolvedAddress]) -> str:
    """A pre-folded address-list value: one address per line. Fast even for 10,000 recipients."""
    return ",\r\n ".join(_address(r.display_name, r.addr_spec) for r in addresses)


def x_value(value: str) -> str:
    return shorten(escape_value(value), MAX_X_VALUE)


def key_list(keys: list[str]) -> str:
    """Participant keys, comma-separated, ASCII only (',' and non-ASCII percent-escaped too), so
    that a list of 10,000 is folded by ``fold_ascii`` rather than by the slow stdlib folder."""
    return ", ".join(quote(escape_value(k), safe=_KEY_SAFE) for k in keys)


def fold_ascii(name: str, value: str) -> str:
    """Fold an ASCII value at single spaces, each break a CRLF before an existing space: unfolding
    gives back exactly the value (the stdlib's folder can double a space at a break)."""
    lines, line = [], name + ":"
    for token in value.split(" "):
        if len(line) + 1 + len(token) > 78 and line.strip() and line != name + ":":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines)[len(name) + 2:]


def fold_encoded(value: str) -> str:
    """RFC 2047 base64 encoded words of whole characters, at most 75 characters each, one per
    line. Readers join adjacent encoded words without the folding space: the value is exact."""
    words, chunk = [], b""
    for ch in value:
        data = ch.encode("utf-8")
        if len(chunk) + len(data) > 45:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def folded_x(name: str, value: str) -> str:
    """The raw, pre-folded form of an X-WhatsApp-* value (already ``escape_value``d): plain ASCII
    when it can be folded at spaces, else encoded words. Either way it reads back exactly."""
    if value.isascii() and "=?" not in value and all(len(t) < 900 for t in value.split(" ")):
        return fold_ascii(name, value)
    return fold_encoded(value)


def attachment_x(planned: PlannedFile) -> str:
    att = planned.attachment
    status = "embedded" if planned.embedded else f"omitted-{planned.reason}"
    att_id = x_value(att.id).replace(";", "%3B")  # the id cannot end its field early
    return f"{att.sha256}; id={att_id}; kind={att.kind}; size={att.size}; status={status}"


def record_headers(item: Item, *, original_item_id: str, original_target_id: str | None,
                   original_reply_to: str | None, original_conversation_id: str, subject: str, topic: str,
                   item_class: str, planned: list[PlannedFile], repaired: list[str], region: str) -> list[tuple[str, str]]:
    """Every top-level header except From/To, in a fixed order (the record is byte-deterministic).

    Ids used for threading are the *original* strings (before surrogate repair), hashed, so links
    between records never depend on repair.
    """
    root = conversation_root_id(original_conversation_id)
    parent = original_target_id or original_reply_to
    refs = [root] + ([message_id_for(parent)] if parent else [])
    h: list[tuple[str, str]] = [
        ("Date", format_datetime(item.sent_at.astimezone(timezone.utc))),
        ("Message-ID", message_id_for(original_item_id)),
        ("In-Reply-To", refs[-1]),
        ("References", " ".join(refs)),
        ("Subject", subject),
        ("Thread-Topic", topic),
        ("Thread-Index", thread_index(original_conversation_id)),
        ("X-WhatsApp-Item-Id", x_value(item.id)),
        ("X-WhatsApp-Item-Type", item.type),
        ("X-WhatsApp-Item-Class", item_class),
        ("X-WhatsApp-Conversation-Id", x_value(item.conversation.id)),
        ("X-WhatsApp-Conversation-Kind", item.conversation.kind),
    ]
    add = h.append
    if item.conversation.title is not None:
        add(("X-WhatsApp-Conversation-Title", x_value(item.conversation.title)))
    if item.direction:
        add(("X-WhatsApp-Direction", item.direction))
    add(("X-WhatsApp-Sent-At", item.sent_at.isoformat()))
    add(("X-WhatsApp-Captured-At", item.captured_at.isoformat()))
    add(("X-WhatsApp-Sender", x_value(participant_key(item.sender, region))))
    if item.recipients:
        add(("X-WhatsApp-Recipients", key_list([participant_key(p, region) for p in item.recipients])))
    if item.reply_to is not None:
        add(("X-WhatsApp-Reply-To", x_value(item.reply_to)))
    if item.forwarded is not None:
        add(("X-WhatsApp-Forwarded", "true" if item.forwarded else "false"))
    if item.target_id is not None:
        add(("X-WhatsApp-Target-Id", x_value(item.target_id)))
    if item.emoji is not None:
        add(("X-WhatsApp-Reaction", x_value(item.emoji)) if item.emoji else ("X-WhatsApp-Reaction-Removed", "true"))
    if item.location is not None:
        add(("X-WhatsApp-Location", f"{item.location.latitude!r},{item.location.longitude!r}"))
    if item.call is not None:
        call = item.call
        add(("X-WhatsApp-Call-Media", call.media))
        add(("X-WhatsApp-Call-Status", call.status))
        add(("X-WhatsApp-Call-Started-At", call.started_at.isoformat()))
        add(("X-WhatsApp-Call-Duration-Seconds", str(call.duration_seconds)))
        if call.participants:
            add(("X-WhatsApp-Call-Participants", key_list([participant_key(p, region) for p in call.participants])))
    if item.event is not None:
        add(("X-WhatsApp-Event-Kind", item.event.kind))
        if item.event.detail is not None:
            add(("X-WhatsApp-Event-Detail", x_value(item.event.detail)))
    for p in planned:
        add(("X-WhatsApp-Attachment", attachment_x(p)))
    if any(not p.embedded for p in planned):
        add(("X-WhatsApp-Partial", "true"))
    if repaired:
        add(("X-WhatsApp-Repaired", "lone surrogates replaced by U+FFFD in: " + ", ".join(repaired)))
    add(("X-WhatsApp-Renderer", RENDERER))
    return h


def human(value: str, limit: int = 200) -> str:
    """A header value a person reads: one line, bounded."""
    return one_line(repair(value), limit)
