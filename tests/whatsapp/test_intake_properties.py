"""Property: whatever bytes and headers arrive, nothing is stored unless the signature is Meta's over those
exact bytes, and a signed body is stored once, byte for byte, under its sha256 (real Azurite)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import names
from shared.adapters.storage.clients import build_storage_clients
from shared.adapters.storage.queues import QueueStore
from shared.adapters.storage.webhook_bodies import WebhookBodies
from shared.pipeline.webhook_intake import WebhookConfig, handle_request
from shared.settings import load_settings

SECRET = "prop-secret"
CONFIG = WebhookConfig(app_secret=SECRET, verify_token="v", max_body_bytes=64 * 1024)


def meta_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048), header=st.one_of(st.none(), st.text(max_size=80),
                                                       st.from_regex(r"sha256=[0-9a-f]{64}", fullmatch=True)),
       signed=st.booleans())
def test_only_bodies_signed_by_meta_are_ever_stored(storage_connection_once, body, header, signed):
    bodies, queues = storage_connection_once
    before = set(bodies.container.list_blob_names())
    headers = {"X-Hub-Signature-256": meta_signature(body)} if signed else ({} if header is None else {"x-hub-signature-256": header})
    response = handle_request("POST", {}, headers, body, config=CONFIG, bodies=bodies, queues=queues)
    after = set(bodies.container.list_blob_names())
    genuine = signed or (header is not None and header.strip().lower() == meta_signature(body))
    if not genuine:
        assert response.status == 401 and after == before
    else:
        assert response.status == 200
        (name,) = (after - before) or [n for n in after if n.endswith(hashlib.sha256(body).hexdigest() + ".json")]
        assert bodies.get(name)[0] == body


@pytest.fixture
def storage_connection_once(storage_connection):
    clients = build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection))
    clients.blobs.create_container(names.WEBHOOKS)
    queues = QueueStore(clients.queues)
    queues.ensure_queues()
    return WebhookBodies(clients.blobs), queues


def test_the_function_path_refuses_an_oversized_body_even_when_signed(storage_connection_once):
    bodies, queues = storage_connection_once
    body = b"{" + b" " * CONFIG.max_body_bytes + b"}"
    response = handle_request("POST", {}, {"X-Hub-Signature-256": meta_signature(body)}, body, config=CONFIG,
                              bodies=bodies, queues=queues)
    assert response.status == 413 and list(bodies.container.list_blob_names()) == []
