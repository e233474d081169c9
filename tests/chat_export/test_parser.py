"""The parser on our fixtures (every documented shape), the header grammar, and id stability."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from shared.domain.chat_export.header import parse_header
from shared.domain.chat_export.parser import scan
from tests.chat_export.fixtures import FIXTURES, LRM, NBSP, NNBSP, fixture_lines
from tests.chat_export.golden import golden, items_of

GOLDEN = json.loads((Path(__file__).parent / "golden.json").read_text())


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_matches_its_golden_item_list(name):
    assert json.loads(json.dumps(golden()[name], ensure_ascii=False)) == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_date_order_and_platform_are_decided_per_file(name):
    _upload, text, _media, order, platform = FIXTURES[name]
    profile = scan(fixture_lines(text))
    assert (profile.date_order, profile.platform) == (order, platform)


def test_every_marker_kind_of_the_ios_fixture_becomes_its_record_type():
    items, problems = items_of(FIXTURES["ios_en_us"][1], FIXTURES["ios_en_us"][2])
    kinds = {(i["type"], i["provenance"]["line kind"]) for i in items}
    assert {("deletion", "deleted"), ("call", "call"), ("event", "event"), ("message", "attached"),
            ("message", "omitted"), ("message", "location"), ("message", "e2e_notice")} <= kinds
    assert problems == []
    multi = [i for i in items if i["text"].startswith("Draft below:")][0]
    assert multi["text"] == "Draft below:\nline two: with colon\n[not a header] line three"
    missing = [i for i in items if "PHOTO-missing" in i["text"]][0]
    assert "not in the zip" in missing["provenance"]["attachment"] and "attachments" not in missing


def test_message_text_keeps_its_invisible_marks_and_spaces():
    text = f"[1/11/23, 16:12:05] Bob: {LRM}a{NBSP}b{NNBSP}c  \r\n[1/11/23, 16:12:06] Bob: again\r\n"
    items, _ = items_of(text, {})
    assert items[0]["text"] == f"{LRM}a{NBSP}b{NNBSP}c  "


def test_twelve_am_is_midnight_and_pm_adds_twelve():
    items, _ = items_of("1/1/19, 12:05 AM - A: x\n1/1/19, 12:05 PM - A: y\n1/2/19, 1:05 p. m. - A: z\n",
                        {}, zone="UTC")
    assert [i["sent_at"][11:16] for i in items] == ["00:05", "12:05", "13:05"]


def test_a_name_holding_colon_space_and_a_system_line_holding_quotes():
    text = "\n".join(["23/03/2022, 13:31 - Dr: Who: hello", "23/03/2022, 13:32 - Dr: Who: again",
                      '23/03/2022, 13:33 - Dr changed the subject to "Re: x"'])
    items, _ = items_of(text, {})
    assert [i["provenance"].get("author as written") for i in items[:2]] == ["Dr: Who", "Dr: Who"]
    assert [i["text"] for i in items[:2]] == ["hello", "again"]
    assert items[2]["type"] == "event"


def test_dst_gap_and_repeat_are_named_on_the_item():
    text = "31/03/2024, 02:30 - A: gap\n27/10/2024, 02:30 - A: repeat\n"
    items, _ = items_of(text, {}, zone="Europe/Berlin")
    assert "does not exist" in items[0]["provenance"]["time note"]
    assert "happened twice" in items[1]["provenance"]["time note"]
    assert items[1]["sent_at"] == "2024-10-27T00:30:00+00:00"


def test_text_before_the_first_header_is_reported_with_its_line_number():
    _, problems = items_of("hello there\n23/03/2022, 13:31 - A: x\n", {})
    assert [(p.line_no, "not part of any message" in p.reason) for p in problems] == [(1, True)]


# ---------------------------------------------------------------- hypothesis: header grammar
spaces = st.sampled_from([" ", NBSP, NNBSP])


@st.composite
def stamps(draw):
    moment = draw(st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 12, 31)))
    order = draw(st.sampled_from(["dmy", "mdy", "ymd"]))
    sep = draw(st.sampled_from("/.-"))
    four = draw(st.booleans()) or order == "ymd"
    year = f"{moment.year:04d}" if four else f"{moment.year % 100:02d}"
    d, m = str(moment.day), str(moment.month)
    if draw(st.booleans()):
        d, m = f"{moment.day:02d}", f"{moment.month:02d}"
    date = {"dmy": (d, m, year), "mdy": (m, d, year), "ymd": (year, m, d)}[order]
    clock12 = draw(st.booleans())
    if clock12:
        h = moment.hour % 12 or 12
        tag = draw(st.sampled_from([("AM", "PM"), ("am", "pm"), ("a. m.", "p. m."), ("a.m.", "p.m.")]))
        time = f"{h}:{moment.minute:02d}" + "{s}" + draw(spaces) + tag[moment.hour >= 12]
    else:
        time = f"{moment.hour:02d}:{moment.minute:02d}" + "{s}"
    ios = draw(st.booleans())
    comma = draw(st.sampled_from([",", ""]))
    stamp = sep.join(date) + comma + " " + time.format(s=f":{moment.second:02d}" if ios else "")
    marks = draw(st.sampled_from(["", LRM, "\ufeff"]))
    line = f"{marks}[{stamp}] Ann: hi" if ios else f"{marks}{stamp} - Ann: hi"
    return line, order, moment.replace(second=moment.second if ios else 0, microsecond=0), ios


@settings(max_examples=300, deadline=None)
@given(stamps())
def test_header_grammar_reads_every_documented_shape(case):
    line, order, moment, ios = case
    header = parse_header(line)
    assert header is not None, line
    assert header.platform == ("ios" if ios else "android")
    assert header.wall_clock(order) == moment
    assert line[header.end:] == "Ann: hi"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_header_grammar_never_crashes_and_never_eats_plain_text(text):
    header = parse_header(text)
    if header is not None:
        assert header.end <= len(text)


line_pieces = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
            max_size=40),
    st.sampled_from(["23/03/2022, 13:31 - Alice: hi", "23/03/2022, 13:32 - Bob: <Media omitted>", "31/02/2022, 10:00 - X: y",
                     f"{LRM}[1/11/23, 16:11:21] {LRM}You created group “G”", "", "   ", "POLL:", "12/12/2012 a date"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(line_pieces, min_size=1, max_size=30))
def test_every_line_is_in_a_message_or_reported_never_dropped(lines):
    from shared.domain.chat_export.parser import Entry, parse

    text = [line + "\n" for line in lines]
    profile = scan(text)
    placed = orphans = 0
    for e in parse(text, profile):
        if isinstance(e, Entry):
            placed += e.line_count
        elif "not part of any message" in e.reason:
            orphans += 1
    assert placed + orphans == len(lines)


def test_an_ios_security_code_line_with_an_author_is_a_security_event():
    text = f"[1/11/23, 16:11:21] Alice: {LRM}Your security code with Alice changed. Tap to learn more.\r\n"
    items, _ = items_of(text, {})
    assert items[0]["type"] == "event" and items[0]["event"]["kind"] == "security_code_changed"
    assert items[0]["sender"]["name"] == "Alice"
