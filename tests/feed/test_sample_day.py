"""The generated day (devtools/sample_day.py): valid, deterministic, realistic, and its expectation consistent."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import struct
import subprocess
import sys
import wave
import zlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from devtools.sample_day import PEOPLE, USERS, generate_day
from shared.domain.items import ItemRejected, parse_item
from tests.feed.conftest import DAY, DAY_END, DAY_START

REPO = Path(__file__).resolve().parents[2]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def files_of(raw: dict) -> list[dict]:
    files = list(raw.get("attachments") or [])
    if isinstance(raw.get("call"), dict) and raw["call"].get("recording"):
        files.append(raw["call"]["recording"])
    return files


def test_the_same_seed_gives_the_same_day_and_another_seed_another(sample):
    again = generate_day(DAY)
    assert json.dumps(again.items, sort_keys=True) == json.dumps(sample.items, sort_keys=True)
    assert again.attachments == sample.attachments
    assert again.mapping_csv == sample.mapping_csv and again.expected == sample.expected
    other = generate_day(DAY, seed=8)
    assert [i["captured_at"] for i in other.items] != [i["captured_at"] for i in sample.items]
    assert other.expected_outcomes.values().__len__() == len(other.items)


def test_size_is_realistic_and_scale_multiplies_it(sample):
    assert 40 <= len(sample.items) <= 70
    double = generate_day(DAY, scale=2)
    assert len(double.items) == 2 * len(sample.items)
    assert len(double.attachments) == 2 * len(sample.attachments)
    assert len({i["id"] for i in double.items}) == len(double.items)
    assert len({hashlib.sha256(b).hexdigest() for b in double.attachments.values()}) == len(double.attachments)
    assert Counter(double.expected_outcomes.values()) == Counter({k: 2 * v for k, v in Counter(sample.expected_outcomes.values()).items()})
    with pytest.raises(ValueError):
        generate_day(DAY, scale=0)


def test_every_item_but_the_deliberate_reject_parses(sample):
    rejected = []
    for raw in sample.items:
        try:
            parse_item(raw)
        except ItemRejected as exc:
            rejected.append((raw["id"], exc.reason))
    assert [r[0] for r in rejected] == sample.reject_ids
    assert len(rejected) == 1 and "recipients" in rejected[0][1]


def test_items_are_ordered_spread_over_the_day_and_sent_no_later_than_captured(sample):
    keys = [(when(i["captured_at"]), i["id"]) for i in sample.items]
    assert keys == sorted(keys)
    assert all(DAY_START <= k[0] < DAY_END for k in keys)
    assert all(i["captured_at"].endswith("Z") for i in sample.items)
    assert all(when(i["sent_at"]) <= when(i["captured_at"]) for i in sample.items)
    hours = {k[0].hour for k in keys}
    assert len(hours) >= 8
    late = [i for i in sample.items if when(i["sent_at"]) < DAY_START]
    assert len(late) >= 10  # captured after midnight, sent the evening before: windows are on captured_at
    assert sum(1 for k in keys if k[0] < DAY_START + timedelta(minutes=10)) >= 11


def test_every_attachment_hashes_to_its_sha256_and_is_a_real_file(sample):
    declared = {}
    for raw in sample.items:
        for f in files_of(raw):
            assert f["id"] not in declared, "each attachment is named once"
            declared[f["id"]] = f
    assert set(declared) == set(sample.attachments)
    kinds = Counter()
    for attachment_id, meta in declared.items():
        data = sample.attachments[attachment_id]
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        assert meta["size"] == len(data) > 0
        kinds[meta["content_type"]] += 1
        if meta["content_type"] == "image/png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            width, height = struct.unpack(">II", data[16:24])
            idat = data.index(b"IDAT")
            length = struct.unpack(">I", data[idat - 4:idat])[0]
            raw = zlib.decompress(data[idat + 4:idat + 4 + length])
            channels = 4 if data[25] == 6 else 3
            assert len(raw) == height * (1 + width * channels)
        elif meta["content_type"] == "application/pdf":
            assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
            xref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
            assert data[xref:xref + 4] == b"xref"
            table = data[xref:].split(b"\n")
            count = int(table[1].split()[1])
            for n in range(1, count):
                offset = int(table[2 + n].split()[0])
                assert data[offset:].startswith(f"{n} 0 obj".encode())
        elif meta["content_type"] == "audio/wav":
            with wave.open(io.BytesIO(data)) as w:
                assert w.getnframes() > 0 and w.getframerate() == 8000
        elif meta["content_type"] == "text/vcard":
            assert data.startswith(b"BEGIN:VCARD") and b"END:VCARD" in data
    assert kinds["image/png"] >= 2 and kinds["application/pdf"] >= 1 and kinds["audio/wav"] >= 2


def test_the_day_has_every_kind_of_thing_the_contract_knows(sample):
    items = [i for i in sample.items if i["id"] not in sample.reject_ids]
    types = Counter(i["type"] for i in items)
    assert set(types) == {"message", "edit", "deletion", "reaction", "call", "event"}
    by_id = {i["id"]: i for i in items}
    for i in items:
        if i["type"] in ("edit", "deletion", "reaction"):
            target = by_id[i["target_id"]]
            assert target["type"] == "message" and when(target["captured_at"]) <= when(i["captured_at"])
        if i.get("reply_to"):
            assert by_id[i["reply_to"]]["type"] == "message"
    deletions = [i for i in items if i["type"] == "deletion"]
    assert any("original_text" in d for d in deletions) and any("original_text" not in d for d in deletions)
    emojis = [i["emoji"] for i in items if i["type"] == "reaction"]
    assert "" in emojis and any(emojis)
    calls = [i["call"] for i in items if i["type"] == "call"]
    assert {(c["media"], c["status"]) for c in calls} >= {("voice", "answered"), ("video", "missed"), ("video", "declined")}
    assert any(c.get("recording") for c in calls) and any(c.get("participants") for c in calls)
    assert all(c["duration_seconds"] > 0 for c in calls if c["status"] == "answered")
    assert {i["event"]["kind"] for i in items if i["type"] == "event"} >= {"participant_added", "subject_changed"}
    kinds = {f["kind"] for i in items for f in files_of(i)}
    assert kinds >= {"image", "document", "voice", "sticker", "audio"}
    assert any(i.get("location") for i in items) and any(i.get("contacts") for i in items)
    assert any(i.get("forwarded") for i in items) and any(i.get("reply_to") for i in items)
    assert any(i["conversation"]["kind"] == "group" and i["conversation"].get("title") for i in items)
    texts = " ".join(i.get("text") or "" for i in items)
    assert "<script>" in texts and "\r\n" in texts and "👍" in texts and "مرحبا" in texts
    assert any("\r\n" in (p.get("name") or "") for i in items for p in [i["sender"], *i["recipients"]])
    assert all(i.get("direction") in ("inbound", "outbound") for i in items)
    phones = {p.get("phone") for i in items for p in [i["sender"], *i["recipients"]] if p.get("phone")}
    assert any(p.startswith("+") for p in phones)                       # E.164
    assert any(p.isdigit() for p in phones)                             # digits without +
    assert any(p.startswith("00") for p in phones)                      # the 00 international prefix
    assert any(p.startswith("(") for p in phones)                       # national format
    assert any("user_id" in p and "phone" not in p for i in items for p in [i["sender"], *i["recipients"]])


def test_the_mapping_file_has_its_header_first_and_mixed_notations(sample):
    text = sample.mapping_csv.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["External User ID", "Microsoft 365 User Mailbox"]
    numbers = [r[0] for r in rows[1:]]
    assert any(n.startswith("+") and n[1:].isdigit() for n in numbers)
    assert any(n.isdigit() for n in numbers)
    assert any(n.startswith("00") for n in numbers)
    assert any(n.startswith("(") for n in numbers) and any("(" in n and n.startswith("+1") for n in numbers)
    users = {u["address"]: u for u in USERS}
    aliases = {a for u in USERS for a in u["aliases"]}
    mailboxes = [r[1].lower() for r in rows[1:]]
    assert any(m in aliases for m in mailboxes)
    assert any(m in users and not users[m]["enabled"] for m in mailboxes)
    assert any(m in users and not users[m]["has_mailbox"] for m in mailboxes)


def test_expected_and_outcomes_agree(sample):
    assert set(sample.expected) == set(sample.expected_outcomes) == {i["id"] for i in sample.items}
    valid = {u["address"] for u in sample.users if u["enabled"] and u["has_mailbox"]}
    for item_id, mailboxes in sample.expected.items():
        outcome = sample.expected_outcomes[item_id]
        assert outcome in ("archived", "unmapped", "rejected")
        assert (outcome == "archived") == bool(mailboxes)
        assert mailboxes <= valid and all(m == m.lower() for m in mailboxes)
        assert sample.expected_email_only[item_id] <= mailboxes
    counts = Counter(sample.expected_outcomes.values())
    assert counts["rejected"] == 1 and counts["unmapped"] >= 2 and counts["archived"] >= 30


def test_the_expectation_follows_the_rule_case_by_case(sample):
    by_conv = {}
    for i in sample.items:
        if i["id"] not in sample.reject_ids:
            by_conv.setdefault(i["conversation"]["id"], set()).update(sample.expected[i["id"]])
    assert by_conv["dm-alice-klaus"] == {"alice@contoso.com"}
    assert by_conv["dm-carol-ramon"] == {"carol@contoso.com"}             # the mapping file only
    assert by_conv["dm-frank-priya"] == {"frank@contoso.com"}             # an alias in the mapping file -> primary
    assert by_conv["dm-erin-klaus"] == set()                              # disabled, no email property
    assert by_conv["dm-grace-sam"] == set()                               # no mailbox
    assert by_conv["dm-henry-bob"] == {"henry@contoso.com", "bob@contoso.com"}
    assert by_conv["grp-ops"] == {"alice@contoso.com", "bob@contoso.com", "ivan@contoso.com"}
    assert "dbrown@contoso.com" in by_conv["grp-q4-pricing"]              # disabled row -> falls back to the email property
    assert "dave.brown@contoso.com" not in {m for v in sample.expected.values() for m in v}
    # Alice in grp-ops with both her numbers: one copy (a set), and both numbers are hers
    both = [i for i in sample.items if i["conversation"]["id"] == "grp-ops"
            and {"+447700900123", "0044 7700 900124"} <= {p.get("phone") for p in [i["sender"], *i["recipients"]]}]
    assert both and all("alice@contoso.com" in sample.expected[i["id"]] for i in both)


def test_some_items_are_unmapped_with_a_header_only_file_and_map_with_the_full_one(sample):
    now_mapped = {i for i, m in sample.expected.items() if m and not sample.expected_email_only[i]}
    convs = {i["conversation"]["id"] for i in sample.items if i["id"] in now_mapped}
    assert convs == {"dm-carol-ramon", "dm-frank-priya"}
    for item_id in now_mapped:
        raw = next(i for i in sample.items if i["id"] == item_id)
        assert not any(p.get("email") for p in [raw["sender"], *raw["recipients"]])


def test_people_table_and_users_are_consistent(sample):
    addresses = {u["address"] for u in sample.users}
    for person in PEOPLE.values():
        if person.email:
            assert person.email in addresses
        for _key, _written, mailbox in person.rows:
            assert mailbox.lower() in addresses | {a for u in sample.users for a in u["aliases"]}
        assert person.employee or (not person.rows and not person.email)
    assert {p["key"] for p in sample.people} == set(PEOPLE)


def test_the_command_line_writes_a_day_for_a_person_to_inspect(tmp_path):
    out = tmp_path / "day"
    done = subprocess.run([sys.executable, "-m", "devtools.sample_day", "--out", str(out), "--day", DAY.isoformat()],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = (out / "items.ndjson").read_text(encoding="utf-8").splitlines()
    sample = generate_day(DAY)
    assert [json.loads(line)["id"] for line in lines] == [i["id"] for i in sample.items]
    assert sorted(p.name for p in (out / "attachments").iterdir()) == sorted(sample.attachments)
    assert (out / "mapping.csv").read_bytes() == sample.mapping_csv
    expected = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    assert {k: set(v) for k, v in expected["expected"].items()} == sample.expected
    assert expected["expected_outcomes"] == sample.expected_outcomes
