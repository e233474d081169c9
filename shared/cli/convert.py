"""`python -m shared convert ITEM.json`: print the .eml record of one feed item. No storage, no network.

    python -m shared convert ITEM.json [--attachments DIR] [--html OUT.html] [--timezone ZONE]
                                        [--region CC] [--max-item-bytes N] [--output OUT.eml]

- Attachment bytes come from ``--attachments DIR``: a file named after the attachment id, else
  after its sha256. Without it (or when neither file exists) every file is named as unavailable.
  Bytes that do not hash to the item's sha256 are never embedded (the renderer checks).
- Without the mapping file and directory, a participant's address is its ``email`` property when
  it has one (what the pipeline falls back to), else its reserved ``whatsapp.invalid`` address.
- Exit status: 0 printed; 1 the item is rejected (reason on stderr); 2 a file cannot be read or written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.domain.items import Attachment, ItemRejected, Participant, parse_item
from shared.domain.record import RenderOptions, render_record
from shared.domain.record.options import MiB


class DirectoryAttachments:
    """AttachmentSource over a local folder: ``DIR/<attachment id>`` or ``DIR/<sha256>``."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()

    def _candidate(self, name: str) -> Path | None:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            return None
        path = self.folder / name
        return path if path.is_file() and path.resolve().parent == self.folder else None

    def read(self, attachment: Attachment) -> bytes | None:
        for name in (attachment.id, attachment.sha256):
            try:
                path = self._candidate(name)
            except (OSError, ValueError):
                continue
            if path is not None:
                return path.read_bytes()
        return None


def email_property(participant: Participant) -> str | None:
    return participant.email.strip() if participant.email and participant.email.strip() else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared convert",
                                     description="Print the .eml record of one WhatsApp feed item (no storage, no network).")
    parser.add_argument("item", help="the item's JSON file ('-' for stdin)")
    parser.add_argument("--attachments", metavar="DIR", help="folder of attachment bytes, named by attachment id or sha256")
    parser.add_argument("--html", metavar="OUT.html", help="also write the HTML body alone to this file")
    parser.add_argument("--output", "-o", metavar="OUT.eml", help="write the .eml here instead of stdout")
    parser.add_argument("--timezone", default="UTC", help="display time zone shown next to UTC (IANA name, default UTC)")
    parser.add_argument("--region", default="US", help="default phone region for national numbers (default US)")
    parser.add_argument("--max-item-bytes", type=int, default=150 * MiB, help="size limit of one record (default 150 MiB)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        raw = sys.stdin.buffer.read() if args.item == "-" else Path(args.item).read_bytes()
    except OSError as exc:
        print(f"cannot read {args.item}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        item = parse_item(raw)
    except ItemRejected as exc:
        print(str(exc), file=sys.stderr)
        return 1
    source = DirectoryAttachments(Path(args.attachments)) if args.attachments else None
    options = RenderOptions(display_timezone=args.timezone, max_item_bytes=args.max_item_bytes,
                            default_region=args.region.upper())
    record = render_record(item, mailbox_of=email_property, attachments=source, options=options)
    try:
        if args.html:
            Path(args.html).write_text(record.html, encoding="utf-8")
        if args.output:
            Path(args.output).write_bytes(record.eml)
        else:
            sys.stdout.buffer.write(record.eml)
            sys.stdout.buffer.flush()
    except OSError as exc:
        print(f"cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for omitted in record.omitted:
        print(f"note: attachment {omitted.attachment.id} not embedded ({omitted.reason})", file=sys.stderr)
    return 0
