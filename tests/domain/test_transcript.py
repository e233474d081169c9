"""Transcript records: one conversation's day in one .eml, items in order, nothing left out.

UPDATE_GOLDEN=1 rewrites the golden transcript (review it before committing).
"""

from __future__ import annotations

import os
import random
import re
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

from shared.domain.items import Conversation, Item
from shared.domain.record import RenderOptions, render_record
from shared.domain.record.transcript import TRANSCRIPT_CLASS, render_transcript, transcript_archive_id
from shared.pipeline.messages import item_key
from shared.pipeline.transcripts import Planned, plan_transcripts
from tests.domain.record_samples import BLOBS, RAW, DictSource, mailbox_of, sha

GOLDEN = Path(__file__).parent / "golden" / "transcript_q4_pricing.eml"
OPTIONS = RenderOptions(display_timezone="Europe/Berlin", default_region="US")
DAY = "2026-11-22"
GROUP = ("message_text", "message_attachments", "edit", "deletion", "deletion_without_text", "reaction",
         "reaction_removed", "call_declined", "event_participant_added", "message_location_contacts")


def day_items() -> list[Item]:
    """The group's items, one minute apart in this order (the per-item samples share one sent_at)."""
    start = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
    out = []
    for n, name in enumerate(GROUP):
        raw = {**RAW[name], "sent_at": (start + timedelta(minutes=n)).isoformat()}
        out.append(Item.model_validate(raw))
    return out


def conv(items: list[Item]) -> Conversation:
    return items[-1].conversation


def render(items: list[Item], **kw):
    kw.setdefault("attachments", DictSource())
    kw.setdefault("options", OPTIONS)
    return render_transcript(conv(items), DAY, items, mailbox_of=mailbox_of, **kw)


def parse(eml: bytes):
    return BytesParser(policy=policy.default).parsebytes(eml)


def test_golden_transcript():
    produced = render(day_items()).eml
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(produced)
    assert GOLDEN.exists(), "no golden transcript: run with UPDATE_GOLDEN=1 and review it"
    assert produced == GOLDEN.read_bytes(), "transcript differs from its golden file (UPDATE_GOLDEN=1 after review)"


def test_items_in_sent_order_then_id_and_the_same_bytes_whatever_order_they_come_in():
    items = day_items()
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    record = render(items)
    assert render(shuffled).eml == record.eml == render(items).eml
    msg = parse(record.eml)
    assert msg.get_all("X-WhatsApp-Item-Id") == [i.id for i in items]
    entries = [int(n) for n in re.findall(r"^#(\d+) of 10 ", record.text, flags=re.M)]
    assert entries == list(range(1, 11))
    positions = [record.text.index(f"Item id:          {i.id}\n") for i in items]
    assert positions == sorted(positions)
    # same sent_at: ordered by id
    same = [Item.model_validate({**RAW[n], "sent_at": "2026-11-22T09:00:00Z"}) for n in ("edit", "message_text")]
    assert parse(render(same).eml).get_all("X-WhatsApp-Item-Id") == sorted(i.id for i in same)


def test_headers_name_the_conversation_every_participant_and_every_item():
    items = day_items()
    record = render(items)
    msg = parse(record.eml)
    assert record.item_class == TRANSCRIPT_CLASS == msg["X-WhatsApp-Item-Class"]
    assert msg["Subject"] == f"WhatsApp transcript: Q4 pricing — {DAY} (10 items)"
    assert msg["From"].addresses[0].domain == "whatsapp.invalid"
    to = {a.addr_spec for a in msg["To"].addresses}
    assert {"alice@contoso.com", "bob@contoso.com", "4915112345678@whatsapp.invalid"} <= to
    assert msg["X-WhatsApp-Conversation-Id"] == "grp-889" and msg["X-WhatsApp-Transcript-Day"] == DAY
    assert msg["X-WhatsApp-Item-Count"] == "10"
    assert msg["Date"].datetime == items[-1].sent_at
    assert record.message_id == msg["Message-ID"].strip()
    assert render(items[:-1]).message_id != record.message_id  # another set of items, another id


def test_edits_and_deletions_are_shown_inline_and_linked_to_their_target():
    record = render(day_items())
    # message_text is entry #1; the edit (#3) and the deletion (#4) point at it
    assert "In transcript:    edits entry #1 (item id tm-0001" in record.text
    assert "In transcript:    deletes entry #1 (item id tm-0001" in record.text
    assert "--- New text ---\nDraft attached, numbers on page 3.\n" in record.text
    assert "--- Deleted text (kept by the capture service) ---\nDraft attached, numbers on page 2.\n" in record.text
    assert 'id="item-1"' in record.html and 'href="#item-1"' in record.html
    # a target outside the transcript is said to be elsewhere, not silently dropped
    alone = render([Item.model_validate({**RAW["edit"]})])
    assert "item id tm-0001: not in this transcript (an earlier record)" in alone.text


def test_each_entry_reads_as_the_items_own_record_does():
    items = day_items()
    transcript = render(items).text
    for item in items:
        own = render_record(item, mailbox_of=mailbox_of, attachments=DictSource(), options=OPTIONS).text
        facts = own.split("\n\n", 1)[0]  # title, headline
        assert facts in transcript


def test_every_attachment_embedded_once_verified_and_partial_when_not():
    items = day_items()
    record = render(items)
    files = [f for i in items for f in i.all_attachments]
    assert len(files) == 6 and not record.partial
    assert list(record.embedded) == [f.sha256 for f in files]
    parts = [p for p in parse(record.eml).iter_attachments()]
    assert [p.get_content() for p in parts] == [BLOBS[k] for k in ("photo", "video", "audio", "voice", "pdf", "sticker")]

    bad = render(items, attachments=DictSource(override={"att-5": b"not the pdf"}))
    assert bad.partial and [o.reason for o in bad.omitted] == ["sha256-mismatch"]
    assert parse(bad.eml)["X-WhatsApp-Partial"] == "true"
    assert sha(BLOBS["pdf"]) not in bad.embedded


def test_over_the_size_budget_files_are_named_not_embedded_and_the_record_stays_under_it():
    big = bytes(range(256)) * 800  # 200 KiB
    blobs = {**BLOBS, "big": big}
    extra = {**RAW["message_text"], "id": "tm-big", "sent_at": "2026-11-22T10:00:00Z", "text": "the big one",
             "attachments": [{"id": "att-big", "file_name": "big.bin", "content_type": "application/octet-stream",
                              "size": len(big), "sha256": sha(big), "kind": "document"}]}
    items = day_items() + [Item.model_validate(extra)]
    full = render(items, attachments=DictSource(blobs))
    assert not full.partial and len(full.embedded) == 7
    budget = len(full.eml) - 1000
    record = render(items, attachments=DictSource(blobs),
                    options=RenderOptions(display_timezone="Europe/Berlin", max_item_bytes=budget))
    assert record.partial and len(record.eml) <= budget
    assert [(o.attachment.id, o.reason) for o in record.omitted] == [("att-big", "too-large")]
    assert len(record.embedded) == 6  # the small ones still fit
    assert "NOT EMBEDDED" in record.text and parse(record.eml)["X-WhatsApp-Partial"] == "true"


def test_hostile_strings_cannot_break_the_message():
    hostile = "x\r\nBcc: evil@example.com\r\n\r\n<script>alert(1)</script> =?utf-8?b?QUJD?= \u202e\x00"
    items = [Item.model_validate({**RAW["message_text"], "id": "tm-h1", "text": hostile,
                                  "conversation": {"id": "c\r\nX-Evil: 1", "kind": "group", "title": hostile},
                                  "sender": {"phone": "+447700900123", "name": hostile}}),
             Item.model_validate({**RAW["deletion"], "id": "tm-h2", "target_id": "tm-h1", "original_text": hostile,
                                  "conversation": {"id": "c\r\nX-Evil: 1", "kind": "group", "title": hostile}})]
    record = render_transcript(items[0].conversation, DAY, items, mailbox_of=mailbox_of, options=OPTIONS)
    msg = parse(record.eml)
    assert not msg.defects and msg["Bcc"] is None and msg["X-Evil"] is None
    assert "<script>" not in record.html and "&lt;script&gt;" in record.html
    assert msg.get_all("X-WhatsApp-Item-Id") == ["tm-h1", "tm-h2"]
    assert hostile.replace("\x00", "") in msg.get_body(("plain",)).get_content().replace("\x00", "")


def test_each_mailbox_gets_only_the_items_it_took_part_in():
    def e(item_id, conversation, *mailboxes):
        return {"item_id": item_id, "conversation_id": conversation, "mailboxes": list(mailboxes)}

    plans = plan_transcripts([e("1", "grp", "a@x", "b@x"), e("2", "grp", "a@x"), e("3", "grp", "a@x", "b@x"),
                              e("4", "dm", "b@x"), e("5", "grp", "c@x", "a@x", "b@x")])
    assert plans == sorted([Planned("grp", ("1", "2", "3", "5"), ("a@x",)), Planned("grp", ("1", "3", "5"), ("b@x",)),
                            Planned("grp", ("5",), ("c@x",)), Planned("dm", ("4",), ("b@x",))])


def test_archive_id_is_plain_stable_and_set_dependent():
    a = transcript_archive_id("grp-889", DAY, ["tm-2", "tm-1"])
    assert a == transcript_archive_id("grp-889", DAY, ["tm-1", "tm-2"])
    assert a != transcript_archive_id("grp-889", DAY, ["tm-1"])
    assert a != transcript_archive_id("grp-890", DAY, ["tm-1", "tm-2"])
    assert item_key(a) == a  # storage-safe as it is: readable in the ledger
