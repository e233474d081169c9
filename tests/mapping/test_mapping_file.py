"""The mapping CSV: a corpus of messy real-world files, and the rules one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.domain.mapping_file import normalise_address, parse_mapping_csv, read_key

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name.removesuffix(".expected.json") for p in CORPUS.glob("*.expected.json"))


def test_every_corpus_file_has_expectations():
    assert {p.stem for p in CORPUS.glob("*.csv")} == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_corpus(name):
    expected = json.loads((CORPUS / f"{name}.expected.json").read_text(encoding="utf-8"))
    mapping = parse_mapping_csv((CORPUS / f"{name}.csv").read_bytes(), expected["region"])

    assert mapping.entries == expected["entries"]
    assert mapping.rows_read == expected["rows_read"]
    assert mapping.header_line == expected["header_line"]
    for attr in ("encoding", "delimiter"):
        if attr in expected:
            assert getattr(mapping, attr) == expected[attr]
    got = [(p.line, p.severity) for p in mapping.problems]
    assert got == [(line, severity) for line, severity, _ in expected["problems"]], [
        (p.line, p.severity, p.reason) for p in mapping.problems]
    for problem, (_, _, fragment) in zip(mapping.problems, expected["problems"]):
        assert fragment in problem.reason


def test_conflict_drops_the_key_and_reports_both_lines_with_both_mailboxes():
    data = b"+447700900123,alice@example.com\n+447700900124,bob@example.com\n447700900123,carol@example.com\n"
    mapping = parse_mapping_csv(data, "US")
    assert mapping.entries == {"+447700900124": "bob@example.com"}
    errors = mapping.errors
    assert [e.line for e in errors] == [1, 3]
    for e in errors:
        assert "alice@example.com (line 1)" in e.reason and "carol@example.com (line 3)" in e.reason
        assert "447700900123" not in e.reason  # masked in the reason
        assert e.value == "+447700900123"


def test_valid_rows_apply_despite_errors():
    mapping = parse_mapping_csv(b"garbage\n+15551230002,bob@example.com\n+1,x@example.com\n", "US")
    assert mapping.entries == {"+15551230002": "bob@example.com"}
    assert [(p.line, p.severity) for p in mapping.problems] == [(1, "error"), (3, "error")]


def test_problem_carries_value_and_raw_line():
    mapping = parse_mapping_csv(b"+15551230002,bob@\n", "US")
    (problem,) = mapping.problems
    assert problem.value == "bob@" and problem.raw == "+15551230002,bob@"
    assert problem.line == 1 and problem.is_error


def test_mailbox_for_takes_the_first_known_key():
    mapping = parse_mapping_csv(b"uid:U.1,u@example.com\n+15551230002,b@example.com\n", "US")
    assert mapping.mailbox_for(["+15551230002", "uid:U.1"]) == "b@example.com"
    assert mapping.mailbox_for(["+15551239999", "uid:U.1"]) == "u@example.com"
    assert mapping.mailbox_for([]) is None


def test_lf_and_crlf_and_cr_give_the_same_result():
    rows = ["phone,mailbox", "+15551230002,b@example.com", "", "+447700900123,a@example.com"]
    results = [parse_mapping_csv(sep.join(rows).encode(), "US") for sep in ("\n", "\r\n", "\r")]
    assert all(r.entries == results[0].entries and r.problems == results[0].problems for r in results)
    assert len(results[0].entries) == 2


@pytest.mark.parametrize("header", [
    "External User ID,Microsoft 365 User Mailbox",
    "external user id , microsoft 365 user mailbox",
    "Phone,Email",
    "Phone Number;E-mail address",
    "WhatsApp number,UPN",
    "number,user",
    "Mobile,Mailbox",
    "uid,mailbox",
    "Tel;Email",
    "MSISDN,E-Mail",
])
def test_header_variants(header):
    delimiter = ";" if ";" in header else ","
    mapping = parse_mapping_csv(f"{header}\n+15551230002{delimiter}b@example.com\n".encode(), "US")
    assert mapping.header_line == 1 and mapping.problems == [] and mapping.rows_read == 1


def test_a_header_is_only_the_first_row():
    mapping = parse_mapping_csv(b"+15551230002,b@example.com\nPhone,Email\n", "US")
    assert mapping.header_line is None
    assert [(p.line, p.severity) for p in mapping.problems] == [(2, "error")]


def test_a_bad_first_row_without_column_words_is_data():
    mapping = parse_mapping_csv(b"TBD,unknown\n", "US")
    assert mapping.header_line is None and mapping.rows_read == 1 and mapping.has_errors


@pytest.mark.parametrize("cell,key", [
    ("+44 7700 900123", "+447700900123"),
    ("447700900123", "+447700900123"),
    ("(555) 123-0002", "+15551230002"),
    ("US.13491208655302741918", "uid:US.13491208655302741918"),
    ("uid:any thing", None),  # a user id has no spaces
    ("uid:alice", "uid:alice"),
    ("UID: US.1", "uid:US.1"),
    ("alice", None),  # no digit: not taken for a user id
    ("+44 77OO 900123", None),  # letter O: an error, never a user id
    ("n/a", None),
    ("", None),
    ("4.47701E+11", None),
])
def test_first_column_rule(cell, key):
    assert read_key(cell, "US")[0] == key
    if key is None:
        assert read_key(cell, "US")[1]


@pytest.mark.parametrize("text,address", [
    ("Alice@Contoso.com", "alice@contoso.com"),
    ("  bob.jones+wa@sub.example.co.uk ", "bob.jones+wa@sub.example.co.uk"),
    ("mailto:carol@example.com", "carol@example.com"),
    ("<dan@example.com>", "dan@example.com"),
    ("o'brien@example.com", "o'brien@example.com"),
    ("alice", None),
    ("alice@", None),
    ("@example.com", None),
    ("alice@example", None),
    ("a@b@example.com", None),
    ("alice smith@example.com", None),
    ("alice..smith@example.com", None),
    (".alice@example.com", None),
    ("alice@-example.com", None),
    ("alice@example.c", None),
    ("andré@example.com", None),
    ("", None),
])
def test_address_rule(text, address):
    assert normalise_address(text) == address


def test_never_raises_on_arbitrary_bytes():
    for data in (b"\x00\x01\x02", b"\xff" * 10, b'"unterminated,quote\n+15551230002,b@example.com',
                 b",,,\n;;;\n", b"\n" * 100, "ä,ö\n".encode("latin-1"), b"a" * 100000):
        parse_mapping_csv(data, "US")


def test_unterminated_quote_only_spoils_its_own_line():
    mapping = parse_mapping_csv(b'"+15551230002,b@example.com\n+447700900123,a@example.com\n', "US")
    assert mapping.entries == {"+447700900123": "a@example.com"}
    assert [p.line for p in mapping.errors] == [1]


def test_template_is_a_clean_mapping_file():
    template = Path(__file__).parents[2] / "templates" / "user-mapping.template.csv"
    mapping = parse_mapping_csv(template.read_bytes(), "US")
    assert mapping.problems == [] and mapping.header_line == 1 and len(mapping.entries) == 2
