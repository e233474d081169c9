"""The WhatsApp Cloud API side of the local world (issue 9): Meta's media endpoints, a mapped business
number, the webhook served over real HTTP. Used by tests/whatsapp, the demo and the bench; never deployed.

    side = add_whatsapp(world)              # Meta media stand-in + settings + the business number's mailbox
    app = world.archiver()
    with serve_webhook(app) as url:         # the CLI server's handler, in a thread, on a free port
        meta_sender.send(url, payload, side.app_secret)
    run_cycle(app)                          # webhooks -> items -> records in the business mailbox
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from devtools.meta_media_server import MetaMediaServer

APP_SECRET = "local-app-secret"  # the local world's secrets; not secrets
VERIFY_TOKEN = "local-verify-token"
BUSINESS_NUMBER = "+15550783881"  # the fixtures' business number (tests/whatsapp_domain/fixtures)
BUSINESS_MAILBOX = "sales@contoso.com"


@dataclass
class WhatsAppSide:
    meta: MetaMediaServer
    mailbox: str
    app_secret: str = APP_SECRET
    verify_token: str = VERIFY_TOKEN

    def settings(self) -> dict[str, str]:
        return {"WHATSAPP_APP_SECRET": self.app_secret, "WHATSAPP_VERIFY_TOKEN": self.verify_token,
                "WHATSAPP_ACCESS_TOKEN": self.meta.token, "WHATSAPP_GRAPH_BASE_URL": self.meta.base_url}


def add_whatsapp(world, *, mailbox: str = BUSINESS_MAILBOX, with_day_mapping: bool = True,
                 feed: bool = True) -> WhatsAppSide:
    """Start the Meta media stand-in, give the business number a Microsoft 365 mailbox and a mapping row,
    and point the world's settings at it. ``feed=False`` unsets FEED_BASE_URL (webhooks only)."""
    meta = MetaMediaServer().start()
    world._stack.callback(meta.stop)
    world.graph.add_user(mailbox, display_name="Sales (WhatsApp Business)")
    side = WhatsAppSide(meta=meta, mailbox=mailbox)
    world.overrides.update(side.settings())
    if not feed:
        world.overrides["FEED_BASE_URL"] = ""
    rows = world.day.mapping_csv.rstrip(b"\n") + b"\n" if with_day_mapping else b"External User ID,Microsoft 365 User Mailbox\n"
    world.upload_mapping(rows + f"{BUSINESS_NUMBER},{mailbox}\n".encode())
    return side


@contextmanager
def serve_webhook(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The `python -m shared webhook serve` handler on a free port in a thread; yields the callback URL."""
    from shared.cli.webhook import make_server
    from shared.pipeline.webhook_intake import WEBHOOK_PATH

    server = make_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="webhook")
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}{WEBHOOK_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
