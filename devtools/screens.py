"""Screenshots of what a reviewer sees: every item type's record, a transcript and a daily report, at 600 px.

    .venv/bin/python -m devtools.screens [OUT_DIR] [--dark]

Writes OUT_DIR/<name>.html and OUT_DIR/<name>.png (headless Chromium: ``chromium`` or
``chromium-browser`` on PATH). The records are rendered exactly as archived; only for the browser
are ``cid:`` pictures swapped for ``data:`` URLs of the record's own parts (a mail client resolves
``cid:`` itself). ``--dark`` also renders with Chromium's forced dark mode, the way clients that
recolour mail for dark mode do.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

from devtools.sample_day import _png, photo_png, sticker_png
from shared.domain.items import Item
from shared.domain.record import RenderOptions, render_record, render_transcript
from shared.pipeline.report import build_report, render_html
from tests.domain.record_samples import BLOBS, RAW, DictSource, att, mailbox_of

OPTIONS = RenderOptions(display_timezone="Europe/Berlin", default_region="US")


def _photo() -> bytes:
    return _png(640, 400, lambda x, y: (200 - y // 4, 220 - x // 8, 160 + (x * y) % 60) if (x // 40 + y // 40) % 2
                else (240, 235 - y // 8, 220))


def samples() -> tuple[dict[str, dict], dict[str, bytes]]:
    blobs = {**BLOBS, "photo": _photo(), "sticker": sticker_png(1), "small": photo_png(2)}
    BLOBS.update(blobs)  # att() reads the module's table
    raw = {k: json.loads(json.dumps(v)) for k, v in RAW.items()}
    files = raw["message_attachments"]["attachments"]
    files[0] = att("att-1", "IMG-20261122-WA0001.png", "image/png", "image", "photo", caption="The whiteboard, *final* numbers")
    files[5] = att("att-6", "sticker.png", "image/png", "sticker", "sticker")
    raw["photo_with_caption"] = {**raw["message_text"], "id": "tm-0100", "text": None, "direction": "inbound",
                                 "sender": raw["reaction"]["sender"],
                                 "attachments": [att("att-9", "IMG-20261122-WA0009.png", "image/png", "image", "small",
                                                     caption="Photo of the _signed_ contract")]}
    raw["message_formatting"] = {**raw["message_text"], "id": "tm-0101", "text":
                                 "*Bold*, _italic_, ~struck~, `inline code` and\n```a monospace\nblock```\n"
                                 "snake_case_stays and 2*3*4 too. <b>not html</b>"}
    return raw, blobs


def inline_pictures(eml: bytes, page: str) -> str:
    msg = BytesParser(policy=policy.default).parsebytes(eml)
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid:
            data = base64.b64encode(part.get_payload(decode=True) or b"").decode()
            page = page.replace(f"cid:{str(cid).strip().strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return page


def report_page() -> str:
    day = "2026-11-22"
    rows = [{"RowKey": f"item|{i}", "item_id": f"tm-{i:04d}", "stage": "converted"} for i in range(40)]
    rows += [{"RowKey": f"copy|{i}|{m}", "item_id": f"tm-{i:04d}", "mailbox": m, "outcome": "imported"}
             for i in range(40) for m in (("alice@contoso.com", "bob@contoso.com") if i % 3 else ("alice@contoso.com",))]
    rows += [{"RowKey": "item|x", "item_id": "tm-x", "stage": "unmapped", "participants": "+4915112345678", "reason": "no mailbox"},
             {"RowKey": "item|y", "item_id": "tm-y", "stage": "rejected", "reason": "forwarded: Input should be a valid boolean"},
             {"RowKey": "copy|z|carol", "item_id": "tm-z", "mailbox": "carol@contoso.com", "outcome": "failed",
              "reason": "MailboxNotEnabledForRESTAPI"}]
    runs = [{"RowKey": "run-1", "report_date": day, "status": "succeeded", "started": "2026-11-22T02:00:00+00:00",
             "finished": "2026-11-22T02:04:10+00:00", "items": 42}]
    report = build_report(day, rows, runs, now=datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc))
    report.sections.append({"title": "Re-sent items", "columns": ["item id", "note"],
                            "rows": [["tm-0007", "the feed re-sent it with a changed text; kept beside the first"]]})
    end = date.fromisoformat(day)
    history = [{"date": (end - timedelta(days=d)).isoformat(), "items_available": 30 + (d * 7) % 23,
                "copies": 45 + (d * 11) % 30, "failed": (d % 6 == 0) * 3, "unmapped": d % 4} for d in range(1, 30) if d != 9]
    return render_html(report, history)


def main(argv: list[str]) -> int:
    dark = "--dark" in argv
    args = [a for a in argv if not a.startswith("--")]
    out = Path(args[0] if args else tempfile.mkdtemp(prefix="screens-"))
    out.mkdir(parents=True, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    raw, blobs = samples()
    items = {k: Item.model_validate(v) for k, v in raw.items()}
    context = {i.id: i for i in items.values()}
    pages: dict[str, str] = {}
    for name, item in sorted(items.items()):
        record = render_record(item, mailbox_of=mailbox_of, attachments=DictSource(blobs), options=OPTIONS,
                               context={k: v for k, v in context.items() if k != item.id})
        pages[name] = inline_pictures(record.eml, record.html)
    group = ("message_text", "message_attachments", "edit", "deletion", "deletion_without_text", "reaction",
             "reaction_removed", "call_declined", "event_participant_added", "message_location_contacts",
             "message_formatting", "photo_with_caption")
    start = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
    day_items = [Item.model_validate({**raw[n], "sent_at": (start + timedelta(minutes=k)).isoformat()})
                 for k, n in enumerate(group)]
    transcript = render_transcript(day_items[0].conversation, "2026-11-22", day_items, mailbox_of=mailbox_of,
                                   attachments=DictSource(blobs), options=OPTIONS)
    pages["transcript"] = inline_pictures(transcript.eml, transcript.html)
    pages["report"] = report_page()
    for name, page in pages.items():
        path = out / f"{name}.html"
        path.write_text(page, encoding="utf-8")
        if browser is None:
            continue
        height = 2600 if name in ("transcript", "report") else 1300
        for suffix, extra in (("", []), ("-dark", ["--blink-settings=forceDarkModeEnabled=true"])) if dark else (("", []),):
            subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--window-size=600,{height}", f"--screenshot={out / f'{name}{suffix}.png'}", *extra,
                            path.as_uri()], check=True, capture_output=True, timeout=120)
    print(f"{len(pages)} pages in {out}" + ("" if browser else " (no chromium on PATH: HTML only)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
