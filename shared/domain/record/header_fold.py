"""Fold an unstructured header (Subject, Thread-Topic, References...) exactly as the stdlib does.

The record's human headers were written by ``email.policy.SMTP``: parse the value into a token
tree, then ``_refold_parse_tree`` / ``_fold_as_ew`` (CPython 3.11) fold it at 78 columns, with
non-ASCII words as RFC 2047 encoded words (Q or B, whichever is shorter, Q preferred by up to 5)
and a preceding encoded word re-encoded together with the words that follow it on its line. That
costs about 0.3 ms a header. This is the same algorithm for the one tree shape our values make
(words separated by single spaces; no other whitespace, no control characters, no ``=?``), so
the bytes are the same; any other value returns None and the caller uses the stdlib.

``tests/domain/test_record_writer.py`` compares it with the stdlib on generated strings.
"""

from __future__ import annotations

import base64
import re
from string import ascii_letters, digits

_MAXLEN = 78
_CRLF = "\r\n"
_CHROME = len("utf-8") + 7  # "=?utf-8?q?" + "?="
# Values this port covers: no whitespace but single inner spaces, no controls, no surrogates,
# nothing the stdlib parser would read as an encoded word.
_NOT_COVERED = re.compile(r"[^\S ]|  |^ | $|=\?|[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_WORDS = re.compile(r"( )")
_Q_SAFE = frozenset((b"-!*+/" + ascii_letters.encode() + digits.encode()))
_Q = {b: (chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}") for b in range(256)}


def _encoded_word(text: str) -> str:
    """``email._encoded_words.encode(text, "utf-8")``: Q unless B is shorter by 5 or more."""
    data = text.encode("utf-8")
    q = "".join([_Q[b] for b in data])
    groups, leftover = divmod(len(data), 3)
    if len(q) - (groups * 4 + (4 if leftover else 0)) < 5:
        return f"=?utf-8?q?{q}?="
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def _steal_trailing_space(lines: list[str]) -> str:
    if lines and lines[-1] and lines[-1][-1] == " ":
        lines[-1] = lines[-1][:-1]
        return " "
    return ""


class _Declined(Exception):
    """A fold this port does not model; the caller uses the stdlib."""


class _Folder:
    """``_refold_parse_tree`` over [label, " ", word, " ", word...] with ``_fold_as_ew``."""

    def __init__(self, name: str):
        self.lines = [name + ": "]
        self.last_ew: int | None = None  # the stdlib's mark: where re-encoding would start
        self.ew_line = -1  # the line holding the last encoded word
        self.ew_start = 0  # where it starts on that line
        self.ew_text = ""  # that word's decoded text
        self.ew_len = 0  # and its encoded length

    def fold_as_ew(self, to_encode: str) -> None:
        lines = self.lines
        if self.last_ew is not None:  # combine: the stdlib decodes lines[-1][last_ew:] and re-encodes
            to_encode = self.decoded_tail() + to_encode
            lines[-1] = lines[-1][:self.last_ew]
        if to_encode[0] == " ":
            to_encode = to_encode[1:]
            if len(lines[-1]) == _MAXLEN:
                lines.append(_steal_trailing_space(lines))
            lines[-1] += " "
        trailing = ""
        if to_encode[-1] == " ":
            trailing = " "
            to_encode = to_encode[:-1]
        new_last_ew = len(lines[-1]) if self.last_ew is None else self.last_ew
        word, text, start = "", "", len(lines[-1])
        while to_encode:
            remaining = _MAXLEN - len(lines[-1])
            space = remaining - _CHROME
            if space <= 0:
                lines.append(" ")
                continue
            text = to_encode[:space]
            word = _encoded_word(text)
            while len(word) > remaining:
                text = text[:-1]
                word = _encoded_word(text)
            start = len(lines[-1])
            lines[-1] += word
            to_encode = to_encode[len(text):]
            if to_encode:
                lines.append(" ")
                new_last_ew = len(lines[-1])
        lines[-1] += trailing
        self.last_ew, self.ew_start, self.ew_text, self.ew_len = new_last_ew, start, text, len(word)
        self.ew_line = len(lines) - 1

    def decoded_tail(self) -> str:
        """``str(get_unstructured(lines[-1][last_ew:]))`` for the shapes this module makes."""
        line, mark = self.lines[-1], self.last_ew
        assert mark is not None
        end = self.ew_start + self.ew_len
        if self.ew_line == len(self.lines) - 1 and mark < end:
            before, after = line[mark:self.ew_start], line[end:]
            if mark > self.ew_start or not self.ew_text or "=?" in before or "=?" in after:
                raise _Declined  # a cut encoded word: leave it to the stdlib
            return before + self.ew_text + after
        tail = line[mark:]
        if "=?" in tail:
            raise _Declined
        return tail

    def add(self, part: str, want_encoding: bool) -> bool:
        """One terminal; returns True when it must be retried encoded (stdlib ``parts.insert``)."""
        lines = self.lines
        if want_encoding or not part.isascii():
            self.fold_as_ew(part)
            return False
        if len(part) <= _MAXLEN - len(lines[-1]):
            lines[-1] += part
            return False
        if len(part) + 1 <= _MAXLEN:
            newline = _steal_trailing_space(lines)
            if newline or part == " ":
                lines.append(newline + part)
                self.last_ew = None
                return False
        return True  # a terminal that may be encoded: "encode it anyway so we can wrap it"


def fold_unstructured(name: str, value: str) -> str | None:
    """``name: value`` folded as ``email.policy.SMTP`` folds an unstructured header, or None
    when ``value`` is not of the covered shape (then use the stdlib)."""
    if not value or _NOT_COVERED.search(value) or len(name) + 2 > _MAXLEN:
        return None
    if value.isascii():
        if len(name) + 2 + len(value) <= _MAXLEN:
            return f"{name}: {value}{_CRLF}"
        if len(value) + 1 <= _MAXLEN:  # the whole value fits on a line of its own
            return f"{name}:{_CRLF} {value}{_CRLF}"
    folder = _Folder(name)
    parts = [p for p in _WORDS.split(value) if p]
    i = 0
    retry = False
    try:
        while i < len(parts):
            retry = folder.add(parts[i], retry)
            if not retry:
                i += 1
    except _Declined:
        return None
    return _CRLF.join(folder.lines) + _CRLF
