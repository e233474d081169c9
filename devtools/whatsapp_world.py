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


def _envelope(field: str, value: dict) -> dict:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": BUSINESS_NUMBER.lstrip("+"), "phone_number_id": "106540352242922"},
             **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": field, "value": value}]}]}


def demo_payloads(meta: MetaMediaServer, when) -> list[dict]:
    """A short chat of the business number with a customer, as Meta would POST it: a message in, a PDF out
    from the phone app (coexistence echo), an edit, a revoke, a call, delivery statuses."""
    import base64
    import hashlib

    customer, uid = "447700900123", "GB.13491208655302741918"
    ts = lambda minutes: str(int(when.timestamp()) + minutes * 60)  # noqa: E731 - a tiny local helper
    pdf = b"%PDF-1.4\n% WhatsApp Business demo quote\n" + b"0" * 4000 + b"\n%%EOF\n"
    meta.add("880001", pdf, "application/pdf")
    contact = [{"profile": {"name": "Kerry Fisher"}, "wa_id": customer, "user_id": uid}]
    return [
        _envelope("messages", {"contacts": contact, "messages": [
            {"from": customer, "from_user_id": uid, "id": "wamid.DEMO.IN1", "timestamp": ts(0), "type": "text",
             "text": {"body": "Hi, can you send the updated quote? / Grüße"}}]}),
        _envelope("smb_message_echoes", {"message_echoes": [
            {"from": BUSINESS_NUMBER.lstrip("+"), "to": customer, "to_user_id": uid, "id": "wamid.DEMO.OUT1",
             "timestamp": ts(2), "type": "document",
             "document": {"filename": "quote-Q4.pdf", "mime_type": "application/pdf", "id": "880001",
                          "sha256": base64.b64encode(hashlib.sha256(pdf).digest()).decode(), "caption": "Here it is"}},
            {"from": BUSINESS_NUMBER.lstrip("+"), "to": customer, "to_user_id": uid, "id": "wamid.DEMO.OUT2",
             "timestamp": ts(3), "type": "text", "text": {"body": "Price valid until Friday."}}]}),
        _envelope("messages", {"contacts": contact, "messages": [
            {"from": customer, "from_user_id": uid, "id": "wamid.DEMO.IN2", "timestamp": ts(5), "type": "edit",
             "edit": {"original_message_id": "wamid.DEMO.IN1", "message": {"type": "text",
                                                                           "text": {"body": "Hi, can you send the quote?"}}}},
            {"from": customer, "from_user_id": uid, "id": "wamid.DEMO.IN3", "timestamp": ts(6), "type": "revoke",
             "revoke": {"original_message_id": "wamid.DEMO.IN1"}}]}),
        _envelope("calls", {"contacts": contact, "calls": [
            {"id": "wacid.DEMO1", "from": customer, "to": BUSINESS_NUMBER.lstrip("+"), "event": "connect",
             "timestamp": ts(8), "direction": "USER_INITIATED"}]}),
        _envelope("calls", {"contacts": contact, "calls": [
            {"id": "wacid.DEMO1", "from": customer, "to": BUSINESS_NUMBER.lstrip("+"), "event": "terminate",
             "timestamp": ts(11), "direction": "USER_INITIATED", "status": "COMPLETED", "start_time": ts(8),
             "end_time": ts(11), "duration": 180}]}),
        _envelope("messages", {"statuses": [
            {"id": "wamid.DEMO.OUT2", "status": "delivered", "timestamp": ts(4), "recipient_id": customer},
            {"id": "wamid.DEMO.OUT2", "status": "read", "timestamp": ts(7), "recipient_id": customer}]}),
    ]


def demo_section(world, out, day, _say) -> int:
    """A WhatsApp Business number captured straight from Meta's webhooks, next to the feed's day (issue 9)."""
    from collections import Counter
    from datetime import datetime, timezone

    from devtools import meta_sender
    from shared import names
    from shared.cli.run import run_cycle

    side = add_whatsapp(world)
    app = world.archiver()
    _say(f"\nWhatsApp Business number {side.mailbox} by webhook (Meta's media stand-in {side.meta.base_url}):")
    with serve_webhook(app) as url:
        statuses = [meta_sender.send(url, p, side.app_secret).status_code
                    for p in demo_payloads(side.meta, datetime.combine(day, datetime.min.time(), timezone.utc))]
        _say(f"  {len(statuses)} signed POSTs to {url}: {Counter(statuses)}")
    summary = run_cycle(app, workers=4, retry_delay_seconds=1, progress=lambda _m: None)
    app.close()
    _say(f"  {summary.webhook_bodies} webhook bodies normalised into items; copies delivered {summary.delivered}, "
         f"failed {summary.failed}")
    for address in (side.mailbox, "alice@contoso.com"):
        messages = [m for m in world.graph.mailbox(address).get("WhatsApp Archiver", [])
                    if str(m.get("archiveItemId", "")).startswith(("wamid.DEMO", "wacid.DEMO"))]
        kinds = Counter((m.get("itemClass") or "?").rsplit(".", 1)[-1] for m in messages)
        _say(f"  {address}: {len(messages)} WhatsApp Business records: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    (out / "whatsapp").mkdir(exist_ok=True)
    for name in app.blobs.list(names.MIME):
        if "DEMO" in name:
            (out / "whatsapp" / name.replace("/", "_")).write_bytes(app.blobs.get(names.MIME, name))
    _say(f"  their .eml: {out / 'whatsapp'}")
    return summary.failed
