"""The text/html body: what Outlook shows. Every value from the item is escaped, nothing else is.

Layout, top to bottom: title and one-line headline, notes (partial, repaired), the message as
WhatsApp showed it (``chat_html``: the bubble), then "Evidence": every fact as before. No script,
no external resources, no forms, no styles a mail client would strip: tables for layout and inline
styles only, readable at 600 px (long values wrap) and in dark mode (``color-scheme`` declared,
every colour set with its background). In the evidence the item's text keeps its line breaks
(``white-space: pre-wrap``) and every character; control characters, which HTML cannot carry,
appear as numeric references (NUL as U+FFFD); the text/plain part holds them exactly.
"""

from __future__ import annotations

import html
import re

from shared.domain.record.view import Fact, FileRow, RecordView

# Unicode category Cc (C0 and C1 controls, DEL) but for tab, LF and CR: HTML cannot carry them as text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WRAP = "overflow-wrap:anywhere;word-wrap:break-word;word-break:break-word;"
_CELL = "padding:2px 10px 2px 0;vertical-align:top;"
_PRE = "white-space:pre-wrap;word-wrap:break-word;font-family:inherit;margin:0;" + _WRAP
HEAD = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n<meta name="viewport" content="width=device-width">\n'
        '<meta name="color-scheme" content="light dark"><meta name="supported-color-schemes" content="light dark">')
BODY = ('<body style="margin:0;padding:8px;background-color:#ffffff;color:#111b21;'
        'font-family:Segoe UI,Arial,sans-serif;font-size:14px;">')


def esc(value: str) -> str:
    """html.escape, plus control characters as references: user content can never become markup."""
    text = html.escape(value, quote=True)
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: "&#xFFFD;" if m.group() == "\0" else f"&#x{ord(m.group()):X};", text)


def _fact_row(fact: Fact) -> str:
    value = f'<a href="{esc(fact.href)}">{esc(fact.value)}</a>' if fact.href else esc(fact.value)
    return (f'<tr><th style="{_CELL}text-align:left;color:#555;font-weight:normal;white-space:nowrap;">{esc(fact.label)}</th>'
            f'<td style="{_CELL}{_WRAP}white-space:pre-wrap;">{value}</td></tr>')


def _table(facts: list[Fact]) -> str:
    return '<table style="border-collapse:collapse;">' + "".join(_fact_row(f) for f in facts) + "</table>"


fact_table = _table  # public name for the transcript's own tables


def _file(row: FileRow) -> str:
    facts = [Fact("File", f"{row.name} ({row.role})"),
             Fact("Type", f"{row.content_type} (declared: {row.declared_content_type}); kind: {row.kind}"),
             Fact("Size", f"{row.size:,} bytes"), Fact("SHA-256", row.sha256), Fact("Attachment id", row.attachment_id),
             Fact("Original file name", row.original_name)]
    if row.caption is not None:
        facts.append(Fact("Caption", row.caption))
    if row.embedded:
        facts.append(Fact("Status", "embedded in this record (bytes verified against sha256)"))
    else:
        facts += [Fact("Status", f"NOT EMBEDDED: {row.reason}"), Fact("Original kept at", row.location)]
    return f'<li style="margin-bottom:8px;">{_table(facts)}</li>'


def render_html(view: RecordView, subject: str, chat: str = "") -> str:
    """The whole page; ``chat`` is the message as WhatsApp showed it (``chat_html``), put above the evidence."""
    out = [HEAD, f"<title>{esc(subject)}</title></head>", BODY]
    out += html_block(view, chat)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def html_block(view: RecordView, chat: str = "") -> list[str]:
    """One item's content as HTML lines (title to last section): the whole body of a per-item
    record, and one entry of a transcript."""
    out = [f"<h2 style=\"margin:0 0 4px 0;font-size:18px;\">{esc(view.title)}</h2>",
           f"<p style=\"margin:0 0 12px 0;\">{esc(view.headline)}</p>"]
    for note in view.notes:
        out.append(f'<p style="color:#a00;border:1px solid #a00;padding:4px;{_WRAP}"><b>Note:</b> {esc(note)}</p>')
    if chat:
        out.append(chat)
        out.append('<h3 style="margin:16px 0 4px 0;border-bottom:1px solid #d1d7db;">Evidence</h3>')
    out.append(_table(view.facts))
    for block in view.blocks:
        out.append(f'<h3 style="margin:16px 0 4px 0;">{esc(block.label)}</h3>')
        if block.note:
            out.append(f'<p style="color:#555;margin:0;"><i>{esc(block.note)}</i></p>')
        if block.text:
            out.append(f'<div style="{_PRE}border-left:3px solid #25d366;padding-left:8px;">{esc(block.text)}</div>')
    if view.files:
        out.append(f'<h3 style="margin:16px 0 4px 0;">Attachments ({len(view.files)})</h3><ol>')
        out += [_file(row) for row in view.files]
        out.append("</ol>")
    for section in view.sections:
        out.append(f'<h3 style="margin:16px 0 4px 0;">{esc(section.heading)}</h3>')
        out.append(_table(section.facts))
    return out
