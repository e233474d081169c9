"""What the caller decides about a rendering: time zone shown, size budget, where originals live.

Kept apart from the renderer so the composition root (``shared.bootstrap``) can build it from
settings without importing the rendering machinery's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from shared.domain.items import Attachment

MiB = 1024 * 1024


def default_attachment_location(attachment: Attachment) -> str:
    """Where the pipeline keeps an attachment's original bytes: content-addressed by sha256."""
    return f"attachments/{attachment.sha256}"


class AttachmentSource(Protocol):
    """The bytes of an attachment, or None when they are not available (never fetched, failed check).

    An exception from ``read`` is not "unavailable": it propagates, so that a passing storage fault
    makes the conversion retry instead of archiving a record that wrongly says a file is missing.
    """

    def read(self, attachment: Attachment) -> bytes | None: ...


class NoAttachments:
    """An AttachmentSource with no bytes at all: every file is named in the record as unavailable."""

    def read(self, attachment: Attachment) -> bytes | None:  # noqa: ARG002 - protocol signature
        return None


@dataclass(frozen=True)
class RenderOptions:
    """How records are rendered.

    - ``display_timezone``: IANA zone shown next to UTC in the body (an unknown zone shows UTC only).
    - ``max_item_bytes``: the whole .eml stays under this; attachments that would cross it are
      left out and named instead (the record is then *partial*).
    - ``attachment_location``: the text that tells a reviewer where an omitted original is kept.
    - ``default_region``: region for reading national phone numbers when deriving addresses.
    """

    display_timezone: str = "UTC"
    max_item_bytes: int = 150 * MiB
    attachment_location: Callable[[Attachment], str] = default_attachment_location
    default_region: str = "US"
