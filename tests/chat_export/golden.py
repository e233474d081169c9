"""Golden item lists: each fixture parsed and built (no storage), summarised per item.

Regenerate after a deliberate change: .venv/bin/python -m tests.chat_export.golden > tests/chat_export/golden.json
"""

from __future__ import annotations

import hashlib
import json
from zoneinfo import ZoneInfo

from shared.domain.chat_export.build import Context, FileRef, build_item
from shared.domain.chat_export.ids import EntryIds
from shared.domain.chat_export.parser import Entry, authors, parse, scan
from shared.domain.items import parse_item
from tests.chat_export.fixtures import FIXTURES, fixture_lines

OWNER = "exporter@contoso.com"


def items_of(text: str, media: dict[str, bytes], *, chat: str = "chat", zone: str = "Europe/London",
             owner_name: str | None = None, region: str = "GB") -> tuple[list[dict], list]:
    lines = fixture_lines(text)
    profile = scan(lines)
    ctx = Context(owner=OWNER, owner_name=owner_name or profile.exporter_name, chat=chat, conversation_id="chat-export-x",
                  group=True, zone=ZoneInfo(zone), region=region, profile=profile, authors=authors(lines, profile))

    def files(name):
        data = media.get(name)
        return None if data is None else FileRef(name, hashlib.sha256(data).hexdigest(), len(data))

    out, problems, ids_of = [], [], EntryIds(OWNER, chat, region)  # the importer's own id rule
    for entry in parse(lines, profile):
        if not isinstance(entry, Entry):
            problems.append(entry)
            continue
        item, _ = build_item(entry, ctx, item_id=ids_of(entry)[0], files=files)
        parse_item(item)  # every item meets the contract
        out.append(item)
    return out, problems


def summary(item: dict) -> dict:
    s = item["sender"]
    return {
        "type": item["type"], "kind": item["provenance"]["line kind"], "sent_at": item["sent_at"],
        "sender": s.get("email") or s.get("phone") or s.get("user_id"), "text": item.get("text"),
        "recipients": [r.get("email") or r.get("phone") or r.get("user_id") for r in item["recipients"]],
        "attachments": [(a["file_name"], a["kind"], a["sha256"][:12]) for a in item.get("attachments", [])],
        "extra": {k: item[k] for k in ("location", "call", "event", "contacts") if k in item},
    }


def golden() -> dict:
    out = {}
    for name, (_upload, text, media, _order, _platform) in FIXTURES.items():
        items, problems = items_of(text, media)
        out[name] = {"items": [summary(i) for i in items], "problems": [[p.line_no, p.reason] for p in problems]}
    return out


if __name__ == "__main__":
    print(json.dumps(golden(), ensure_ascii=False, indent=1))
