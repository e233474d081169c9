"""Masking of phone numbers and user ids for reports, logs and CLI output.

A report or a log line is read by more people than the archive is; it needs enough of a number
to tell two people apart and to find the row in the mapping file (the last four digits), not
the number itself. ``full=True`` (the operator's REPORT_FULL_NUMBERS choice) shows it as is.
"""

from __future__ import annotations

from shared.domain.phones import UID_PREFIX

_KEEP = 4


def _kept(length: int) -> int:
    """How many trailing characters stay visible: four, but never more than half of a short value."""
    return min(_KEEP, length // 2)


def mask_number(value: str, *, full: bool = False) -> str:
    """``+447700900123`` -> ``+********0123``; ``uid:US.1349120865`` -> ``uid:******0865``.

    Digits are masked except the last four; other characters (``+``, spaces, separators, and the
    letters of a mistyped number) stay, so the shape stays recognisable. A user id is masked
    character by character except its last four. Text without digits (a label such as
    "(no usable number)") comes back unchanged. ``full=True`` returns ``value`` untouched.
    """
    if full or not value:
        return value
    if value[: len(UID_PREFIX)].lower() == UID_PREFIX:
        rest = value[len(UID_PREFIX):]
        keep = _kept(len(rest))
        return value[: len(UID_PREFIX)] + "*" * (len(rest) - keep) + rest[len(rest) - keep:]
    total = sum(ch.isdecimal() for ch in value)
    if total == 0:
        return value
    masked_digits = total - _kept(total)
    out: list[str] = []
    seen = 0
    for ch in value:
        if ch.isdecimal():
            seen += 1
            out.append("*" if seen <= masked_digits else ch)
        else:
            out.append(ch)
    return "".join(out)
