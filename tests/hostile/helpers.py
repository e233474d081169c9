"""Helpers for the hostile-source tests: items a compromised or buggy capture feed could send."""

from __future__ import annotations

import copy
import hashlib

from shared import names

MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def template(world) -> dict:
    """A valid message with one attachment that maps to exactly one mailbox (alice's chat with an outsider)."""
    for item in world.day.items:
        if item.get("attachments") and len(world.day.expected.get(item["id"], ())) == 1 and item["type"] == "message":
            return item
    raise AssertionError("the generated day has no single-mailbox message with an attachment")


def variant(item: dict, **changes) -> dict:
    """A copy of ``item`` with ``changes`` (a new id at least: the feed serves each id once)."""
    out = copy.deepcopy(item)
    out.update(changes)
    return out


def file_entry(attachment_id: str, data: bytes, *, size: int | None = None, name: str = "report.pdf") -> dict:
    return {"id": attachment_id, "file_name": name, "content_type": "application/pdf",
            "size": len(data) if size is None else size, "sha256": sha256(data), "kind": "document"}


def expected_copies(world) -> dict[str, set[str]]:
    return {item_id: set(mailboxes) for item_id, mailboxes in world.day.expected.items()}


def tracking_rows(app, report_date: str) -> list[dict]:
    return [r for r in app.tracking.rows(report_date) if r["RowKey"].startswith("item|")]


def mime_of(app, item_key_: str) -> bytes:
    for name in app.blobs.list(names.MIME):
        if name.endswith(f"/{item_key_}.eml"):
            return app.blobs.get(names.MIME, name)
    raise AssertionError(f"no record for {item_key_} under mime/")


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip body that inflates to ``inflated_bytes`` spaces (about 1,000:1), built without holding them."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * MiB
    out = [packer.compress(block) for _ in range(inflated_bytes // MiB)]
    out.append(packer.flush())
    return b"".join(out)


def nested_page(depth: int) -> bytes:
    """A page whose one item is nested ``depth`` levels deep: valid JSON, too deep for the parser."""
    return b'{"items": [{"id": "deep", "x": ' + b"[" * depth + b"]" * depth + b'}], "next_cursor": null}'
