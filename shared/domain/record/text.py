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


# The same predicates as tables and a regex, for whole strings at C speed (a per-character Python
# loop was a fifth of the render time). Cc is exactly U+0000-U+001F and U+007F-U+009F (a stable
# Unicode property); every str.isspace() character is below U+3001. tests/domain/test_text_tables.py
# checks both against is_control/isspace over all of Unicode.
_CONTROLS = "\x00-\x1f\x7f-\x9f" + _LINE_BREAKS
_TO_SPACE = {c: " " for c in range(0x3001) if is_control(chr(c)) or chr(c).isspace()}
_ONE_LINE = {**_TO_SPACE, **{ord(ch): None for ch in BIDI_CONTROLS}}
_SPACES = re.compile(r" {2,}")
_TO_ESCAPE = re.compile(f"%|=(?=\\?)|[{_CONTROLS}]")


def _percent(match: re.Match) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8"))


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut is marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def one_line(text: str | None, limit: int = 200, *, drop_bidi: bool = True) -> str:
    """For human-facing headers (Subject, display names): controls become spaces, runs collapse."""
    if not text:
        return ""
    text = _SPACES.sub(" ", repair(text).translate(_ONE_LINE if drop_bidi else _TO_SPACE)).strip()
    # "=?" could open an RFC 2047 encoded word that a reader would decode (into CR/LF, even):
    # an invisible word joiner keeps it literal text.
    return shorten(text.replace("=?", "=\u2060?"), limit)


def escape_value(text: str) -> str:
    """For machine-facing X- headers: percent-escape '%', every control character, and '=' before '?'.

    Reversible with ``urllib.parse.unquote``: the exact value (CR, LF, NUL included) can be read
    back, while the header stays one logical line.
    """
    # '=' before '?' is escaped too: "=?...?=" must never reach a reader as an encoded word
    value = _TO_ESCAPE.sub(_percent, repair(text))
    # folding and parsing may eat whitespace at either end: keep it visible, hence exact
    stripped = value.strip(" ")
    if stripped != value:
        lead = len(value) - len(value.lstrip(" "))
        trail = len(value) - len(value.rstrip(" "))
        value = "%20" * lead + stripped + "%20" * trail if stripped else "%20" * len(value)
    return value
