"""The real Graph adapter (real msgraph-sdk, real retry middleware) against the local Graph server."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from devtools.graph_server import Fault
from shared.adapters.graph import (
    GraphConfigError,
    GraphMailbox,
    build_auth_provider,
    build_graph_directory,
    build_graph_mailbox,
)
from shared.adapters.graph.record import parse_record
from shared.adapters.graph.session import shared_session
from shared.pipeline.ports import (
    ArchiveCopy,
    DirectoryUnavailable,
    MailboxPermanent,
    MailboxThrottled,
    MailboxTransient,
)
from shared.settings import load_settings
from tests.graph.conftest import ALICE, FOLDER, ITEM_CLASS, make_eml, make_settings


def copy_of(n: int, **kw) -> ArchiveCopy:
    return ArchiveCopy(mailbox=ALICE, archive_id=f"item-{n}", eml=make_eml(n, **kw), item_class=ITEM_CLASS)


def folder_messages(server) -> list[dict]:
    return server.mailbox(ALICE).get(FOLDER, [])


def create_path(mode: str) -> str:
    return "/messages" if mode == "json" else "/importMime"


# --------------------------------------------------------------------------- folder
def test_the_folder_is_created_once_when_many_workers_race_for_it(server, mode):
    settings = make_settings(server, GRAPH_CREATE_MODE=mode)
    server.latency = 0.05  # widen the window between look-up and create
    # separate adapters = separate caches, as in separate worker processes
    adapters = [GraphMailbox(shared_session(settings), create_mode=mode) for _ in range(8)]
    ids, errors = [], []
    barrier = threading.Barrier(len(adapters))

    def work(mb):
        try:
            barrier.wait()
            ids.append(mb.ensure_folder(ALICE, FOLDER))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(mb,)) for mb in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for mb in adapters:
        mb.close()
    assert not errors
    assert list(server.mailbox(ALICE)) == [FOLDER]
    assert len(set(ids)) == 1


def test_the_folder_id_is_cached_and_quotes_in_the_name_are_escaped(server, mailbox):
    name = "O'Brien's Archiver"
    first = mailbox.ensure_folder(ALICE, name)
    before = len(server.requests)
    assert mailbox.ensure_folder(ALICE.upper(), name) == first
    assert len(server.requests) == before  # cached: no request
    other = GraphMailbox(mailbox.session.acquire(), create_mode=mailbox.create_mode)
    assert other.ensure_folder(ALICE, name) == first  # found by its quoted name, not created twice
    other.close()
    assert list(server.mailbox(ALICE)) == [name]


# --------------------------------------------------------------------------- create and find
def test_a_copy_lands_as_a_read_non_draft_item_with_sent_time_class_and_archive_id(server, mailbox, mode):
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    created = mailbox.create_copy(ALICE, folder, copy_of(1, attachments=[("photo.jpg", "image/jpeg", b"\xff\xd8" * 500)]))
    [message] = folder_messages(server)
    assert message["id"] == created.message_id
    assert message["isDraft"] is False
    assert message["isRead"] is True
    assert message["sentDateTime"] == "2026-11-24T09:15:30Z"
    assert message["itemClass"] == ITEM_CLASS
    assert message["archiveItemId"] == "item-1"
    assert message["internetMessageId"] == "<item-1@archiver.invalid>"
    assert message["subject"] == "WhatsApp chat with Bob (1)"
    assert message["from"]["emailAddress"]["address"] == "+15550001111@whatsapp.invalid"
    assert [r["emailAddress"]["address"] for r in message["toRecipients"]] == ["alice@contoso.com", "pat@contoso.com"]
    assert "hello 1" in message["body"]["content"] and message["body"]["contentType"].lower() == "html"
    assert [(a["name"], a["size"], a["sha256"]) for a in message["attachments"]] == [
        ("photo.jpg", 1000, hashlib.sha256(b"\xff\xd8" * 500).hexdigest())]
    if mode == "json":
        assert message["receivedDateTime"] == "2026-11-24T09:15:30Z"
        assert message["inReplyTo"] == "<item-0@archiver.invalid>"
    else:
        assert parse_record(message["mime"]).message_id == "<item-1@archiver.invalid>"
    assert all(r["prefer"] == 'IdType="ImmutableId"' for r in server.requests if r["path"].startswith(("/v1.0", "/beta")))


def test_an_items_copies_share_one_parse_and_each_lands_whole_in_its_own_mailbox(server, mailbox, mode, monkeypatch):
    import shared.adapters.graph.mailbox as graph_mailbox

    server.add_user("dana@contoso.com")
    parses = []
    monkeypatch.setattr(graph_mailbox, "parse_record", lambda eml: parses.append(1) or parse_record(eml))
    eml = make_eml(7, attachments=[("photo.jpg", "image/jpeg", b"\xff\xd8" * 500)])
    prepared = [mailbox.prepare_copy(ArchiveCopy(mailbox=target, archive_id="item-7", eml=bytes(eml), item_class=ITEM_CLASS))
                for target in (ALICE, "dana@contoso.com")]
    assert len(parses) == 1  # the second copy's create came from memory
    for p in prepared:  # the shared create, sent to each mailbox's own folder
        mailbox.create_copy(p.copy.mailbox, mailbox.ensure_folder(p.copy.mailbox, FOLDER), p)
    landed = [server.mailbox(target)[FOLDER] for target in (ALICE, "dana@contoso.com")]
    assert [len(messages) for messages in landed] == [1, 1]
    for [message] in landed:
        assert (message["archiveItemId"], message["isDraft"], message["sentDateTime"]) == ("item-7", False,
                                                                                          "2026-11-24T09:15:30Z")
        assert [a["sha256"] for a in message["attachments"]] == [hashlib.sha256(b"\xff\xd8" * 500).hexdigest()]
    # other bytes under the same archive id are another create: the record is part of what is kept by
    mailbox.prepare_copy(ArchiveCopy(mailbox=ALICE, archive_id="item-7", eml=make_eml(8), item_class=ITEM_CLASS))
    assert len(parses) == 2


def test_find_copy_finds_the_copy_by_its_archive_id_only(server, mailbox):
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    created = mailbox.create_copy(ALICE, folder, copy_of(2))
    assert mailbox.find_copy(ALICE, folder, "item-2") == created.message_id
    assert mailbox.find_copy(ALICE, folder, "item-3") is None
    assert mailbox.find_copy(ALICE, folder, "it'em-2") is None  # quotes are escaped, not a syntax error


def test_a_9_mb_attachment_goes_through_an_upload_session_intact(server):
    mailbox = build_graph_mailbox(make_settings(server))
    big = hashlib.sha256(b"seed").digest() * (9 * 1024 * 1024 // 32)
    small = b"small" * 100
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    created = mailbox.create_copy(ALICE, folder, copy_of(4, attachments=[("voice.ogg", "audio/ogg", small),
                                                                        ("video.mp4", "video/mp4", big)]))
    mailbox.close()
    [message] = folder_messages(server)
    got = {a["name"]: a for a in message["attachments"]}
    assert got["video.mp4"]["sha256"] == hashlib.sha256(big).hexdigest() and got["video.mp4"]["size"] == len(big)
    assert got["voice.ogg"]["sha256"] == hashlib.sha256(small).hexdigest()
    assert created.attachments_uploaded == 2 and created.notes == []
    assert message["archiveItemId"] == "item-4" and message["isDraft"] is False
    puts = [r for r in server.requests if r["method"] == "PUT"]
    assert len(puts) >= 3 and not any(r["authorization"] for r in puts)
    assert server.upload_authorization_seen == 0


def test_an_upload_that_fails_leaves_no_copy_behind_and_the_retry_lands_exactly_one(server):
    mailbox = build_graph_mailbox(make_settings(server))
    big = b"\x01\x02\x03" * (3 * 1024 * 1024)
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    copy = copy_of(5, attachments=[("big.bin", "application/octet-stream", big)])
    server.inject(Fault(kind="drop", method="PUT", path_contains="/upload/", times=1))
    with pytest.raises(MailboxTransient):
        mailbox.create_copy(ALICE, folder, copy)
    assert folder_messages(server) == []  # the incomplete copy was removed
    assert list(server.mailbox(ALICE)) == [FOLDER] and len(server.purged(ALICE)) == 1  # for good, not to Deleted Items
    assert mailbox.find_copy(ALICE, folder, "item-5") is None
    mailbox.create_copy(ALICE, folder, copy)
    [message] = folder_messages(server)
    assert message["archiveItemId"] == "item-5"
    assert message["attachments"][0]["sha256"] == hashlib.sha256(big).hexdigest()
    mailbox.close()


def test_an_incomplete_copy_that_could_not_be_removed_is_removed_by_find_copy(server):
    mailbox = build_graph_mailbox(make_settings(server))
    big = b"\x07" * (5 * 1024 * 1024)
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    server.inject(Fault(kind="500", method="PUT", path_contains="/upload/", times=1))
    server.inject(Fault(kind="drop", method="POST", path_contains="/permanentDelete", times=1))  # the clean-up fails too
    with pytest.raises(MailboxTransient):
        mailbox.create_copy(ALICE, folder, copy_of(6, attachments=[("big.bin", "application/octet-stream", big)]))
    [pending] = folder_messages(server)
    assert pending["archiveItemId"] is None  # never counted: it carries only the pending id
    assert mailbox.find_copy(ALICE, folder, "item-6") is None
    assert folder_messages(server) == []
    assert list(server.mailbox(ALICE)) == [FOLDER]  # not moved to Deleted Items: purged for good
    assert [m["extendedProperties"] for m in server.purged(ALICE)] and not server.purged("bob@contoso.com")
    mailbox.close()


# --------------------------------------------------------------------------- faults
CREATE_FAULTS = {
    "429": (MailboxThrottled, False),
    "503": (MailboxThrottled, False),
    "500": (MailboxTransient, False),
    "timeout": (MailboxTransient, False),
    "drop": (MailboxTransient, False),
    "commit_then_drop": (MailboxTransient, True),
    "commit_then_503": (MailboxThrottled, True),
}


@pytest.mark.parametrize("kind", list(CREATE_FAULTS))
def test_each_fault_on_create_maps_to_its_port_exception_and_never_makes_two_copies(server, mailbox, mode, kind):
    expected, performed = CREATE_FAULTS[kind]
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    copy = copy_of(7)
    server.inject(Fault(kind=kind, method="POST", path_contains=create_path(mode), times=1, retry_after=1))
    started = time.monotonic()
    with pytest.raises(expected) as info:
        mailbox.create_copy(ALICE, folder, copy)
    assert time.monotonic() - started < 8
    if expected is MailboxThrottled:
        assert info.value.retry_after == 1
    assert len(folder_messages(server)) == (1 if performed else 0)  # the SDK did not re-POST the create
    # what the deliverer does next: ask Graph, then create only if it is not there
    if not mailbox.find_copy(ALICE, folder, "item-7"):
        mailbox.create_copy(ALICE, folder, copy)
    [message] = folder_messages(server)
    assert message["archiveItemId"] == "item-7" and message["isDraft"] is False and message["isRead"] is True


def test_a_503_without_retry_after_gets_a_default_wait(server, mailbox, mode):
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    server.inject(Fault(kind="503", method="POST", path_contains=create_path(mode)))
    with pytest.raises(MailboxThrottled) as info:
        mailbox.create_copy(ALICE, folder, copy_of(8))
    assert info.value.retry_after > 0 and info.value.status == 503


def test_idempotent_reads_are_retried_once_by_the_sdk(server, mailbox):
    server.inject(Fault(kind="503", method="GET", path_contains="/mailFolders", times=1, retry_after=0))
    assert mailbox.ensure_folder(ALICE, FOLDER)
    server.inject(Fault(kind="429", method="GET", path_contains="/messages", times=5, retry_after=1))
    with pytest.raises(MailboxThrottled):
        mailbox.find_copy(ALICE, mailbox.ensure_folder(ALICE, FOLDER), "item-x")


def test_the_graph_pipeline_keeps_a_bounded_retry_and_drops_the_middleware_that_does_nothing_here():
    from shared.adapters.graph.session import MAX_RETRIES, graph_middleware

    chain = graph_middleware()
    assert [type(m).__name__ for m in chain] == ["RedirectHandler", "_BoundedRetryHandler",
                                                 "ParametersNameDecodingHandler", "UserAgentHandler",
                                                 "GraphTelemetryHandler"]  # none of UNUSED_MIDDLEWARE: no hop, no span
    assert chain[1].options.max_retry == MAX_RETRIES


def test_a_long_retry_after_is_not_slept_in_the_function(server, mailbox):
    server.inject(Fault(kind="429", method="GET", path_contains="/mailFolders", times=3, retry_after=60))
    started = time.monotonic()
    with pytest.raises(MailboxThrottled) as info:
        mailbox.ensure_folder(ALICE, FOLDER)
    assert time.monotonic() - started < 5
    assert info.value.retry_after == 60


@pytest.mark.parametrize("kind,expected", [("500", MailboxTransient), ("timeout", MailboxTransient),
                                           ("drop", MailboxTransient), ("429", MailboxThrottled)])
def test_faults_on_reads_map_too(server, mailbox, kind, expected):
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    server.inject(Fault(kind=kind, method="GET", path_contains="/messages", times=3, retry_after=1))
    with pytest.raises(expected):
        mailbox.find_copy(ALICE, folder, "item-9")


def test_an_unknown_user_or_a_user_without_mailbox_is_permanent(server, mailbox):
    with pytest.raises(MailboxPermanent) as info:
        mailbox.ensure_folder("nobody@contoso.com", FOLDER)
    assert info.value.code == "ErrorInvalidUser"
    with pytest.raises(MailboxPermanent) as info:
        mailbox.ensure_folder("carl@contoso.com", FOLDER)
    assert info.value.code == "MailboxNotEnabledForRESTAPI" and info.value.status == 404


def test_an_import_whose_stamp_was_lost_is_finished_not_imported_again(server):
    mailbox = build_graph_mailbox(make_settings(server, GRAPH_CREATE_MODE="import_mime"))
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    server.inject(Fault(kind="drop", method="PATCH", times=1))
    with pytest.raises(MailboxTransient):
        mailbox.create_copy(ALICE, folder, copy_of(10))
    assert mailbox.find_copy(ALICE, folder, "item-10") is None  # imported, not yet stamped
    mailbox.create_copy(ALICE, folder, copy_of(10))
    [message] = folder_messages(server)
    assert message["archiveItemId"] == "item-10" and message["isRead"] is True and message["itemClass"] == ITEM_CLASS
    mailbox.close()


def test_the_mailbox_is_safe_to_use_from_many_threads(server, mailbox):
    folder = mailbox.ensure_folder(ALICE, FOLDER)
    errors = []

    def work(n):
        try:
            mailbox.create_copy(ALICE, folder, copy_of(100 + n))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(m["archiveItemId"] for m in folder_messages(server)) == sorted(f"item-{100 + n}" for n in range(12))


# --------------------------------------------------------------------------- directory
def test_directory_lookup_tells_users_apart(server, directory):
    alice = directory.lookup("Alice@Contoso.com")
    assert alice.is_valid_target and alice.primary_address == ALICE and alice.user_id == server.user_id(ALICE)
    alias = directory.lookup("alice.alias@contoso.com")
    assert alias.is_valid_target and alias.primary_address == ALICE and alias.address == "alice.alias@contoso.com"
    bob = directory.lookup("bob@contoso.com")
    assert bob.exists and not bob.enabled and not bob.is_valid_target and "disabled" in bob.reason
    carl = directory.lookup("carl@contoso.com")
    assert carl.exists and carl.enabled and not carl.has_mailbox and "mailbox" in carl.reason
    nobody = directory.lookup("nobody@contoso.com")
    assert not nobody.exists and nobody.reason
    odd = directory.lookup("o'hara@contoso.com")
    assert not odd.exists
    users_queries = [r for r in server.requests if r["path"].startswith("/v1.0/users?")]
    assert users_queries and all(r["consistency"] == "eventual" for r in users_queries)


@pytest.mark.parametrize("fault", [Fault(kind="500", method="GET", path_contains="/users", times=None),
                                   Fault(kind="429", method="GET", path_contains="/users", times=None, retry_after=1),
                                   Fault(kind="timeout", method="GET", path_contains="/users", times=None),
                                   Fault(kind="drop", method="GET", path_contains="/inbox", times=None)])
def test_a_directory_outage_is_never_read_as_not_a_user(server, directory, fault):
    server.inject(fault)
    with pytest.raises(DirectoryUnavailable):
        directory.lookup(ALICE)


def test_the_directory_feeds_the_mailbox_its_user_ids(server):
    settings = make_settings(server)
    directory, mailbox = build_graph_directory(settings), build_graph_mailbox(settings)
    assert directory.session is mailbox.session  # one loop thread and pool per process
    directory.lookup("alice.alias@contoso.com")
    before = sum(1 for r in server.requests if r["path"].startswith("/v1.0/users?"))
    mailbox.ensure_folder(ALICE, FOLDER)
    assert sum(1 for r in server.requests if r["path"].startswith("/v1.0/users?")) == before
    directory.close()
    assert not mailbox.session._closed  # still used by the mailbox
    mailbox.close()
    assert mailbox.session._closed


# --------------------------------------------------------------------------- credentials
def test_a_real_endpoint_never_gets_anonymous_access():
    settings = load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true", GRAPH_ENDPOINT="https://graph.microsoft.com",
                             GRAPH_CLIENT_ID="00000000-0000-0000-0000-000000000001")
    provider, credential = build_auth_provider(settings)
    assert type(provider).__name__ == "AzureIdentityAuthenticationProvider"
    assert type(credential).__name__ == "ManagedIdentityCredential"

    def broken(_settings):
        raise RuntimeError("no identity here")

    with pytest.raises(GraphConfigError, match="anonymous access is only allowed"):
        build_auth_provider(settings, broken)
    with pytest.raises(GraphConfigError):
        build_auth_provider(settings, lambda _s: None)


def test_a_loopback_endpoint_is_anonymous(server):
    provider, credential = build_auth_provider(make_settings(server))
    assert type(provider).__name__ == "AnonymousAuthenticationProvider" and credential is None


# --------------------------------------------------------------------------- the server itself
def test_the_server_makes_a_message_without_flags_a_draft_and_ignores_times_in_the_body(server):
    uid = server.user_id(ALICE)
    with httpx.Client(base_url=server.base_url + "/v1.0") as http:
        folder = http.post(f"/users/{uid}/mailFolders", json={"displayName": FOLDER}).json()["id"]
        dup = http.post(f"/users/{uid}/mailFolders", json={"displayName": FOLDER})
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "ErrorFolderExists"
        r = http.post(f"/users/{uid}/mailFolders/{folder}/messages",
                      json={"subject": "x", "sentDateTime": "2020-01-01T00:00:00Z"})
        assert r.status_code == 201
        gap = http.get(f"/users/{uid}/calendar")
        assert gap.status_code == 501 and "error" in gap.json()
    [message] = server.mailbox(ALICE)[FOLDER]
    assert message["isDraft"] is True and message["sentDateTime"] != "2020-01-01T00:00:00Z"
    assert message["itemClass"] == "IPM.Note"


def test_the_server_throttles_over_its_concurrency_limit_and_reports_the_peak(server):
    uid = server.user_id(ALICE)
    server.concurrency_limit, server.latency = 2, 0.3
    codes = []

    def call():
        with httpx.Client(base_url=server.base_url + "/v1.0") as http:
            r = http.get(f"/users/{uid}/mailFolders")
            codes.append((r.status_code, r.headers.get("Retry-After"),
                          r.json().get("error", {}).get("innerError", {}).get("code")))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for c in codes if c[0] == 200) >= 2
    assert any(c[0] == 429 and c[1] and c[2] == "MailboxConcurrency" for c in codes)
    assert server.max_in_flight(ALICE.upper()) >= 3


def test_the_server_refuses_an_authorization_header_on_the_upload_url(server):
    uid = server.user_id(ALICE)
    with httpx.Client(base_url=server.base_url + "/v1.0") as http:
        folder = http.post(f"/users/{uid}/mailFolders", json={"displayName": FOLDER}).json()["id"]
        mid = http.post(f"/users/{uid}/mailFolders/{folder}/messages", json={"subject": "x"}).json()["id"]
        session = http.post(f"/users/{uid}/messages/{mid}/attachments/createUploadSession",
                            json={"AttachmentItem": {"attachmentType": "file", "name": "a.bin", "size": 4}}).json()
        r = http.put(session["uploadUrl"], content=b"abcd",
                     headers={"Content-Range": "bytes 0-3/4", "Authorization": "Bearer x"})
        assert r.status_code == 401 and server.upload_authorization_seen == 1
        r = http.put(session["uploadUrl"], content=b"abcd", headers={"Content-Range": "bytes 0-3/4"})
        assert r.status_code == 201
    assert server.mailbox(ALICE)[FOLDER][0]["attachments"][0]["sha256"] == hashlib.sha256(b"abcd").hexdigest()


def test_sent_time_is_utc_with_z():
    rec = parse_record(make_eml(1, date="Tue, 24 Nov 2026 23:30:00 -0500"))
    assert rec.date == datetime(2026, 11, 25, 4, 30, tzinfo=timezone.utc)
    assert [a.address for a in rec.to] == ["alice@contoso.com", "pat@contoso.com"]
    assert rec.body_is_html and "hello 1" in rec.body and rec.attachments == []
