from __future__ import annotations

from email.message import EmailMessage

import pytest

from devtools.graph_server import GraphServer
from shared.adapters.graph import build_graph_directory, build_graph_mailbox
from shared.settings import load_settings

ALICE = "alice@contoso.com"
FOLDER = "WhatsApp Archiver"
ITEM_CLASS = "IPM.ExternalData.WhatsAppArchiver.Message"


@pytest.fixture
def server():
    srv = GraphServer(port=0).start()
    srv.add_user(ALICE, display_name="Alice", aliases=("alice.alias@contoso.com",))
    srv.add_user("bob@contoso.com", enabled=False)
    srv.add_user("carl@contoso.com", has_mailbox=False)
    yield srv
    srv.stop()


def make_settings(server, **extra):
    return load_settings(AzureWebJobsStorage="UseDevelopmentStorage=true", GRAPH_ENDPOINT=server.base_url,
                         GRAPH_TIMEOUT_SECONDS="2", **extra)


@pytest.fixture(params=["json", "import_mime"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def mailbox(server, mode):
    mb = build_graph_mailbox(make_settings(server, GRAPH_CREATE_MODE=mode))
    yield mb
    mb.close()


@pytest.fixture
def directory(server):
    d = build_graph_directory(make_settings(server))
    yield d
    d.close()


def make_eml(n: int = 1, *, attachments: list[tuple[str, str, bytes]] | None = None, date="Tue, 24 Nov 2026 10:15:30 +0100",
             subject: str | None = None) -> bytes:
    """A record shaped like the renderer's: mixed(alternative(text, html), attachments...)."""
    m = EmailMessage()
    m["Subject"] = subject or f"WhatsApp chat with Bob ({n})"
    m["From"] = "Bob Example <+15550001111@whatsapp.invalid>"
    m["To"] = "Alice Example <alice@contoso.com>, \"O'Neil, Pat\" <pat@contoso.com>"
    m["Date"] = date
    m["Message-ID"] = f"<item-{n}@archiver.invalid>"
    m["In-Reply-To"] = "<item-0@archiver.invalid>"
    m["References"] = "<item-0@archiver.invalid>"
    m["X-WhatsApp-Item-Id"] = f"item-{n}"
    m.set_content(f"hello {n}")
    m.add_alternative(f"<html><body><p>hello {n} – ü</p></body></html>", subtype="html")
    for name, ctype, data in attachments or []:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()
