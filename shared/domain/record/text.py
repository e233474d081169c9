"""Text hygiene shared by every part of the record: repair, single-line, bounded, reversible escapes.

Why here: a header is the one place where a hostile string can change the *structure* of the
message (CR/LF starts a new header, NUL breaks parsers), so every header value goes through one of
these functions. Bodies carry the text exactly (base64 parts); only lone surrogates, which cannot
be encoded as UTF-8 at all, are replaced (by U+FFFD, and the record says so in a header).
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"
ELLIPSIS = "\u2026"

# Everything str.splitlines() (and so some header code) treats as a line break, plus C0/C1/DEL.
_LINE_BREAKS = "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"
# Bidi controls: harmless in a body, but they make a file name or display name lie about itself.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def repair(text: str) -> str:
    """The text with valid surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if not has_surrogates(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _LINE_BREAKS


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut is marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def one_line(text: str | None, limit: int = 200, *, drop_bidi: bool = True) -> str:
    """For human-facing headers (Subject, display names): controls become spaces, runs collapse."""
    if not text:
        return ""
    out = []
    for ch in repair(text):
        if is_control(ch) or ch.isspace():
            out.append(" ")
        elif drop_bidi and ch in BIDI_CONTROLS:
            continue
        else:
            out.append(ch)
    text = re.sub(r" {2,}", " ", "".join(out)).strip()
    # "=?" could open an RFC 2047 encoded word that a reader would decode (into CR/LF, even):
    # an invisible word joiner keeps it literal text.
    return shorten(text.replace("=?", "=\u2060?"), limit)


def escape_value(text: str) -> str:
    """For machine-facing X- headers: percent-escape '%', every control character, and '=' before '?'.

    Reversible with ``urllib.parse.unquote``: the exact value (CR, LF, NUL included) can be read
    back, while the header stays one logical line.
    """
    out = []
    text = repair(text)
    for i, ch in enumerate(text):
        # '=' before '?' is escaped too: "=?...?=" must never reach a reader as an encoded word
        if ch == "%" or is_control(ch) or (ch == "=" and text[i + 1:i + 2] == "?"):
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    value = "".join(out)
    # folding and parsing may eat whitespace at either end: keep it visible, hence exact
    stripped = value.strip(" ")
    if stripped != value:
        lead = len(value) - len(value.lstrip(" "))
        trail = len(value) - len(value.rstrip(" "))
        value = "%20" * lead + stripped + "%20" * trail if stripped else "%20" * len(value)
    return value
