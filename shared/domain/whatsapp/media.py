"""After the plumbing downloads a file Meta announced: put its hash and size into the item.

Webhooks declare a file's SHA-256 (base64) but not its size; some declare no hash. The plumbing
downloads each ``MediaRef``, hashes the bytes, then calls ``complete_attachment`` to get the final
contract item: the attachment's ``size`` filled, its ``sha256`` the bytes' hash, and the attachment
added if the webhook declared none. A declared hash that the bytes do not match is a corrupt
download (``MediaMismatch``): retry, then report; never archive it silently.
"""

from __future__ import annotations

from typing import Any

from shared.domain.whatsapp.build import contract_item
from shared.domain.whatsapp.reading import Problem, sha256_hex
from shared.domain.whatsapp.results import MediaRef

_OCTET = "application/octet-stream"


class MediaMismatch(ValueError):
    """The downloaded bytes do not hash to what the webhook (or the media GET) declared."""


def complete_attachment(item: dict[str, Any], ref: MediaRef, *, sha256: str, size: int,
                        content_type: str | None = None) -> dict[str, Any]:
    """A new item (the input is not changed) whose attachment ``ref.attachment_id`` has the downloaded file's facts.

    ``sha256`` is the hash of the bytes actually downloaded (hex or base64). Raises MediaMismatch when
    it differs from the declared one, ValueError when the inputs are unusable.
    """
    actual = sha256_hex(sha256)
    if actual is None:
        raise ValueError("sha256: expected 64 hex characters or 44 base64 characters of a SHA-256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("size: expected a non-negative number of bytes")
    if ref.sha256 is not None and ref.sha256 != actual:
        raise MediaMismatch(f"attachment {ref.attachment_id} of item {ref.item_id}: webhook declared sha256 {ref.sha256}, "
                            f"downloaded bytes hash to {actual}")
    if item.get("id") != ref.item_id:
        raise ValueError(f"media ref is for item {ref.item_id}, not {item.get('id')}")
    attachments = [dict(a) for a in item.get("attachments") or []]
    for attachment in attachments:
        if attachment.get("id") == ref.attachment_id:
            attachment["sha256"] = actual
            attachment["size"] = size
            if content_type and attachment.get("content_type") in (None, "", _OCTET):
                attachment["content_type"] = content_type
            break
    else:
        new: dict[str, Any] = {"id": ref.attachment_id, "file_name": ref.filename or "",
                               "content_type": ref.mime_type or content_type or _OCTET, "size": size, "sha256": actual,
                               "kind": ref.kind}
        caption = item.get("text")
        if caption and item.get("type") == "message" and ref.kind != "voice":
            new["caption"] = caption
        attachments.append(new)
    try:
        return contract_item({**item, "attachments": attachments})
    except Problem as problem:
        raise ValueError(problem.reason) from None


def mark_media_unavailable(item: dict[str, Any], ref: MediaRef, reason: str) -> dict[str, Any]:
    """A new item whose text says the file could not be downloaded (expired, refused, corrupt): never lost in silence.

    ``reason`` is written for a reviewer (e.g. "Meta answered 404 after 7 days"). A declared
    attachment stays listed (the record then names it as unavailable); an undeclared one is named
    here by kind and media id.
    """
    if item.get("id") != ref.item_id:
        raise ValueError(f"media ref is for item {ref.item_id}, not {item.get('id')}")
    note = f"[{ref.kind} {ref.media_id} could not be downloaded from WhatsApp: {reason}]"
    current = item.get("text")
    try:
        return contract_item({**item, "text": f"{current}\n{note}" if current else note})
    except Problem as problem:
        raise ValueError(problem.reason) from None
