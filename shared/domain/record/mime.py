"""The record's MIME tree, deterministic to the byte.

``assemble`` writes the bytes directly (``mime_writer``). The reference built with the stdlib
``email`` package (``EmailMessage`` and its generator) lives with the tests as their oracle
(tests/domain/mime_reference.py; tests/domain/test_record_writer.py compares the two).

Layout::

    multipart/mixed                      (only when the item has files)
      multipart/alternative
        text/plain; charset=utf-8        base64
        text/html; charset=utf-8         base64
      <file parts>                       base64, Content-Disposition: attachment; filename*=RFC 2231
                                         (pictures shown inline also carry a Content-ID, ``cid:`` in the HTML)
      text/plain "<name>.omitted.txt"    one per file left out (partial record)

Every part is base64: the text keeps every byte (lone CR, NUL, zero-width, RTL), and no line of
content can ever look like a boundary. Boundaries come from the item id (``ids.boundary``).
"""

from __future__ import annotations

from shared.domain.record.addresses import ResolvedAddress
from shared.domain.record.attachments import REASON_TEXT, PlannedFile
from shared.domain.record.filenames import MAX_NAME


def omitted_name(planned: PlannedFile) -> str:
    suffix = ".omitted.txt"
    return planned.file_name[: MAX_NAME - len(suffix)] + suffix


def omitted_text(planned: PlannedFile, location: str) -> str:
    att = planned.attachment
    lines = [
        "This file is part of the WhatsApp item but is NOT embedded in this archive record.",
        "",
        f"File name:          {planned.file_name}",
        f"Original file name: {att.file_name}",
        f"Content type:       {att.content_type}",
        f"Kind:               {att.kind}",
        f"Size:               {att.size} bytes",
        f"SHA-256:            {att.sha256}",
        f"Attachment id:      {att.id}",
        f"Reason:             {REASON_TEXT[planned.reason or 'unavailable']}",
        f"Original kept at:   {location}",
    ]
    if att.caption is not None:
        lines.append(f"Caption:            {att.caption}")
    return "\r\n".join(lines) + "\r\n"


def assemble(*, item_id: str, sender: ResolvedAddress, recipients: list[ResolvedAddress],
             headers: list[tuple[str, str]], text: str, html: str, planned: list[PlannedFile],
             locations: list[str]) -> bytes:
    """The record's bytes, written directly: exactly what the stdlib reference (tests/domain/mime_reference.py) gives."""
    from shared.domain.record.mime_writer import write_record

    return write_record(item_id=item_id, sender=sender, recipients=recipients, headers=headers, text=text,
                        html=html, planned=planned, locations=locations)
