"""The text/html body: what Outlook shows. Every value from the item is escaped, nothing else is.

No script, no external resources, no styles a mail client would strip: inline styles only. The
item's text keeps its line breaks (``white-space: pre-wrap``) and every character; control
characters, which HTML cannot carry, appear as numeric references (NUL as U+FFFD); the
text/plain part holds them exactly.
"""

from __future__ import annotations

import html
import unicodedata

from shared.domain.record.view import Fact, FileRow, RecordView

_CELL = "padding:2px 10px 2px 0;vertical-align:top;"
_PRE = "white-space:pre-wrap;word-wrap:break-word;font-family:inherit;margin:0;"


def esc(value: str) -> str:
    """html.escape, plus control characters as references: user content can never become markup."""
    text = html.escape(value, quote=True)
    if not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        return text
    return "".join(
        ("&#xFFFD;" if ch == "\0" else f"&#x{ord(ch):X};") if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" else ch
        for ch in text
    )


def _fact_row(fact: Fact) -> str:
    value = f'<a href="{esc(fact.href)}">{esc(fact.value)}</a>' if fact.href else esc(fact.value)
    return (f'<tr><th style="{_CELL}text-align:left;color:#555;font-weight:normal;">{esc(fact.label)}</th>'
            f'<td style="{_CELL}white-space:pre-wrap;">{value}</td></tr>')


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


def render_html(view: RecordView, subject: str) -> str:
    out = ['<!DOCTYPE html>', '<html><head><meta charset="utf-8">', f"<title>{esc(subject)}</title></head>",
           '<body style="font-family:Segoe UI,Arial,sans-serif;font-size:14px;">']
    out += html_block(view)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def html_block(view: RecordView) -> list[str]:
    """One item's content as HTML lines (title to last section): the whole body of a per-item
    record, and one entry of a transcript."""
    out = [f"<h2 style=\"margin:0 0 4px 0;\">{esc(view.title)}</h2>", f"<p style=\"margin:0 0 12px 0;\">{esc(view.headline)}</p>"]
    for note in view.notes:
        out.append(f'<p style="color:#a00;border:1px solid #a00;padding:4px;"><b>Note:</b> {esc(note)}</p>')
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
