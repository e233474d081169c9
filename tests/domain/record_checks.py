"""Checks shared by the record tests: parse a record back and find every item field in it."""

from __future__ import annotations

import email
import hashlib
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import unquote

from shared.domain.items import Item
from shared.domain.record.text import repair


def parse(eml: bytes) -> EmailMessage:
    msg = email.message_from_bytes(eml, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def x_header(msg, name: str) -> str | None:
    """An X-WhatsApp-* value, exact: unfolded, stripped, percent-escapes undone."""
    value = msg.get(name)
    return None if value is None else unquote(str(value).strip(" \t"))


def x_headers(msg, name: str) -> list[str]:
    return [unquote(str(v).strip(" \t")) for v in msg.get_all(name) or []]


def text_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain body"
    return part.get_content()


def html_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None, "no text/html body"
    return part.get_content()


def file_parts(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.iter_attachments() if p.get("X-WhatsApp-Omitted") is None]


def omitted_parts(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.iter_attachments() if p.get("X-WhatsApp-Omitted") is not None]


def corpus(msg: EmailMessage) -> str:
    """Everything a reviewer or a tool can read back: body text, omitted notices, all header values."""
    chunks = [text_body(msg)]
    for part in msg.walk():
        for name, value in part.items():
            chunks.append(unquote(str(value).strip(" \t")) if name.lower().startswith("x-whatsapp") else str(value))
    for part in omitted_parts(msg):
        chunks.append(part.get_content())
    return "\n".join(chunks)


def _leaves(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def assert_recoverable(item: Item, msg: EmailMessage) -> None:
    """Every field of the item can be read back from the record (headers or body)."""
    text = corpus(msg)
    for path, value in _leaves(item.model_dump(mode="python")):
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            expected = [("true" if value else "false"), ("yes" if value else "no")]
        elif isinstance(value, datetime):
            expected = [value.isoformat()]
        elif isinstance(value, float):
            expected = [repr(value)]
        elif isinstance(value, int):
            expected = [str(value), f"{value:,}"]
        else:
            expected = [repair(value)]
        assert any(e in text for e in expected), f"{path}={value!r} not found in the record"


def assert_files_verified(msg: EmailMessage) -> None:
    for part in file_parts(msg):
        data = part.get_payload(decode=True) or b""
        assert hashlib.sha256(data).hexdigest() == str(part["X-WhatsApp-Sha256"]).strip()


def assert_raw_sound(eml: bytes) -> None:
    """7-bit, CRLF only, lines within 998 octets, no NUL, every header line a header or a fold."""
    assert eml.isascii()
    assert b"\0" not in eml
    assert b"\n" not in eml.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in eml.replace(b"\r\n", b""), "bare CR"
    for line in eml.split(b"\r\n"):
        assert len(line) <= 998
    head = eml.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or re.match(rb"^[!-9;-~]+:", line), line[:80]


def assert_headers_single_line(eml: bytes) -> None:
    """Raw form sound, each header's unfolded value has no CR/LF/NUL, nothing injected, no defects."""
    assert_raw_sound(eml)
    msg = parse(eml)
    for part in msg.walk():
        for name, value in part.items():
            assert "\r" not in str(value) and "\n" not in str(value) and "\0" not in str(value), name
            assert not name.startswith(" ")
        assert not part.defects, part.defects


# --------------------------------------------------------------------------- what a reviewer's client loads
_FORBIDDEN_TAGS = {"script", "iframe", "frame", "object", "embed", "applet", "form", "input", "button", "select",
                   "textarea", "link", "style", "base", "svg", "math", "video", "audio", "source", "track"}
_VOID = {"meta", "br", "hr", "img", "wbr"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.stack: list[str] = []
        self.cids: list[str] = []
        self.images = 0

    def handle_starttag(self, tag, attrs) -> None:
        self._check(tag, attrs)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        self._check(tag, attrs)

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        values = dict(attrs)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name} on <{tag}>")
            if name in ("src", "srcset", "background", "poster", "data", "action", "formaction", "lowsrc", "dynsrc"):
                if not (name == "src" and tag == "img" and value.startswith("cid:")):
                    self.problems.append(f"{name}={value[:60]!r} on <{tag}> (only cid: pictures may load)")
            if name == "href" and not (value.startswith("#") or value.startswith("https://")):
                self.problems.append(f"href={value[:60]!r} (only https links and anchors)")
            if name == "style" and re.search(r"url\s*\(|@import|expression\s*\(", value, re.IGNORECASE):
                self.problems.append(f"style loads something: {value[:60]!r}")
            if tag == "meta" and name == "http-equiv":
                self.problems.append("meta http-equiv")
        if tag == "img":
            self.images += 1
            if not (values.get("alt") or "").strip():
                self.problems.append("<img> without alt text")
            if (values.get("src") or "").startswith("cid:"):
                self.cids.append(values["src"][4:])


def assert_html_safe(page: str, msg: EmailMessage) -> int:
    """No external resource, script, form or event handler; every image has alt text and a cid: that is a
    part of this same record; tags balanced. Returns the number of images."""
    checker = _Page()
    checker.feed(page)
    checker.close()
    assert not checker.problems, checker.problems[:5]
    assert not checker.stack, f"unclosed: {checker.stack[-5:]}"
    content_ids = {str(p["Content-ID"]).strip().strip("<>") for p in msg.walk() if p["Content-ID"] is not None}
    for cid in checker.cids:
        assert cid in content_ids, f"cid:{cid} does not resolve to a part of this record"
    return checker.images
