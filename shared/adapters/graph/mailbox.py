"""ports.Mailbox over Microsoft Graph: the archive folder, the dedupe look-up, and the create.

See the package docstring for the decisions (create modes, large attachments, failure handling).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

import httpx
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.attachment_item import AttachmentItem
from msgraph.generated.models.attachment_type import AttachmentType
from msgraph.generated.models.mail_folder import MailFolder
from msgraph.generated.models.message import Message
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty
from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import MessagesRequestBuilder
from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import MailFoldersRequestBuilder
from msgraph.generated.users.item.messages.item.attachments.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
    CreateUploadSessionPostRequestBody,
)
from msgraph.generated.users.item.messages.item.message_item_request_builder import MessageItemRequestBuilder

from shared.adapters.graph.directory import odata_quote, resolve_user_id
from shared.adapters.graph.message_json import message_json
from shared.adapters.graph.record import Part, Record, parse_record
from shared.adapters.graph.session import GraphSession, map_exception, map_status, no_retry, request_config
from shared.pipeline.ports import (
    ArchiveCopy,
    CreatedCopy,
    MailboxError,
    MailboxPermanent,
    MailboxThrottled,
    MailboxTransient,
    PreparedCopy,
    StoredCopy,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Create:
    """A copy's create, built before its mailbox's slot is taken: the parsed record, and for a JSON create its
    body, which attachments go inline, which by upload session, and what the record says it left. An importMime
    create needs the record alone. Nothing in it names the mailbox: an item's copies share one (see prepare_copy)."""

    record: Record
    body: bytes | None = None
    inline: tuple[Part, ...] = ()
    uploads: tuple[Part, ...] = ()
    notes: tuple[str, ...] = ()


BUILT_KEPT = 32  # creates kept for an item's other copies (they are prepared within moments of each other)
BUILT_KEPT_MAX_BYTES = 64 * 1024  # only small records (a larger one is parsed for each copy, rather than kept in memory)


def _json_request(url: str, content: bytes) -> RequestInformation:
    """A JSON create's request: a new one for every send (a retry in place sends without the last one's token)."""
    info = RequestInformation(Method.POST)
    info.url = url
    info.configure(request_config(retry=False))
    info.headers.try_add("Accept", "application/json")
    info.headers.try_add("Content-Type", "application/json")
    info.content = content
    return info


# Our named-property set: a fixed GUID of this project. Never change it: existing copies carry it.
PROPERTY_SET = "{bed5309b-ba8e-4887-b169-1e0f89fac3a1}"
ARCHIVE_ID_PROP = f"String {PROPERTY_SET} Name ArchiveItemId"
# Set instead of ArchiveItemId while large attachments are still being uploaded (see the package docstring)
PENDING_ID_PROP = f"String {PROPERTY_SET} Name ArchivePendingId"
MESSAGE_FLAGS = "Integer 0x0E07"  # PR_MESSAGE_FLAGS: 1 = read; never 0x8 (unsent = draft)
DELIVERY_TIME = "SystemTime 0x0E06"  # PR_MESSAGE_DELIVERY_TIME (receivedDateTime)
SENT_TIME = "SystemTime 0x0039"  # PR_CLIENT_SUBMIT_TIME (sentDateTime)
MESSAGE_CLASS = "String 0x001A"  # PR_MESSAGE_CLASS
IN_REPLY_TO = "String 0x1042"  # PR_IN_REPLY_TO_ID
REFERENCES = "String 0x1039"  # PR_INTERNET_REFERENCES

MiB = 1024 * 1024
INLINE_REQUEST_BUDGET = 3 * MiB  # a JSON create stays under this; bigger attachments go through upload sessions
MAX_UPLOAD_BYTES = 150 * MiB  # Graph's upload-session ceiling per attachment
UPLOAD_CHUNK = 12 * 320 * 1024  # 3.75 MiB: under the 4 MB per-PUT limit, a multiple of 320 KiB


def _prop(prop_id: str, value: str) -> SingleValueLegacyExtendedProperty:
    return SingleValueLegacyExtendedProperty(id=prop_id, value=value)


def _system_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_properties(copy: ArchiveCopy, record: Record, *, pending: bool) -> list[tuple[str, str]]:
    """The extended properties a copy is created with: read and not a draft, its sent and received time, its
    message class, its thread headers, and its dedupe key (``pending``: the pending key, while large attachments
    still have to follow)."""
    props = [(MESSAGE_FLAGS, "1")]
    if record.date is not None:
        props += [(DELIVERY_TIME, _system_time(record.date)), (SENT_TIME, _system_time(record.date))]
    props.append((MESSAGE_CLASS, copy.item_class))
    if record.in_reply_to:
        props.append((IN_REPLY_TO, record.in_reply_to))
    if record.references:
        props.append((REFERENCES, record.references))
    props.append((PENDING_ID_PROP if pending else ARCHIVE_ID_PROP, copy.archive_id))
    return props


def _ep_filter(prop_id: str, value: str) -> str:
    return (f"singleValueExtendedProperties/any(ep: ep/id eq '{odata_quote(prop_id)}' "
            f"and ep/value eq '{odata_quote(value)}')")


class GraphMailbox:
    """ports.Mailbox. Thread-safe; folder ids and user ids are cached for the process."""

    def __init__(self, session: GraphSession, *, create_mode: str = "json"):
        if create_mode not in ("json", "import_mime"):
            raise ValueError(f"unknown GRAPH_CREATE_MODE {create_mode!r}")
        self.session = session
        self.create_mode = create_mode
        self._folders: dict[tuple[str, str], str] = {}
        self._folder_locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._built: OrderedDict[tuple[str, str, bytes], _Create] = OrderedDict()  # see prepare_copy
        self._closed = False

    # ------------------------------------------------------------------ helpers
    def _user(self, mailbox: str) -> str:
        return resolve_user_id(self.session, mailbox)

    def _messages(self, user_id: str, folder_id: str):
        return self.session.client.users.by_user_id(user_id).mail_folders.by_mail_folder_id(folder_id).messages

    def _message(self, user_id: str, message_id: str):
        return self.session.client.users.by_user_id(user_id).messages.by_message_id(message_id)

    # ------------------------------------------------------------------ folder
    def ensure_folder(self, mailbox: str, folder_name: str) -> str:
        user_id = self._user(mailbox)
        key = (user_id, folder_name.lower())
        if key in self._folders:
            return self._folders[key]
        with self._lock:
            lock = self._folder_locks.setdefault(key, threading.Lock())
        with lock:  # one look-up/create per folder in this process; other processes: ErrorFolderExists
            if key in self._folders:
                return self._folders[key]
            folder_id = self._find_folder(user_id, folder_name) or self._create_folder(user_id, folder_name)
            self._folders[key] = folder_id
            return folder_id

    def _find_folder(self, user_id: str, name: str, hidden: bool = False) -> str | None:
        query = MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(
            filter=f"displayName eq '{odata_quote(name)}'", select=["id", "displayName"], top=10,
            include_hidden_folders="true" if hidden else None)
        config = request_config(query)
        page = self.session.call(lambda: self.session.client.users.by_user_id(user_id).mail_folders.get(
            request_configuration=config), "looking up the archive folder")
        for folder in (page.value or []) if page else []:
            if (folder.display_name or "").lower() == name.lower() and folder.id:
                return folder.id
        return None

    def _create_folder(self, user_id: str, name: str) -> str:
        body = MailFolder(display_name=name, is_hidden=False)
        try:
            created = self.session.call(lambda: self.session.client.users.by_user_id(user_id).mail_folders.post(
                body, request_configuration=request_config()), "creating the archive folder")
        except MailboxPermanent as exc:
            if exc.code != "ErrorFolderExists":
                raise
            # someone else (another worker, another process) created it between our look-up and create
            folder_id = self._find_folder(user_id, name) or self._find_folder(user_id, name, hidden=True)
            if folder_id is None:
                raise MailboxTransient("the archive folder exists but cannot be found yet", code="ErrorFolderExists") from exc
            return folder_id
        if created is None or not created.id:
            raise MailboxTransient("creating the archive folder returned no id")
        return created.id

    # ------------------------------------------------------------------ dedupe
    def _query_ids(self, user_id: str, folder_id: str, flt: str, what: str, top: int = 5) -> list[str]:
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(filter=flt, select=["id"], top=top)
        config = request_config(query)
        page = self.session.call(lambda: self._messages(user_id, folder_id).get(request_configuration=config), what)
        return [m.id for m in ((page.value or []) if page else []) if m.id]

    def find_copy(self, mailbox: str, folder_id: str, archive_id: str) -> str | None:
        user_id = self._user(mailbox)
        found = self._query_ids(user_id, folder_id, _ep_filter(ARCHIVE_ID_PROP, archive_id),
                                "looking for an existing copy")
        if found:
            return found[0]
        # a copy whose large attachments were not all uploaded is incomplete: remove it so it is created again
        for message_id in self._query_ids(user_id, folder_id, _ep_filter(PENDING_ID_PROP, archive_id),
                                          "looking for an incomplete copy"):
            log.warning("removing an incomplete copy (attachment upload did not finish) before re-creating it")
            self._delete(user_id, message_id)
        return None

    def _delete(self, user_id: str, message_id: str) -> None:
        # permanentDelete, never DELETE: DELETE is a soft delete that moves the incomplete copy to the
        # user's Deleted Items, where the user and Content Search find it. permanentDelete puts it in the
        # Recoverable Items Purges folder, out of the user's sight (kept there only under a hold).
        try:
            self.session.call(lambda: self._message(user_id, message_id).permanent_delete.post(
                request_configuration=request_config()), "removing an incomplete copy")
        except MailboxPermanent as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------------ create
    def prepare_copy(self, copy: ArchiveCopy) -> PreparedCopy:
        """The copy's create, built from its record. An item's copies (one per mailbox) carry the same record,
        archive id and item class, so they get the same create: built for the first, taken from memory for the
        others (small records, the last few items)."""
        kept = len(copy.eml) <= BUILT_KEPT_MAX_BYTES
        key = (copy.archive_id, copy.item_class, copy.eml)
        with self._lock:
            built = self._built.get(key) if kept else None
        if built is None:
            built = self._build_create(copy)
            if kept:
                with self._lock:
                    self._built[key] = built
                    while len(self._built) > BUILT_KEPT:
                        self._built.popitem(last=False)
        return PreparedCopy(copy, built)

    def _build_create(self, copy: ArchiveCopy) -> _Create:
        try:
            record = parse_record(copy.eml)
        except Exception as exc:  # noqa: BLE001 - a record we cannot read will not improve on retry
            raise MailboxPermanent(f"the record cannot be parsed as RFC 5322: {type(exc).__name__}: {exc}",
                                   code="InvalidRecord") from exc
        if self.create_mode == "import_mime":
            return _Create(record)
        return self._json_create(copy, record)

    def create_copy(self, mailbox: str, folder_id: str, copy: ArchiveCopy | PreparedCopy) -> CreatedCopy:
        prepared = copy if isinstance(copy, PreparedCopy) else self.prepare_copy(copy)
        user_id = self._user(mailbox)
        if self.create_mode == "import_mime":
            return self._create_by_import(user_id, folder_id, prepared.copy, prepared.request.record)
        return self._create_by_json(user_id, folder_id, prepared.copy, prepared.request)

    def _json_create(self, copy: ArchiveCopy, record: Record) -> _Create:
        """The create request of a copy, its body serialised; its URL is set when the mailbox and folder are known."""
        notes: list[str] = []
        inline, uploads = [], []
        budget = INLINE_REQUEST_BUDGET - 16 * 1024 - len(record.body.encode("utf-8", "replace")) * 6 // 5
        for part in sorted(record.attachments, key=lambda p: len(p.data)):
            cost = (len(part.data) + 2) // 3 * 4 + 1024
            if cost <= budget:
                inline.append(part)
                budget -= cost
            elif len(part.data) <= MAX_UPLOAD_BYTES:
                uploads.append(part)
            else:
                notes.append(f"attachment {part.name!r} ({len(part.data)} bytes) exceeds Graph's 150 MB limit; "
                             "the original is kept in storage")
        if record.date is None:
            notes.append("the record has no Date header; Graph dated the copy with the time of the import")
        body = message_json(record, properties=create_properties(copy, record, pending=bool(uploads)), attachments=inline)
        return _Create(record, body, tuple(inline), tuple(uploads), tuple(notes))

    def _create_by_json(self, user_id: str, folder_id: str, copy: ArchiveCopy, create: _Create) -> CreatedCopy:
        inline, uploads, notes = create.inline, create.uploads, list(create.notes)
        # the URL the request builder would expand, built directly (it is expanded twice per request otherwise)
        info = _json_request(f"{self.session.v1}/users/{quote(user_id, safe='')}/mailFolders/{quote(folder_id, safe='')}"
                             "/messages", create.body)
        try:
            created_id = self._send_for_id(info, "creating the copy")
        except MailboxThrottled as exc:
            # a 429 is Exchange refusing the request before acting on it: no copy exists. (A 503 may come
            # after a create that was done, so it stays uncertain.)
            exc.nothing_created = exc.status == 429
            raise
        if not uploads:
            return CreatedCopy(message_id=created_id, attachments_uploaded=len(inline), notes=notes)

        uploaded = 0
        try:
            for part in uploads:
                try:
                    self._upload(user_id, created_id, part)
                    uploaded += 1
                except MailboxPermanent as exc:  # Graph refuses this attachment: the record lands without it
                    notes.append(f"attachment {part.name!r} ({len(part.data)} bytes) was refused by Graph "
                                 f"({exc.code or exc.status}); the original is kept in storage")
            self.session.call(lambda: self._message(user_id, created_id).patch(
                Message(single_value_extended_properties=[_prop(ARCHIVE_ID_PROP, copy.archive_id)]),
                request_configuration=request_config()), "marking the copy complete")
        except MailboxError:
            # transient: remove the incomplete copy (best effort; find_copy removes it otherwise) and let
            # the delivery retry the whole create
            try:
                self._delete(user_id, created_id)
            except MailboxError:
                log.warning("could not remove an incomplete copy now; the next attempt will")
            raise
        return CreatedCopy(message_id=created_id, attachments_uploaded=len(inline) + uploaded, notes=notes)

    def _send_for_id(self, info: RequestInformation, what: str) -> str:
        """Send a create and read only the new item's id from the answer: deserializing the whole Message
        through kiota costs ~10-15 ms of CPU per create (it imports hundreds of model modules on each call)."""
        raw = self.session.call(lambda: self.session.adapter.send_primitive_async(info, "bytes", {"XXX": ODataError}),
                                what)
        try:
            message_id = json.loads(raw or b"{}").get("id")
        except (ValueError, AttributeError):
            message_id = None
        if not isinstance(message_id, str) or not message_id:
            raise MailboxTransient(f"{what} returned no message id")
        return message_id

    def _upload(self, user_id: str, message_id: str, part: Part) -> None:
        body = CreateUploadSessionPostRequestBody(attachment_item=AttachmentItem(
            attachment_type=AttachmentType.File, name=part.name, size=len(part.data), content_type=part.content_type,
            is_inline=part.inline or None, content_id=part.content_id))
        session = self.session.call(lambda: self._message(user_id, message_id).attachments.create_upload_session.post(
            body, request_configuration=request_config(retry=False)), "opening an attachment upload session")
        if session is None or not session.upload_url:
            raise MailboxTransient("the upload session has no uploadUrl")
        url, data = session.upload_url, part.data

        async def put_all():
            total = len(data)
            for start in range(0, total, UPLOAD_CHUNK):
                chunk = data[start:start + UPLOAD_CHUNK]
                end = start + len(chunk) - 1
                try:
                    # no Authorization header: the upload URL carries its own token
                    response = await self.session.upload_http.put(url, content=chunk, headers={
                        "Content-Range": f"bytes {start}-{end}/{total}", "Content-Type": "application/octet-stream"})
                except Exception as exc:  # noqa: BLE001
                    raise map_exception(exc, "uploading an attachment chunk") from exc
                if response.status_code not in (200, 201, 202):
                    code, message = _error_of(response)
                    raise map_status(response.status_code, code, message, response.headers, "uploading an attachment chunk")

        self.session.run(put_all(), what="uploading an attachment")

    def _create_by_import(self, user_id: str, folder_id: str, copy: ArchiveCopy, record: Record) -> CreatedCopy:
        # an earlier attempt may have imported it and lost the answer or the PATCH: finish that one
        existing = self._unfinished_import(user_id, folder_id, copy, record)
        if existing is None:
            info = RequestInformation(Method.POST)
            info.url = f"{self.session.beta}/users/{user_id}/mailFolders/{folder_id}/importMime"
            info.headers.try_add("Accept", "application/json")
            info.headers.try_add("Content-Type", "text/plain")
            info.content = base64.b64encode(copy.eml)
            info.add_request_options(no_retry())
            created = self.session.call(lambda: self.session.adapter.send_async(
                info, Message, {"XXX": ODataError}), "importing the copy (importMime)")
            if created is None or not created.id:
                raise MailboxTransient("importMime returned no message id")
            existing = created.id
        self.session.call(lambda: self._message(user_id, existing).patch(
            Message(is_read=True, single_value_extended_properties=[
                _prop(MESSAGE_CLASS, copy.item_class), _prop(ARCHIVE_ID_PROP, copy.archive_id)]),
            request_configuration=request_config()), "stamping the imported copy")
        return CreatedCopy(message_id=existing, attachments_uploaded=len(record.attachments))

    def _unfinished_import(self, user_id: str, folder_id: str, copy: ArchiveCopy, record: Record) -> str | None:
        if not record.message_id:
            return None
        for message_id in self._query_ids(user_id, folder_id, f"internetMessageId eq '{odata_quote(record.message_id)}'",
                                          "looking for an earlier import", top=10):
            query = MessageItemRequestBuilder.MessageItemRequestBuilderGetQueryParameters(
                select=["id"], expand=[f"singleValueExtendedProperties($filter=id eq '{odata_quote(ARCHIVE_ID_PROP)}')"])
            found = self.session.call(lambda m=message_id, q=query: self._message(user_id, m).get(
                request_configuration=request_config(q)), "reading an earlier import")
            values = [p.value for p in (found.single_value_extended_properties or [])] if found else []
            if not values or copy.archive_id in values:
                return message_id  # ours: imported but not stamped (or stamped: find_copy missed a race)
        return None

    # ------------------------------------------------------------------ evidence (read only)
    def find_folder(self, mailbox: str, folder_name: str) -> str | None:
        """ports.CopyLookup: the archive folder's id, never creating it."""
        user_id = self._user(mailbox)
        key = (user_id, folder_name.lower())
        if key in self._folders:
            return self._folders[key]
        return self._find_folder(user_id, folder_name) or self._find_folder(user_id, folder_name, hidden=True)

    def get_copy(self, mailbox: str, message_id: str) -> StoredCopy | None:
        """ports.CopyLookup: one message by its immutable id: folder, archive id, sent time; None if gone."""
        user_id = self._user(mailbox)
        query = MessageItemRequestBuilder.MessageItemRequestBuilderGetQueryParameters(
            select=["id", "parentFolderId", "sentDateTime", "receivedDateTime"],
            expand=[f"singleValueExtendedProperties($filter=id eq '{odata_quote(ARCHIVE_ID_PROP)}')"])
        try:
            found = self.session.call(lambda: self._message(user_id, message_id).get(
                request_configuration=request_config(query)), "reading an archived copy")
        except MailboxPermanent as exc:
            if exc.status == 404:
                return None
            raise
        if found is None:
            return None
        values = [p.value for p in (found.single_value_extended_properties or []) if p.value]
        return StoredCopy(message_id=found.id or message_id, folder_id=found.parent_folder_id,
                          archive_id=values[0] if values else None, sent_at=found.sent_date_time)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.session.release()


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    try:
        err = response.json().get("error") or {}
        return err.get("code"), str(err.get("message") or "")[:300]
    except ValueError:
        return None, response.text[:300]


__all__ = ["GraphMailbox", "ARCHIVE_ID_PROP", "PENDING_ID_PROP", "PROPERTY_SET"]
