"""WhatsApp's text formatting as safe HTML: what the reviewer sees is what the phone showed.

WhatsApp marks ``*bold*``, ``_italic_``, ``~strike~``, monospace blocks ````` ```x``` ````` and inline
code `` `x` ``. The rules here follow the app: a marker opens at the start of the text or after a
non-word character and is followed by a non-blank; it closes before a non-word character or the
end, after a non-blank; bold, italic and strike stay on one line and nest; nothing is formatted
inside code. Markers that do not pair are shown as typed.

Safety: the text is cut into pieces by these rules and every piece goes through ``esc``; the only
markup is the fixed tags written here, properly nested (inner spans are formatted recursively, at
most ``_MAX_DEPTH`` deep), so no input can produce an attribute, a tag or broken nesting. Line
breaks become ``<br>`` (Outlook's Word engine ignores ``white-space:pre-wrap``); the text/plain part
and the evidence section keep the text exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from shared.domain.record.body_html import esc

_CODE = re.compile(r"```(.+?)```|`([^`\n]+)`", re.DOTALL)
# A span is _OPEN, then the nearest _CLOSE of the same marker at least two characters on, on the same
# line: what r"(?<!\w)([*_~])(?=\S)([^\n]*?\S)\1(?!\w)" matches, found without that pattern's rescan
# of the rest of the line from every opener that never closes (quadratic: seconds on a 64 KB text).
_OPEN = re.compile(r"(?<!\w)[*_~](?=\S)")
_CLOSE = re.compile(r"(?<=\S)[*_~](?!\w)")
_TAGS = {"*": ("<b>", "</b>"), "_": ("<i>", "</i>"), "~": ("<s>", "</s>")}
_MONO = "font-family:Consolas,'Courier New',monospace;font-size:13px;background-color:#f0f2f5;color:#111b21;"
_MAX_DEPTH = 4
_BREAKS = re.compile(r"\r\n|\r|\n")


def _lines(text: str) -> str:
    return _BREAKS.sub("<br>", esc(text))


def _spans(text: str, depth: int) -> str:
    if depth >= _MAX_DEPTH:
        return _lines(text)
    out: list[str] = []
    pos = 0
    for start, end in _span_bounds(text):
        marker, inner = text[start], text[start + 1:end - 1]
        if inner == marker * len(inner):  # "***" or "__": not formatting
            continue
        opening, closing = _TAGS[marker]
        out.append(_lines(text[pos:start]))
        out.append(opening + _spans(inner, depth + 1) + closing)
        pos = end
    out.append(_lines(text[pos:]))
    return "".join(out)


def _span_bounds(text: str):
    """(start, end) of each span, left to right, none overlapping: each opener takes the nearest closer
    of its marker two or more characters on, when no line break comes first."""
    closers: dict[str, list[int]] = {"*": [], "_": [], "~": []}
    for match in _CLOSE.finditer(text):
        closers[match.group()].append(match.start())
    breaks = [m.start() for m in re.finditer("\n", text)]
    pos = 0
    for match in _OPEN.finditer(text):
        start = match.start()
        if start < pos:
            continue
        candidates = closers[match.group()]
        i = bisect_left(candidates, start + 2)
        if i == len(candidates):
            continue
        close = candidates[i]
        line_break = bisect_left(breaks, start)
        if line_break < len(breaks) and breaks[line_break] < close:
            continue
        yield start, close + 1
        pos = close + 1


def whatsapp_html(text: str) -> str:
    """The text as WhatsApp shows it, as HTML safe to put inside any element."""
    out: list[str] = []
    pos = 0
    for match in _CODE.finditer(text):
        out.append(_spans(text[pos:match.start()], 0))
        if match.group(1) is not None:
            out.append(f'<span style="{_MONO}">{_lines(match.group(1))}</span>')
        else:
            out.append(f'<code style="{_MONO}">{esc(match.group(2))}</code>')
        pos = match.end()
    out.append(_spans(text[pos:], 0))
    return "".join(out)
