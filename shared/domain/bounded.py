"""Bounded, printable forms of values a source controls (ids, reasons), for tables and logs.

A hostile or broken feed can send an id of 70,000 characters or one holding line breaks. Table
storage refuses a property over 64 KB (a whole window would fail on it) and a raw line break in a
log line forges a new line. Everything a source controls goes through one of these on its way
to a table row or a log line: shortened with a hash of the whole (so two long values that share
a prefix still differ, and the full value can be matched against the raw item), and escaped.
"""

from __future__ import annotations

import hashlib

TABLE_CHARS = 4000  # per string property: far under Table storage's 64 KB (32K UTF-16 units)
LOG_CHARS = 160  # per value in one log line
ID_CHARS = 256  # an item id longer than this is not one the contract allows (200): kept bounded


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def bounded(value: str, limit: int = TABLE_CHARS) -> str:
    """``value`` itself when short enough, else its head and ``…[N chars sha256:X]`` (no comma or semicolon: lists of them stay splittable), at most ``limit`` chars."""
    if len(value) <= limit:
        return value
    tail = f"…[{len(value)} chars sha256:{digest(value)}]"
    return value[: max(0, limit - len(tail))] + tail


def _printable(text: str) -> str:
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c.isprintable():
            out.append(c)
        else:  # controls, line and paragraph separators, lone surrogates, ...
            n = ord(c)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")
    return "".join(out)


def for_log(value: object, limit: int = LOG_CHARS) -> str:
    """One value as it may appear inside a log line: escaped (no line breaks, no controls) and bounded."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return _printable(text)
    tail = f"…[{len(text)} chars sha256:{digest(text)}]"
    return _printable(text[: max(0, limit - len(tail))]) + tail
