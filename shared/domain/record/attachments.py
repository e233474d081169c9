"""Which attachments go into the record, verified, and which are only named.

Rules (compliance: a wrong file is worse than a missing one, and a missing one must be visible):

- bytes are embedded only when they hash to the item's sha256; bytes that do not are treated as
  unavailable (reason ``sha256-mismatch``), never archived;
- files are embedded in the item's order while the whole record stays under
  ``RenderOptions.max_item_bytes``; one that would cross it is left out (``too-large``) and later,
  smaller ones may still fit;
- a file the source has no bytes for is left out (``unavailable``).

Every left-out file is named in the record by a small text part (name, size, sha256, reason,
where the original is kept) and the record is *partial*.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from shared.domain.items import Attachment
from shared.domain.record.filenames import safe_file_name
from shared.domain.record.ids import ID_DOMAIN
from shared.domain.record.images import INLINE_SUBTYPES
from shared.domain.record.options import AttachmentSource

OmitReason = Literal["too-large", "unavailable", "sha256-mismatch"]

REASON_TEXT: dict[str, str] = {
    "too-large": "embedding it would make this record larger than the size limit of one archive item",
    "unavailable": "its bytes were not available when the record was made (not downloaded, or failed the sha256 check)",
    "sha256-mismatch": "the bytes available did not match the sha256 the capture service recorded, so they were not archived",
}

_TOKEN = r"[A-Za-z0-9!#$&^_.+-]{1,64}"
_CONTENT_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})$")
# Per-part overhead budget (headers of the part) used when estimating the record's size.
PART_OVERHEAD = 2048


@dataclass(frozen=True)
class PlannedFile:
    """One attachment as the record will carry it."""

    attachment: Attachment
    file_name: str  # safe name
    maintype: str
    subtype: str
    data: bytes | None  # the verified bytes when embedded, None when omitted
    reason: OmitReason | None = None

    @property
    def embedded(self) -> bool:
        return self.data is not None

    @property
    def content_type(self) -> str:
        return f"{self.maintype}/{self.subtype}"


@dataclass(frozen=True)
class OmittedAttachment:
    """An attachment the record names but does not carry."""

    attachment: Attachment
    reason: OmitReason
    location: str  # where the original is kept (RenderOptions.attachment_location)


def mime_type(attachment: Attachment) -> tuple[str, str]:
    """The part's content type: the declared one when well-formed, else a safe fallback.

    multipart/* and message/* are never used for a file's bytes (the parser would read them as
    structure); a voice note stays audio (WhatsApp voice notes are Opus in Ogg).
    """
    declared = (attachment.content_type or "").split(";", 1)[0].strip().lower()
    match = _CONTENT_TYPE.match(declared)
    if match and match.group(1) not in ("multipart", "message"):
        return match.group(1), match.group(2)
    if attachment.kind == "voice":
        return "audio", "ogg"
    return "application", "octet-stream"


def encoded_size(n: int) -> int:
    """Bytes a payload of ``n`` bytes takes base64-encoded in 76-char lines with CRLF."""
    b64 = 4 * ((n + 2) // 3)
    return b64 + 2 * (b64 // 76 + 1)


def verified_bytes(attachment: Attachment, source: AttachmentSource) -> tuple[bytes | None, OmitReason | None]:
    data = source.read(attachment)
    if data is None:
        return None, "unavailable"
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        return None, "sha256-mismatch"
    return bytes(data), None


def plan_files(files: list[Attachment], source: AttachmentSource, *, budget: int) -> list[PlannedFile]:
    """Decide, in order, which files are embedded within ``budget`` bytes of encoded parts."""
    planned: list[PlannedFile] = []
    used = 0
    for att in files:
        maintype, subtype = mime_type(att)
        name = safe_file_name(att.file_name, content_type=f"{maintype}/{subtype}", kind=att.kind, sha256=att.sha256)
        # Cheap test first: a declared size far over the budget is not even read.
        if encoded_size(att.size) + PART_OVERHEAD > budget - used and att.size > 0:
            planned.append(PlannedFile(att, name, maintype, subtype, None, "too-large"))
            continue
        data, reason = verified_bytes(att, source)
        if data is not None and encoded_size(len(data)) + PART_OVERHEAD > budget - used:
            data, reason = None, "too-large"
        if data is not None:
            used += encoded_size(len(data)) + PART_OVERHEAD
        planned.append(PlannedFile(att, name, maintype, subtype, data, reason))
    return planned


def inline_content_id(number: int, planned: PlannedFile) -> str | None:
    """The Content-ID (without brackets) of an embedded picture the HTML shows inline, else None.

    ``number`` is the file's 1-based position in the record, so two equal files still get two ids;
    the part keeps ``Content-Disposition: attachment`` (it stays a file the reviewer can save).
    """
    if planned.embedded and planned.maintype == "image" and planned.subtype in INLINE_SUBTYPES:
        return f"file{number}.{planned.attachment.sha256[:16]}@{ID_DOMAIN}"
    return None
