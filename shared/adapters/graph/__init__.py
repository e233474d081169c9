"""The Microsoft Graph adapter: the only code that talks to Graph (msgraph-sdk, msgraph-core).

``build_graph_mailbox(settings)`` -> ports.Mailbox, ``build_graph_directory(settings)`` -> ports.Directory.
Both share one process-wide session (asyncio loop thread, httpx pool, address -> user id cache);
``close()`` on each releases it, the last one stops the loop and closes the clients.

Decisions
---------
- Addressing: the pipeline passes a primary SMTP address; ``/users/{x}`` takes only a UPN or an id,
  so each address is resolved once per process to the Entra object id (``mail``, ``proxyAddresses``
  or ``userPrincipalName``; the directory's look-ups fill the same cache) and the id is used in paths.
- Create mode ``json`` (default): one ``POST /users/{id}/mailFolders/{folder}/messages`` with the
  extended properties in the same request (PR_MESSAGE_FLAGS=1: read and non-draft; delivery and
  sent time = the record's Date in UTC; PR_MESSAGE_CLASS = the item class; In-Reply-To and
  References; our named property ``ArchiveItemId``). Attachments ride inline while the request stays
  under ~3 MB; larger ones (up to 150 MB) follow through ``createUploadSession`` + ≤3.75 MiB PUTs
  with httpx, without an Authorization header (msgraph-core's LargeFileUploadTask is not used).
- A copy that needs upload sessions is created with ``ArchivePendingId`` instead of ``ArchiveItemId``;
  only after every upload finished does a PATCH add ``ArchiveItemId``. So a copy that ``find_copy``
  finds is always complete. If an upload fails transiently (429/5xx/timeout/drop), the adapter
  deletes the incomplete copy (best effort) and raises, so the delivery is retried; if that delete
  also failed (or the process died), the next attempt's ``find_copy`` finds the pending copy by
  ``ArchivePendingId``, deletes it and reports "not there", and the copy is created afresh. Never
  lost (an incomplete copy is never counted as delivered), never twice (the incomplete one goes).
  "Deletes" means ``POST .../messages/{id}/permanentDelete`` (v1.0), never ``DELETE``: DELETE is a
  soft delete that would move the incomplete copy into the user's Deleted Items (visible to the
  user, found by Content Search). permanentDelete puts it in Recoverable Items Purges, out of the
  user's sight; under Litigation Hold it is kept there, which is fine. (Building the copy in a
  hidden folder and moving it in was weighed: two more requests per large copy and a new id.)
  If Graph refuses one attachment permanently (4xx, e.g. over the mailbox's size limit), the copy
  lands without it, with a note in ``CreatedCopy.notes`` (counted ``partial``; the bytes stay in
  the attachments container).
- Create mode ``import_mime`` (``GRAPH_CREATE_MODE``): beta ``importMime`` with the base64 .eml
  through a raw RequestInformation, then a PATCH setting isRead, PR_MESSAGE_CLASS and
  ``ArchiveItemId``. Before importing, the folder is searched by internetMessageId for an earlier
  import whose PATCH never landed (lost answer, crash), which is finished instead of importing again.
- Retries: the SDK's RetryHandler stays in the pipeline with 1 retry, no base delay, and will not
  sleep a Retry-After above 5 s (that is handed to the queue as MailboxThrottled instead). Creates
  (message POST, importMime, createUploadSession) go with retries off: the RetryHandler re-POSTs on
  429/503/504, and a 503 after a done create would otherwise make a second copy. httpx timeouts come
  from GRAPH_TIMEOUT_SECONDS. Every request sends ``Prefer: IdType="ImmutableId"``.
- Errors: 429/503 -> MailboxThrottled(retry_after, default 5 s); other 5xx, timeouts, dropped
  connections -> MailboxTransient; other 4xx -> MailboxPermanent(code=Graph's error code).
- Credentials: loopback GRAPH_ENDPOINT only: anonymous. Otherwise ManagedIdentityCredential
  (GRAPH_CLIENT_ID) or DefaultAzureCredential; if none can be built, GraphConfigError (never anonymous).
"""

from __future__ import annotations

from shared.adapters.graph.directory import GraphDirectory
from shared.adapters.graph.mailbox import ARCHIVE_ID_PROP, PENDING_ID_PROP, PROPERTY_SET, GraphMailbox
from shared.adapters.graph.session import GraphConfigError, GraphSession, build_auth_provider, shared_session
from shared.settings import Settings


def build_graph_mailbox(settings: Settings) -> GraphMailbox:
    return GraphMailbox(shared_session(settings), create_mode=settings.graph_create_mode)


def build_graph_directory(settings: Settings) -> GraphDirectory:
    return GraphDirectory(shared_session(settings))


__all__ = [
    "build_graph_mailbox", "build_graph_directory", "GraphMailbox", "GraphDirectory", "GraphSession",
    "GraphConfigError", "build_auth_provider", "ARCHIVE_ID_PROP", "PENDING_ID_PROP", "PROPERTY_SET",
]
