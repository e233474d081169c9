"""The manifest format and the chain check, without storage."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import evidence as ev

HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
MAILBOXES = ["a@contoso.com", "B@contoso.com", "c@fabrikam.com"]
IDS = st.text(alphabet=string.ascii_letters + string.digits + "-_.~é€ 😀\"\\", min_size=1, max_size=30)


@st.composite
def entries(draw):
    ids = draw(st.lists(IDS, min_size=0, max_size=6, unique=True))
    out = []
    for item_id in ids:
        copies = tuple(ev.CopyEntry(mailbox=m, outcome=draw(st.sampled_from(["imported", "partial", "pending"])),
                                    message_id=draw(st.none() | IDS))
                       for m in draw(st.lists(st.sampled_from(MAILBOXES), max_size=3, unique=True)))
        out.append(ev.ItemEntry(
            item_id=item_id, source="feed", stage="converted", sent_at="2026-11-26T10:00:00Z",
            raw=ev.BlobHash(f"raw/2026-11-26/{item_id}.json", draw(HEX)),
            attachments=tuple(ev.AttachmentHash(f"att-{i}", h, draw(st.none() | HEX))
                              for i, h in enumerate(draw(st.lists(HEX, max_size=2)))),
            records=(ev.BlobHash(f"mime/2026-11-26/{item_id}.eml", draw(HEX)),), copies=copies,
            resent=tuple(ev.BlobHash(f"raw/2026-11-26/{item_id}.resent-{i}.json", h)
                         for i, h in enumerate(draw(st.lists(HEX, max_size=1))))))
    return out


@settings(max_examples=60, deadline=None)
@given(entries())
def test_a_manifest_reads_back_as_written_and_its_bytes_do_not_depend_on_order(items):
    data = ev.render_manifest("2026-11-26", items, supplement=0, seq=3,
                              previous=ev.Link("2026-11-25.jsonl", 2, "ab" * 32))
    manifest = ev.parse_manifest(data)
    assert sorted(manifest.entries, key=lambda e: e.item_id) == sorted(items, key=lambda e: e.item_id)
    assert manifest.header.items == len(items) and manifest.header.previous.name == "2026-11-25.jsonl"
    assert ev.render_manifest("2026-11-26", list(reversed(items)), supplement=0, seq=3,
                              previous=manifest.header.previous) == data
    assert ev.same_content(manifest, list(reversed(items)))


def test_manifest_names():
    assert ev.manifest_name("2026-11-26") == "2026-11-26.jsonl"
    assert ev.manifest_name("2026-11-26", 2) == "2026-11-26.s2.jsonl"
    assert ev.parse_manifest_name("2026-11-26.s2.jsonl") == ("2026-11-26", 2)
    assert ev.parse_manifest_name("2026-11-26.jsonl") == ("2026-11-26", 0)
    for other in ("2026-11-26.json", "2026-13-01.jsonl", "notes.txt", "2026-11-26.s0.jsonl"):
        assert ev.parse_manifest_name(other) is None


def _chain(days: list[str]) -> dict[str, bytes]:
    files, previous = {}, None
    for seq, day in enumerate(days):
        item = ev.ItemEntry(item_id=f"item-{day}", source="feed", stage="converted",
                            raw=ev.BlobHash(f"raw/{day}/x.json", "0" * 64))
        data = ev.render_manifest(day, [item], supplement=0, seq=seq, previous=previous)
        files[ev.manifest_name(day)] = data
        previous = ev.Link(ev.manifest_name(day), seq, ev.sha256_hex(data))
    return files


DAYS = ["2026-11-24", "2026-11-25", "2026-11-26"]


def test_an_intact_chain_has_no_findings():
    files = _chain(DAYS)
    assert ev.check_chain(files, list(files)) == []


def test_an_edited_day_breaks_the_link_from_the_next_day_and_its_own_header():
    files = _chain(DAYS)
    files["2026-11-25.jsonl"] = files["2026-11-25.jsonl"].replace(b"0" * 64, b"1" * 64)
    found = ev.check_chain(files, list(files))
    assert {(f.kind, f.subject) for f in found} == {(ev.ALTERED_MANIFEST, "2026-11-25.jsonl"),
                                                    (ev.BROKEN_CHAIN, "2026-11-26.jsonl")}
    broken = next(f for f in found if f.kind == ev.BROKEN_CHAIN)
    assert "2026-11-25.jsonl" in broken.detail and "altered" in broken.detail


def test_an_edit_that_also_fixes_the_header_still_breaks_the_chain():
    files = _chain(DAYS)
    forged = ev.parse_manifest(files["2026-11-25.jsonl"])
    item = forged.entries[0]
    changed = ev.ItemEntry(item_id=item.item_id, source="feed", stage="converted", raw=ev.BlobHash(item.raw.blob, "2" * 64))
    files["2026-11-25.jsonl"] = ev.render_manifest("2026-11-25", [changed], supplement=0, seq=1,
                                                   previous=forged.header.previous)
    found = ev.check_chain(files, list(files))
    assert [(f.kind, f.subject) for f in found] == [(ev.BROKEN_CHAIN, "2026-11-26.jsonl")]


def test_a_removed_day_is_named_by_the_day_after_it():
    files = _chain(DAYS)
    del files["2026-11-25.jsonl"]
    found = ev.check_chain(files, list(files))
    assert [(f.kind, f.day) for f in found] == [(ev.BROKEN_CHAIN, "2026-11-26")]
    assert "2026-11-25.jsonl" in found[0].detail and "missing" in found[0].detail


def test_a_file_that_is_not_a_manifest_is_named():
    files = _chain(DAYS)
    files["2026-11-24.jsonl"] = b"hello\n"
    kinds = {(f.kind, f.subject) for f in ev.check_chain(files, list(files))}
    assert (ev.ALTERED_MANIFEST, "2026-11-24.jsonl") in kinds and (ev.BROKEN_CHAIN, "2026-11-25.jsonl") in kinds
