"""The small interfaces the use cases see the outside world through.

Adapters in ``shared/adapters`` fulfil them; tests drive the use cases with the real
adapters pointed at local servers (Azurite, the local feed, the local Graph server).
Every port is synchronous: the Graph adapter runs msgraph-sdk's asyncio client on a loop
thread of its own, so the Functions worker can run sync handlers in its thread pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Iterator, Protocol

from shared.domain.directory import UserStatus  # re-exported: adapters and use cases import it from here


# --------------------------------------------------------------------------- capture feed
class FeedError(RuntimeError):
    """The feed failed in a way retrying will not fix inside this run."""


class FeedAuthError(FeedError):
    """401/403 from the feed: the token is bad or expired. The run fails; no checkpoint moves."""


class FeedTransientError(FeedError):
    """429/5xx/network errors that outlasted the client's own retries."""


class AttachmentCorrupt(FeedError):
    """Downloaded bytes do not hash to the item's sha256 (after re-fetching)."""


class AttachmentTooLarge(FeedError):
    """The file is (or the feed sent) more bytes than allowed: its declared size, or MAX_ATTACHMENT_BYTES."""


class AttachmentSizeMismatch(FeedError):
    """The bytes are not as many as the item's declared ``size`` says (after re-fetching)."""


@dataclass(frozen=True)
class FeedPage:
    items: list[dict]  # raw item objects, as served (validated later, by convert)
    next_cursor: str | None


class Feed(Protocol):
    def pages(self, since: datetime, until: datetime) -> Iterator[FeedPage]:
        """Pages of the half-open window [since, until) on captured_at, in order."""

    def download_attachment(self, attachment_id: str, sink: BinaryIO, max_bytes: int | None = None) -> int:
        """Stream one attachment's bytes into ``sink``; return the byte count.

        More than ``max_bytes`` (when given) raises ``AttachmentTooLarge`` once that many were written.
        """


# --------------------------------------------------------------------------- directory
class DirectoryUnavailable(RuntimeError):
    """A directory look-up failed transiently: retry later, never read it as 'not a user'."""


class Directory(Protocol):
    def lookup(self, address: str) -> UserStatus:
        """Is this address an enabled Microsoft 365 user with a mailbox?"""


# --------------------------------------------------------------------------- mailbox (Graph)
class MailboxError(RuntimeError):
    """Base for Graph mailbox failures. ``code`` is Graph's error code when there was one."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class MailboxThrottled(MailboxError):
    """429/503 (or a throttled $batch part): come back after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.nothing_created = False  # set by the adapter when the refused request was the copy's only write

    @property
    def paces_mailbox(self) -> bool:
        """A 429 is Exchange throttling this app on this mailbox: every copy for it waits the Retry-After. A 503
        is the service unavailable for this request (Graph: "you may repeat the request after a delay"): this
        copy waits it, the mailbox's other copies go on (each meets its own 503 if the service is still down)."""
        return self.status != 503


class MailboxTransient(MailboxError):
    """5xx, timeout, dropped connection: the outcome is unknown, the copy may exist."""


class MailboxPermanent(MailboxError):
    """The mailbox cannot take this copy (no such user, no mailbox, 4xx): retrying will not help."""


@dataclass(frozen=True)
class ArchiveCopy:
    """One copy of a record for one mailbox."""

    mailbox: str  # the user's address (UPN or primary SMTP) or object id
    archive_id: str  # the dedupe key stored on the message (the item id)
    eml: bytes  # the full RFC 5322 record, as rendered and stored in mime/
    item_class: str  # PR_MESSAGE_CLASS, e.g. IPM.ExternalData.WhatsAppArchiver.Message


@dataclass(frozen=True)
class PreparedCopy:
    """A copy read and its create request built (Mailbox.prepare_copy): what create_copy sends. ``request`` is
    the adapter's own; one delivery sends it again when it retries in place (a Retry-After waited out)."""

    copy: ArchiveCopy
    request: object


@dataclass(frozen=True)
class CreatedCopy:
    message_id: str  # Graph's immutable id of the created message
    attachments_uploaded: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. attachments that could not be uploaded


class Mailbox(Protocol):
    def ensure_folder(self, mailbox: str, folder_name: str) -> str:
        """Find or create the archive folder at the mailbox's root; return its id (cached)."""

    def find_copy(self, mailbox: str, folder_id: str, archive_id: str) -> str | None:
        """The id of a message already in the folder with this archive id, else None."""

    def prepare_copy(self, copy: ArchiveCopy) -> PreparedCopy:
        """Read the record and build its create request, without a Graph request: the work a create does before
        Graph, done before the caller takes the mailbox's slot. Raises MailboxPermanent for a record that cannot
        be read."""

    def create_copy(self, mailbox: str, folder_id: str, copy: ArchiveCopy | PreparedCopy) -> CreatedCopy:
        """Create the copy as a received, read, non-draft item dated with the original time."""


@dataclass(frozen=True)
class StoredCopy:
    """What Graph says about one archived copy now (evidence verification)."""

    message_id: str
    folder_id: str | None  # parentFolderId
    archive_id: str | None  # our ArchiveItemId named property
    sent_at: datetime | None  # sentDateTime


class CopyLookup(Protocol):
    def find_folder(self, mailbox: str, folder_name: str) -> str | None:
        """The archive folder's id, without creating it; None when the mailbox has no such folder."""

    def get_copy(self, mailbox: str, message_id: str) -> StoredCopy | None:
        """The message by its immutable id, wherever it is; None when it no longer exists."""
