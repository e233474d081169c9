"""The local Graph server acts on whole requests only, as Exchange does."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

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
