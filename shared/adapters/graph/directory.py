"""Directory look-ups through Graph: is an address an enabled Microsoft 365 user with a mailbox?

An address is matched against ``mail``, ``proxyAddresses`` (aliases) and ``userPrincipalName`` in one
advanced query (``ConsistencyLevel: eventual`` + ``$count=true``, as Graph requires for ``or`` and
``proxyAddresses/any``). The mailbox test is ``GET /users/{id}/mailFolders/inbox?$select=id``: 404
``MailboxNotEnabledForRESTAPI`` (unlicensed, on-premises, soft-deleted, guest) or 403 (outside the
app's RBAC scope) means no usable mailbox. Anything transient (429, 5xx, timeouts, dropped
connections) raises ``DirectoryUnavailable``: an outage is never read as "not a user".

A look-up Graph refuses for that one address (a 4xx other than 401/403/408/429: e.g. 400 for an
address its filter cannot take) means that address is *not resolvable*: a ``UserStatus`` saying so,
so only the participants naming it go without a copy (reported with the reason), never the whole
item. 401/403 on ``/users`` concern every address (the app's permissions): still unavailable.
"""

from __future__ import annotations

from msgraph.generated.users.item.mail_folders.item.mail_folder_item_request_builder import (
    MailFolderItemRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from shared.adapters.graph.session import GraphSession, request_config
from shared.domain.directory import NOT_RESOLVABLE
from shared.pipeline.ports import (
    DirectoryUnavailable,
    MailboxError,
    MailboxPermanent,
    MailboxThrottled,
    MailboxTransient,
    UserStatus,
)

USER_FIELDS = ["id", "mail", "userPrincipalName", "accountEnabled", "proxyAddresses", "displayName"]
NO_MAILBOX_CODES = {"MailboxNotEnabledForRESTAPI", "ResourceNotFound", "ErrorInvalidUser",
                    "Request_ResourceNotFound", "ErrorNonExistentMailbox", "MailboxNotFound"}


def odata_quote(value: str) -> str:
    """An OData string literal's content: single quotes doubled."""
    return value.replace("'", "''")


def find_users(session: GraphSession, address: str) -> list:
    """Users whose mail, alias or UPN is this address (raises the mapped Mailbox* errors)."""
    a = odata_quote(address)
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter=f"mail eq '{a}' or proxyAddresses/any(p:p eq 'smtp:{a}') or userPrincipalName eq '{a}'",
        select=USER_FIELDS, count=True, top=5)
    config = request_config(query, headers={"ConsistencyLevel": "eventual"})
    page = session.call(lambda: session.client.users.get(request_configuration=config), "finding a user by address")
    return list(page.value or []) if page else []


def best_match(users: list, address: str):
    """Prefer the user whose primary address is this one, then an alias, then the UPN."""
    address = address.lower()

    def rank(u) -> int:
        if (u.mail or "").lower() == address:
            return 0
        if any(p.lower() == f"smtp:{address}" for p in (u.proxy_addresses or [])):
            return 1
        return 2

    return sorted(users, key=rank)[0] if users else None


def resolve_user_id(session: GraphSession, mailbox: str) -> str:
    """The Entra object id for an address (cached per process); an id passes through."""
    key = mailbox.strip().lower()
    cached = session.user_ids.get(key)
    if cached:
        return cached
    if _looks_like_object_id(key):
        return key
    user = best_match(find_users(session, key), key)
    if user is None or not user.id:
        raise MailboxPermanent("no Microsoft 365 user has the address of this mailbox", code="ErrorInvalidUser",
                               status=404)
    session.user_ids[key] = user.id
    return user.id


def _looks_like_object_id(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


class GraphDirectory:
    """ports.Directory over Graph."""

    def __init__(self, session: GraphSession):
        self.session = session
        self._closed = False

    def lookup(self, address: str) -> UserStatus:
        address = address.strip().lower()
        try:
            user = best_match(find_users(self.session, address), address)
        except (MailboxThrottled, MailboxTransient) as exc:
            raise DirectoryUnavailable(f"directory look-up failed transiently: {exc}") from exc
        except MailboxPermanent as exc:
            if exc.status in (401, 403) or exc.status is None:  # the app's permissions: every look-up fails alike
                raise DirectoryUnavailable(f"directory look-up refused ({exc.code or exc.status}): {exc}") from exc
            return UserStatus(address=address, exists=False,
                              reason=f"{NOT_RESOLVABLE} ({exc.code or exc.status})")
        except MailboxError as exc:
            raise DirectoryUnavailable(f"directory look-up failed ({exc.code or exc.status}): {exc}") from exc
        if user is None:
            return UserStatus(address=address, exists=False, reason="no Microsoft 365 user has this address")
        primary = (user.mail or "").lower() or None
        if primary:
            self.session.user_ids[primary] = user.id
        self.session.user_ids[address] = user.id
        enabled = bool(user.account_enabled)
        has_mailbox, mailbox_reason = self._has_mailbox(user.id)
        reasons = []
        if not enabled:
            reasons.append("the account is disabled")
        if not has_mailbox:
            reasons.append(mailbox_reason)
        return UserStatus(address=address, exists=True, enabled=enabled, has_mailbox=has_mailbox, user_id=user.id,
                          primary_address=primary, reason="; ".join(reasons))

    def _has_mailbox(self, user_id: str) -> tuple[bool, str]:
        query = MailFolderItemRequestBuilder.MailFolderItemRequestBuilderGetQueryParameters(select=["id"])
        config = request_config(query)
        try:
            self.session.call(lambda: self.session.client.users.by_user_id(user_id).mail_folders.by_mail_folder_id(
                "inbox").get(request_configuration=config), "checking the user's mailbox")
        except (MailboxThrottled, MailboxTransient) as exc:
            raise DirectoryUnavailable(f"mailbox check failed transiently: {exc}") from exc
        except MailboxPermanent as exc:
            if exc.status == 404 or exc.code in NO_MAILBOX_CODES:
                return False, f"the user has no Exchange Online mailbox ({exc.code or exc.status})"
            if exc.status == 403:
                return False, f"the app may not access this mailbox ({exc.code or 'forbidden'}; check the RBAC scope)"
            raise DirectoryUnavailable(f"mailbox check refused ({exc.code or exc.status}): {exc}") from exc
        return True, ""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.session.release()
