"""Headers the pipeline adds to a rendered record: facts about how it was archived, not the item.

``render_record`` renders the item; what the pipeline learned on the way (that the source re-sent
an item with different content, where each mailbox's mapping came from) is added to the finished
.eml here, in ``X-WhatsApp-*`` headers, without re-rendering anything else. Pure and deterministic:
the same record and facts give the same bytes.
"""

from __future__ import annotations

from shared.domain.record.headers import folded_x, x_value

RESENT_NOTE = "the source re-sent this item with different content"


def _encode(name: str, value: str, sep: bytes) -> bytes:
    """As the renderer writes its X-WhatsApp-* headers: escaped (a CR or LF in an item id can neither
    end the header nor make the stdlib refuse it) and pre-folded, reading back exactly."""
    lines = folded_x(name, x_value(value)).splitlines()
    return (f"{name}: " + sep.decode().join(lines)).encode("ascii") + sep


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
