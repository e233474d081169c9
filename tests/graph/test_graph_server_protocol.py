"""The local Graph server acts on whole requests only, as Exchange does."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.graph.conftest import ALICE, FOLDER


def test_a_create_whose_client_dies_before_the_body_arrives_creates_nothing(server, mailbox):
    folder_id = mailbox.ensure_folder(ALICE, FOLDER)
    user_id = server.user_id(ALICE)
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall((f"POST /v1.0/users/{user_id}/mailFolders/{folder_id}/messages HTTP/1.1\r\n"
                      f"Host: {parts.netloc}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n").encode())
    time.sleep(0.3)  # killed after the headers: the server sees the connection close with no body at all
    assert server.mailbox(ALICE).get(FOLDER, []) == []


def test_delete_is_a_soft_delete_and_permanent_delete_removes_for_good(server, mailbox):
    from tests.graph.test_graph_adapter import copy_of

    folder_id = mailbox.ensure_folder(ALICE, FOLDER)
    soft = mailbox.create_copy(ALICE, folder_id, copy_of(1)).message_id
    hard = mailbox.create_copy(ALICE, folder_id, copy_of(2)).message_id
    session, user_id = mailbox.session, server.user_id(ALICE)
    session.call(lambda: session.client.users.by_user_id(user_id).messages.by_message_id(soft).delete(), "delete")
    session.call(lambda: session.client.users.by_user_id(user_id).messages.by_message_id(hard).permanent_delete.post(),
                 "permanentDelete")
    folders = server.mailbox(ALICE)
    assert folders[FOLDER] == []
    assert [m["id"] for m in folders["Deleted Items"]] == [soft]  # where the user (and Content Search) finds it
    assert [m["id"] for m in server.purged(ALICE)] == [hard]


def test_over_its_request_rate_a_mailbox_answers_429_with_the_seconds_until_the_window_admits_one_more(server):
    server.add_user("dana@contoso.com")
    alice, dana = server.user_id(ALICE), server.user_id("dana@contoso.com")
    server.rate_limit = (3, 1.5)  # Exchange's 10,000 per 600 s, scaled down; a sliding window per mailbox
    with httpx.Client(base_url=server.base_url + "/v1.0") as http:
        answers = [http.get(f"/users/{alice}/mailFolders") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "ApplicationThrottled"
        assert refused.headers["Retry-After"] == "2"  # 1.5 s less the moments spent, rounded up
        assert http.get(f"/users/{alice}").status_code == 200  # the directory does not count against the mailbox
        assert http.get(f"/users/{dana}/mailFolders").status_code == 200  # each mailbox has its own window
        assert http.get(f"/users/{alice}/mailFolders").status_code == 429  # a refused request did not free room
        time.sleep(int(refused.headers["Retry-After"]))
        assert http.get(f"/users/{alice}/mailFolders").status_code == 200  # after Retry-After it is admitted
    answered = [r["status"] for r in server.requests if r["mailbox"] == alice]
    assert answered == [200, 200, 200, 429, 429, 200]


def test_the_request_rate_limit_is_off_unless_set(server):
    uid = server.user_id(ALICE)
    with httpx.Client(base_url=server.base_url + "/v1.0") as http:
        assert all(http.get(f"/users/{uid}/mailFolders").status_code == 200 for _ in range(50))
