"""Files are stored once, by the sha256 of their bytes, whatever source brought them (the feed's pull,
Meta's media, an export's zip): ``attachments/{sha256}``. The bytes pass through a spooled temp file
(memory up to ``SPOOL_BYTES``, disk beyond), are hashed there, then stored from it."""

from __future__ import annotations

import hashlib
import tempfile
from typing import BinaryIO

from shared import names

SPOOL_BYTES = 8 * 1024 * 1024  # attachments larger than this stream through a temp file
_CHUNK = 1024 * 1024


def spool() -> tempfile.SpooledTemporaryFile:
    """The temp file a download or an unpacked entry is written to before it is hashed and stored."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def sha256_of(sink: BinaryIO) -> str:
    """The hex sha256 of everything in ``sink``, read from the start; leaves it rewound."""
    sink.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: sink.read(_CHUNK), b""):
        digest.update(chunk)
    sink.seek(0)
    return digest.hexdigest()


def store(blobs, sha256: str, sink: BinaryIO, *, size: int, content_type: str | None = None,
          attachment_id: str | None = None, source: str | None = None) -> None:
    """Put ``sink``'s bytes (already checked to hash to ``sha256``) under attachments/{sha256}."""
    metadata = {"size": str(size)}
    if attachment_id is not None:
        metadata["attachment_id"] = attachment_id[:256].encode("ascii", "replace").decode()
    if source is not None:
        metadata["source"] = source
    sink.seek(0)
    blobs.put(names.ATTACHMENTS, sha256, sink, content_type=content_type or "application/octet-stream",
              metadata=metadata)
