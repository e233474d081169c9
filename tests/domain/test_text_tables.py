"""one_line and escape_value (table/regex forms) give what the per-character definitions give."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.record.text import (BIDI_CONTROLS, _ONE_LINE, _TO_ESCAPE, _TO_SPACE, escape_value, is_control,
                                       one_line, repair, shorten)


def one_line_by_char(text: str | None, limit: int = 200, *, drop_bidi: bool = True) -> str:
    """The definition: controls and whitespace become spaces, bidi controls go, runs collapse."""
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
    return shorten(text.replace("=?", "=\u2060?"), limit)


def escape_by_char(text: str) -> str:
    """The definition: '%', every control character and '=' before '?' percent-escaped; edge spaces kept as %20."""
    out = []
    text = repair(text)
    for i, ch in enumerate(text):
        if ch == "%" or is_control(ch) or (ch == "=" and text[i + 1:i + 2] == "?"):
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    # the spaces at either end, and only those, are written %20 (written independently of text.py's arithmetic)
    lead, middle, trail = re.fullmatch(r"( *)(.*?)( *)", "".join(out), re.DOTALL).groups()
    return "%20" * len(lead) + middle + "%20" * len(trail)


def test_tables_match_the_predicates_over_all_of_unicode() -> None:
    for c in range(0x110000):
        ch = chr(c)
        spaced = is_control(ch) or ch.isspace()
        assert (_TO_SPACE.get(c) == " ") == spaced, hex(c)
        assert (c in _ONE_LINE) == (spaced or ch in BIDI_CONTROLS), hex(c)
        if 0xD800 <= c <= 0xDFFF:
            continue
        assert (_TO_ESCAPE.fullmatch(ch) is not None) == (ch == "%" or is_control(ch)), hex(c)


SPECIAL = st.sampled_from(["%", "=", "?", "=?", "\r\n", "\0", "\x85", "\u2028", "\u202e", "\u200e", "\ud800", "\udc00",
                           "\ud83d\udc4d", "\t", "\x0b", "\x7f", "\x9f", "\u3000", "\xa0", " ", "  ", "\U0001F44D"])
TEXT = st.lists(st.one_of(st.text(max_size=8), SPECIAL), max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(TEXT, st.integers(0, 60), st.booleans())
def test_one_line_equals_its_definition(text: str, limit: int, drop_bidi: bool) -> None:
    assert one_line(text, limit, drop_bidi=drop_bidi) == one_line_by_char(text, limit, drop_bidi=drop_bidi)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_escape_value_equals_its_definition(text: str) -> None:
    assert escape_value(text) == escape_by_char(text)


def test_escape_value_keeps_edge_spaces_visible() -> None:
    assert escape_value("  a b ") == "%20%20a b%20"
    assert escape_value("   ") == "%20%20%20"
    assert escape_value(" =?x?= ") == "%20%3D?x?=%20"
