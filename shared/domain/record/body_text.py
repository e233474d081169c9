"""The text/plain body: the whole record readable in any viewer, the item's text byte for byte."""

from __future__ import annotations

from shared.domain.record.view import FileRow, RecordView

_WIDTH = 18


def _fact_line(label: str, value: str) -> str:
    return f"{(label + ':').ljust(_WIDTH)}{value}"


def file_lines(row: FileRow) -> list[str]:
    lines = [f"  {row.number}. {row.name} ({row.role})",
             f"     type: {row.content_type} (declared: {row.declared_content_type}); kind: {row.kind}; "
             f"size: {row.size:,} bytes",
             f"     sha256: {row.sha256}",
             f"     attachment id: {row.attachment_id}",
             f"     original file name: {row.original_name}"]
    if row.caption is not None:
        lines.append(f"     caption: {row.caption}")
    if row.embedded:
        lines.append("     embedded in this record (bytes verified against sha256)")
    else:
        lines.append(f"     NOT EMBEDDED: {row.reason}")
        lines.append(f"     original kept at: {row.location}")
    return lines


def render_text(view: RecordView) -> str:
    return "\n".join(text_block(view) + [""])


def text_block(view: RecordView) -> list[str]:
    """One item's content as text lines: the whole body of a per-item record, and one entry of a transcript."""
    out = [view.title, "=" * len(view.title), view.headline, ""]
    out += [f"NOTE: {note}" for note in view.notes]
    if view.notes:
        out.append("")
    out += [_fact_line(f.label, f.value) for f in view.facts]
    for block in view.blocks:
        out += ["", f"--- {block.label} ---"]
        if block.note:
            out.append(f"[{block.note}]")
        if block.text:
            out.append(block.text)
        out.append(f"--- end of {block.label.lower()} ---")
    if view.files:
        out += ["", f"Attachments ({len(view.files)})"]
        for row in view.files:
            out += file_lines(row)
    for section in view.sections:
        out += ["", section.heading, "-" * len(section.heading)]
        out += [_fact_line(f.label, f.value) for f in section.facts]
    return out
