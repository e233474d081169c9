"""Read an RFC 5322 record (.eml) into what a Graph JSON create needs. Stdlib ``email`` only.

Robust to any valid MIME: the body is the first text/html part (else text/plain) that is not an
attachment; every other leaf part (nested multiparts walked; a message/rfc822 part kept whole)
becomes an attachment, with a generated name when it has none.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import _encoded_words, policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Address:
    name: str
    address: str


@dataclass(frozen=True)
class Part:
    name: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass
class Record:
    subject: str = ""
    body: str = ""
    body_is_html: bool = True
    sender: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    date: datetime | None = None  # aware, UTC
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    attachments: list[Part] = field(default_factory=list)


# ------------------------------------------------------------------ headers, the cheap way
# ``policy.default`` builds a header object through the HeaderRegistry (a new class per header, a
# full RFC 5322 parse tree) on every get; that was most of this module's CPU. The policy below
# answers the few headers read here for plain values (printable ASCII, whole RFC 2047 encoded words,
# simple address lists, simple MIME parameters) with a str carrying the same value and the same
# attributes the registry's object would have. Anything else (comments, groups, RFC 2231, 8-bit
# bytes, encoded words inside words or quoted strings, ...) goes to the stdlib registry, unchanged.
# tests/graph/test_record_parse_equivalence.py holds both to the same Record.

_PRINTABLE = re.compile(r"[\x20-\x7e\t]*\Z")
_WSP_SPLIT = re.compile(r"([ \t]+)")
_EW = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=\Z")
_HEX = frozenset("0123456789abcdefABCDEF")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = _ATEXT + r"+(?:\." + _ATEXT + r"+)*"
_MSG_ID = re.compile(r"[ \t]*<" + _DOT_ATOM + "@" + _DOT_ATOM + r">[ \t]*\Z")
_ADDR_SPEC = "(" + _DOT_ATOM + ")@(" + _DOT_ATOM + ")"
# one mailbox: an optional display name (atoms, whole encoded words, or one quoted string) and
# <addr-spec>, or a bare addr-spec; the display name is checked word by word below
_MAILBOX = re.compile(r"[ \t]*(?:((?:[^\s<>,\"]+[ \t]+)+|\"(?:[^\"\\\r\n]|\\[\x20-\x7e])*\"[ \t]*)?<"
                      + _ADDR_SPEC + r">|" + _ADDR_SPEC + r")[ \t]*(,|\Z)")
_ATOM = re.compile(_ATEXT + r"+\Z")
_TOKEN = r"[A-Za-z0-9!#$%&'+.^_`{|}~-]+"
# the form str(ContentTypeHeader) keeps as it is: '; ' between parameters, every value quoted
_MIME = re.compile(r"(" + _TOKEN + r")(?:/" + _TOKEN + r")?(?:; " + _TOKEN + r"=\"[\x20\x21\x23-\x5b\x5d-\x7e]*\")*\Z")


def _encoded_word(token: str) -> str | None:
    """The decoded text of a whole encoded word, when the stdlib would decode it the same way."""
    if not _EW.match(token):
        return None
    # the stdlib ends the word at the first '?=' (unless it is an '=XX' escape): it must be ours
    tok, _sep, rest = token[2:].partition("?=")
    if len(rest) > 1 and rest[0] in _HEX and rest[1] in _HEX and tok.count("?") < 2:
        more, _sep, rest = rest.partition("?=")
        tok = tok + "?=" + more
    if rest:
        return None
    try:
        text, _charset, _lang, defects = _encoded_words.decode(token)
    except (ValueError, KeyError, LookupError):
        return None
    if defects or _has_surrogates(text):
        return None
    return text


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstructured(value: str) -> str | None:
    """What UnstructuredHeader decodes ``value`` to; None when it is not plain enough to be sure."""
    if "=?" not in value:
        return value if _PRINTABLE.match(value) else None
    if not _PRINTABLE.match(value):
        return None
    out: list[str] = []
    kinds: list[str] = []  # 'ws', 'ew', 'text' for each piece
    for i, piece in enumerate(_WSP_SPLIT.split(value)):
        if not piece:
            continue
        if i % 2:
            out.append(piece)
            kinds.append("ws")
            continue
        if piece.startswith("=?"):
            text = _encoded_word(piece)
            if text is None:
                return None
            if len(kinds) > 1 and kinds[-1] == "ws" and kinds[-2] == "ew":
                out[-1] = ""  # whitespace between two encoded words is not part of the text
            out.append(text)
            kinds.append("ew")
        elif "=?" in piece:
            return None
        else:
            out.append(piece)
            kinds.append("text")
    return "".join(out)


class _Value(str):
    """A header's decoded value, as the registry's header object would str() to."""


class _Addresses(str):
    addresses: tuple


class _Date(str):
    datetime: datetime | None


class _Disposition(str):
    content_disposition: str | None


@dataclass(frozen=True)
class _Mailbox:
    display_name: str
    addr_spec: str


def _display_name(phrase: str) -> str | None:
    phrase = phrase.strip(" \t")
    if phrase.startswith('"'):
        inner = phrase[1:-1]
        if "=?" in inner:
            return None
        return re.sub(r"\\(.)", r"\1", inner)
    words = []
    for word in phrase.split():
        if word.startswith("=?"):
            text = _encoded_word(word)
            if text is None or not text.isprintable():  # spaces only: no tabs, controls or line breaks
                return None
            words.append(re.sub(" +", " ", text))
        elif _ATOM.match(word) and "=?" not in word:
            words.append(word)
        else:
            return None
    return " ".join(words)


def _address_list(value: str) -> _Addresses | None:
    if not _PRINTABLE.match(value) or not value.strip(" \t"):
        return None
    mailboxes = []
    pos, end = 0, len(value)
    while pos < end:
        m = _MAILBOX.match(value, pos)
        if m is None:
            return None
        phrase, local, domain, bare_local, bare_domain, comma = m.groups()
        if "=?" in (local or bare_local) or "=?" in (domain or bare_domain):
            return None  # the stdlib tries such an address as an encoded word (and may fail on it)
        if local is None:
            mailboxes.append(_Mailbox("", f"{bare_local}@{bare_domain}"))
        else:
            name = _display_name(phrase) if phrase else ""
            if name is None:
                return None
            mailboxes.append(_Mailbox(name, f"{local}@{domain}"))
        pos = m.end()
        if comma and pos >= end:
            return None  # a trailing comma: an empty list element
    out = _Addresses(value)
    out.addresses = tuple(mailboxes)
    return out


def _date(value: str) -> _Date | None:
    if not value.isascii():
        return None
    out = _Date(value)
    try:
        out.datetime = parsedate_to_datetime(value) if value else None
    except ValueError:
        out.datetime = None
    return out


def _mime(value: str) -> _Value | None:
    return _Value(value) if _MIME.match(value) and "=?" not in value else None


def _disposition(value: str) -> _Disposition | None:
    m = _MIME.match(value)
    if m is None or "=?" in value or value[m.end(1):m.end(1) + 1] == "/":
        return None
    out = _Disposition(value)
    out.content_disposition = m.group(1).lower()
    return out


def _msg_id(value: str) -> _Value | None:
    return _Value(value) if _MSG_ID.match(value) and "=?" not in value else None


def _text(value: str) -> _Value | None:
    text = _unstructured(value)
    return None if text is None else _Value(text)


_FAST = {"subject": _text, "in-reply-to": _text, "references": _text, "content-id": _text,
         "message-id": _msg_id, "date": _date, "from": _address_list, "to": _address_list,
         "cc": _address_list, "content-type": _mime, "content-disposition": _disposition,
         "content-transfer-encoding": _mime}
_LINESEP = re.compile(r"\n|\r")


class _ReadPolicy(EmailPolicy):
    """policy.default, reading the headers above without the HeaderRegistry when they are plain."""

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return value
        value = "".join(_LINESEP.split(value))
        fast = _FAST.get(name.lower())
        if fast is not None:
            out = fast(value)
            if out is not None:
                return out
        return self.header_factory(name, value)


_PARSER = BytesParser(policy=_ReadPolicy())


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


def parse_record(eml: bytes) -> Record:
    return record_of(_PARSER.parsebytes(eml))  # type: ignore[arg-type]


def record_of(msg: EmailMessage) -> Record:
    """The Record of a parsed message (any policy whose headers carry the registry's attributes)."""
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
