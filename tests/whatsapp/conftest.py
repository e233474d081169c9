"""A local world with the WhatsApp Cloud API side: Azurite, the local Graph server, Meta's media stand-in,
and the webhook served over real HTTP by the CLI server's handler. Payloads are the domain's fixtures,
serialised and signed the way Meta does (devtools.meta_sender, signing written independently of the code)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path

import pytest

from devtools import meta_sender
from devtools.local_world import start_world
from devtools.whatsapp_world import add_whatsapp, serve_webhook
from tests.e2e.conftest import FAST

FIXTURES = Path(__file__).resolve().parents[1] / "whatsapp_domain" / "fixtures"
FOLDER = "WhatsApp Archiver"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def with_media(payload: dict, meta, data: bytes | None = None, *, declare_hash: bool = True) -> dict:
    """The payload with every media object's sha256 made to match bytes that ``meta`` serves under its id
    (``data``, else bytes derived from the media id); a pre-signed ``url`` points at ``meta`` too."""
    payload = copy.deepcopy(payload)

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("id"), str) and "mime_type" in node:
                content = data if data is not None else f"file {node['id']} ".encode() * 200
                meta.add(node["id"], content, node["mime_type"])
                if declare_hash:
                    node["sha256"] = base64.b64encode(hashlib.sha256(content).digest()).decode()
                else:
                    node.pop("sha256", None)
                if "url" in node:
                    node["url"] = f"http://127.0.0.1:{meta.port}/download/{node['id']}?sig=presigned"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload)
    return payload


@pytest.fixture
def wa_world(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        world.side = add_whatsapp(world, with_day_mapping=False, feed=False)
        yield world


@pytest.fixture
def webhook(wa_world):
    """(app, url, post): post(payload_or_bytes, **kw) sends it signed as Meta does."""
    app = wa_world.archiver()
    with serve_webhook(app) as url:
        def post(payload, **kw):
            body = payload if isinstance(payload, bytes) else meta_sender.meta_bytes(payload)
            kw.setdefault("app_secret", wa_world.side.app_secret)
            return meta_sender.post(url, body, **kw)
        yield app, url, post
    app.close()


def records(world, mailbox: str | None = None) -> list[dict]:
    return world.graph.mailbox(mailbox or world.side.mailbox).get(FOLDER, [])


def by_item(world, mailbox: str | None = None) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in records(world, mailbox):
        out.setdefault(m["archiveItemId"], []).append(m)
    return out


def quiet(_m: str) -> None:
    pass
