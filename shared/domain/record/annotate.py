"""Headers the pipeline adds to a rendered record: facts about how it was archived, not the item.

``render_record`` renders the item; what the pipeline learned on the way (that the source re-sent
an item with different content, where each mailbox's mapping came from) is added to the finished
.eml here, in ``X-WhatsApp-*`` headers, without re-rendering anything else. Pure and deterministic:
the same record and facts give the same bytes.
"""

from __future__ import annotations

from email.header import Header

RESENT_NOTE = "the source re-sent this item with different content"


def _encode(name: str, value: str, sep: bytes) -> bytes:
    try:
        value.encode("ascii")
        charset = "us-ascii"
    except UnicodeEncodeError:
        charset = "utf-8"
    line = Header(value, charset=charset, header_name=name).encode(linesep=sep.decode())
    return f"{name}: {line}".encode("ascii") + sep


def add_headers(eml: bytes, headers: list[tuple[str, str]], *, reference: str | None = None) -> bytes:
    """``eml`` with ``headers`` added to its top-level header block; ``reference`` (a Message-ID)
    appended to its References (and made its In-Reply-To when it has none)."""
    sep = b"\r\n" if b"\r\n" in eml[:4096] else b"\n"
    end = eml.find(sep + sep)
    if end < 0:
        raise ValueError("not an RFC 5322 message: no end of the header block")
    head, body = eml[:end + len(sep)], eml[end + len(sep):]
    lines = head.split(sep)[:-1]
    if reference:
        ref = reference.encode("ascii")
        at = next((i for i, line in enumerate(lines) if line.lower().startswith(b"references:")), None)
        if at is None:
            lines.append(b"References: " + ref)
        else:
            last = at
            while last + 1 < len(lines) and lines[last + 1][:1] in (b" ", b"\t"):
                last += 1
            lines.insert(last + 1, b" " + ref)
        if not any(line.lower().startswith(b"in-reply-to:") for line in lines):
            lines.append(b"In-Reply-To: " + ref)
    added = b"".join(_encode(name, value, sep) for name, value in headers)
    return sep.join(lines) + sep + added + body
