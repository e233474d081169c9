"""The reference reader: ``parse_record`` as it was, every header through ``policy.default``.

``shared.adapters.graph.record.parse_record`` must give the same Record for every input
(tests/graph/test_record_parse_equivalence.py); ``python -m devtools.bench parse`` times both.
Production never reads a record this way. What it reads:

Robust to any valid MIME: the body is the first text/html part (else text/plain) that is not an
attachment; every other leaf part (nested multiparts walked; a message/rfc822 part kept whole)
becomes an attachment, with a generated name when it has none.
"""

from __future__ import annotations

import mimetypes
from datetime import timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from shared.adapters.graph.record import Address, Record, Part


def _clean(value) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _addresses(msg: EmailMessage, header: str) -> list[Address]:
    out: list[Address] = []
    for value in msg.get_all(header) or []:
        try:
            for a in value.addresses:
                if a.addr_spec and a.addr_spec != "<>":
                    out.append(Address(a.display_name or "", a.addr_spec))
        except (AttributeError, IndexError, ValueError):
            text = _clean(value)
            if text:
                out.append(Address("", text))
    return out


def _leaves(part: EmailMessage):
    if part.get_content_type() == "message/rfc822":
        yield part
    elif part.is_multipart():
        for sub in part.iter_parts():
            yield from _leaves(sub)
    else:
        yield part


def _bytes_of(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else part.get_payload()
        if isinstance(inner, EmailMessage):
            return inner.as_bytes(policy=policy.SMTP)
        return str(inner).encode()
    data = part.get_payload(decode=True)
    return data if data is not None else b""


def parse_record_reference(eml: bytes) -> Record:
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(eml)  # type: ignore[assignment]
    rec = Record()
    rec.subject = _clean(msg.get("Subject")) or ""
    senders = _addresses(msg, "From")
    rec.sender = senders[0] if senders else None
    rec.to = _addresses(msg, "To")
    rec.cc = _addresses(msg, "Cc")
    rec.message_id = _clean(msg.get("Message-ID"))
    rec.in_reply_to = _clean(msg.get("In-Reply-To"))
    rec.references = _clean(msg.get("References"))
    date_header = msg.get("Date")
    if date_header is not None:
        dt = getattr(date_header, "datetime", None)
        if dt is not None:
            rec.date = (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)

    body_part = msg.get_body(preferencelist=("html", "plain"))
    alt_parts: set[int] = set()
    if body_part is not None:
        rec.body_is_html = body_part.get_content_type() == "text/html"
        try:
            rec.body = body_part.get_content()
        except (LookupError, UnicodeError):
            rec.body = (body_part.get_payload(decode=True) or b"").decode("utf-8", "replace")
        alt_parts.add(id(body_part))
        # the plain-text alternative of an html body is the same content, not an attachment
        plain = msg.get_body(preferencelist=("plain",))
        if plain is not None and plain is not body_part and plain.get_content_disposition() != "attachment":
            alt_parts.add(id(plain))
    else:
        rec.body_is_html = False

    n = 0
    for part in _leaves(msg):
        if id(part) in alt_parts or part is msg and body_part is msg:
            continue
        n += 1
        ctype = part.get_content_type()
        name = part.get_filename()
        if not name:
            ext = ".eml" if ctype == "message/rfc822" else (mimetypes.guess_extension(ctype) or ".bin")
            name = f"attachment-{n}{ext}"
        cid = part.get("Content-ID")
        rec.attachments.append(Part(name=str(name), content_type=ctype, data=_bytes_of(part),
                                    inline=part.get_content_disposition() == "inline" and bool(cid),
                                    content_id=str(cid).strip().strip("<>") if cid else None))
    return rec
