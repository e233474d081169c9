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


def with_media(payload: dict, meta, data: bytes, *, declare_hash: bool = True) -> dict:
    """The payload with its (first) media object's sha256 made to match ``data``, served by ``meta`` under its id."""
    payload = copy.deepcopy(payload)
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", []) + change["value"].get("message_echoes", []):
                body = message.get(message.get("type"))
                if isinstance(body, dict) and "id" in body:
                    if declare_hash:
                        body["sha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
                    else:
                        body.pop("sha256", None)
                    meta.add(body["id"], data, body.get("mime_type") or "application/octet-stream")
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
