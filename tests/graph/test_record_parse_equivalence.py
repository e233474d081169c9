"""The Graph adapter reads every record exactly as the stdlib's ``policy.default`` reader did.

``parse_record`` answers the headers it needs without the HeaderRegistry when they are plain; the
reference (tests/graph/record_reference.py) is the former reader, every header through the
registry. Both must give the same Record (or fail alike) for what our renderer writes, and for
hand-made MIME with encoded words, quoted names, comments, groups, 8-bit bytes, folding, bad dates,
nameless and inline parts, nested messages and multipart/related.
"""

from __future__ import annotations

import base64
import email.charset
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.graph.record import parse_record
from shared.domain.record import RenderOptions, render_record
from tests.domain.test_record_properties import FateSource, items
from tests.graph.record_reference import parse_record_reference

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def outcome(reader, eml: bytes):
    try:
        return "ok", reader(eml)
    except Exception as exc:  # noqa: BLE001 - both readers must fail alike
        return "error", type(exc)


def assert_same(eml: bytes) -> None:
    assert outcome(parse_record, eml) == outcome(parse_record_reference, eml), eml


# ------------------------------------------------------------------ records our renderer writes

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(items())
def test_every_rendered_record_reads_the_same(drawn) -> None:
    item, files = drawn
    record = render_record(item, mailbox_of=lambda p: p.email, attachments=FateSource(files), options=RenderOptions())
    assert_same(record.eml)


def test_the_bench_day_reads_the_same() -> None:
    from devtools.bench import _day_records

    for eml in _day_records(1):
        assert_same(eml)


# ------------------------------------------------------------------ hand-made MIME

def ew(text: str, charset: str = "utf-8", enc: str = "b") -> str:
    data = text.encode(charset, "replace") if charset in ("utf-8", "latin-1", "ascii") else text.encode("utf-8")
    if enc in "bB":
        return f"=?{charset}?{enc}?{base64.b64encode(data).decode()}?="
    return f"=?{charset}?{enc}?{email.charset.Charset('utf-8').header_encode(text)[10:-2] if charset == 'utf-8' else ''.join(f'={b:02X}' for b in data)}?="


words = st.one_of(
    st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True),
    st.sampled_from(["José", "Ünïcødé", "日本", "\U0001F44D", "a.b", "J.", "O'Neil", "x_y", "=?", "?=", "=?x?", "(c)",
                     "(nested (c))", "\\", '"', '""', '"q"', '"a,b"', '"\\"x\\""', '" sp "', "<", ">", "@", ",", ";",
                     ":", "[", "]", "\t", "  ", "\r\n ", "\r\n\t", "=20", "=?utf-8?q?a_b?=", "=?utf-8?q?=C2=B7?=",
                     "=?utf-8?b?wrc=?=", "=?UTF-8?Q?x?=", "=?utf-8*en?q?a?=", "=?bogus?q?a?=", "=?utf-8?x?a?=",
                     "=?utf-8?b?!!!?=", "=?utf-8?q?=FF?=", "=?utf-8?b?/w==?=", "=?iso-8859-1?q?caf=E9?=",
                     "=?utf-8?q??=", "=?utf-8?q?a?==?utf-8?q?b?=", "a=?utf-8?q?b?=", "=?utf-8?q?a?=b",
                     "=?utf-8?q?tab=09in?=", "=?utf-8?q?nl=0Ain?=", "=?utf-8?q?_lead?=", "=?utf-8?q?trail_?=",
                     "=?unknown-8bit?q?=E9?=", "\x7f", "\x00", "\x0b"]),
    st.builds(ew, st.text(max_size=6), st.sampled_from(["utf-8", "latin-1", "UTF-8"]), st.sampled_from("bBqQ")),
)
separators = st.sampled_from([" ", "  ", "\t", "", "\r\n ", " \r\n\t"])


@st.composite
def phrase(draw) -> str:
    parts = draw(st.lists(words, min_size=1, max_size=4))
    return "".join(p + draw(separators) for p in parts).strip()


local = st.one_of(st.from_regex(r"[a-z0-9]{1,6}(\.[a-z0-9+_-]{1,4})?", fullmatch=True),
                  st.sampled_from(["a..b", ".a", '"q d"', '"a\\"b"', "", "ü", "a b", "=?utf-8?q?a?=", "(c)x"]))
domain = st.one_of(st.from_regex(r"[a-z]{1,6}\.[a-z]{2,3}", fullmatch=True),
                   st.sampled_from(["[1.2.3.4]", "", "ex ample.com", "x", "ü.de", "-a.com", "a.com."]))


@st.composite
def mailbox(draw) -> str:
    spec = f"{draw(local)}@{draw(domain)}" if draw(st.integers(0, 9)) else draw(local)
    form = draw(st.integers(0, 5))
    if form == 0:
        return spec
    if form == 1:
        return f"<{spec}>"
    if form == 2:
        return f"{spec} ({draw(phrase())})"
    if form == 3:
        return f'"{draw(phrase())}"{draw(separators)}<{spec}>'
    return f"{draw(phrase())}{draw(separators)}<{spec}>"


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


plain_names = st.one_of(
    st.lists(st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,6}", fullmatch=True), min_size=1, max_size=3).map(" ".join),
    st.builds(ew, st.text(max_size=8), st.sampled_from(["utf-8", "UTF-8"]), st.sampled_from("bBqQ")),
    st.lists(st.builds(ew, st.text(max_size=4)), min_size=2, max_size=3).map(" ".join),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(quoted),
)


@st.composite
def plain_mailbox(draw) -> str:
    """The forms the renderer writes (and then some): mostly read without the registry."""
    spec = draw(st.from_regex(r"[A-Za-z0-9+_=-]{1,6}(\.[a-z0-9]{1,4})?@[a-z]{1,6}(\.[a-z]{2,3}){1,2}", fullmatch=True))
    form = draw(st.integers(0, 3))
    if form == 0:
        return spec
    if form == 1:
        return f"<{spec}>"
    return f"{draw(plain_names)}{draw(st.sampled_from([' ', '  ', chr(13) + chr(10) + ' ', chr(9)]))}<{spec}>"


@st.composite
def address_list(draw) -> str:
    boxes = draw(st.lists(st.one_of(mailbox(), plain_mailbox(), plain_mailbox()), min_size=0, max_size=3))
    if draw(st.integers(0, 6)) == 0:
        boxes.append(f"{draw(phrase())}: {', '.join(draw(st.lists(mailbox(), max_size=2)))};")
    sep = draw(st.sampled_from([", ", ",", ",\r\n ", " , ", ",,"]))
    return sep.join(boxes) + draw(st.sampled_from(["", "", ",", " ", ";"]))


unstructured = st.one_of(phrase(), st.just(""), st.just(" "))
msg_ids = st.one_of(st.from_regex(r"<[a-z0-9.]{1,12}@[a-z0-9.]{1,12}>", fullmatch=True),
                    st.builds(lambda p, m: p + m, st.sampled_from(["", " ", "\r\n ", "x "]),
                              st.sampled_from(["<a@b>", "<a b@c>", "a@b", "<a@b> <c@d>", "<a@b", "<>", "<@>",
                                               "<a@[1.2.3.4]>", "<a.@b>", "<=?utf-8?q?a?=@b>", "(c)<a@b>", "<ü@b>"])),
                    phrase())
dates = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)),
                                            timezone(timedelta(hours=-12))])).map(
        lambda d: d.strftime("%a, %d %b %Y %H:%M:%S %z")),
    st.sampled_from(["Tue, 24 Nov 2026 10:15:30 +0100", "24 Nov 2026 10:15 -0000", "Tue, 24 Nov 2026 10:15:30",
                     "Tue, 24 Nov 2026 10:15:30 GMT", "Tue, 24 Nov 2026 10:15:30 EST", "Tue, 24 Nov 26 10:15:30 +0100",
                     "not a date", "", " ", "Tue, 31 Feb 2026 10:15:30 +0100", "Tue, 24 Nov 2026 25:15:30 +0100",
                     "Tue, 24 Nov 2026 10:15:30 +9999", "Tue,\r\n 24 Nov 2026 10:15:30 +0100", "2026-11-24T10:15:30Z",
                     "Tue, 24 Nov 2026 10:15:30 +0100 (CET)", "Tue, 24 Nov 99999 10:15:30 +0100", "ü"])
)
ctype_values = st.one_of(
    st.sampled_from(["text/plain", "text/html", "text/plain; charset=\"utf-8\"", "text/plain; charset=utf-8",
                     "text/html; charset=\"iso-8859-1\"", "text/plain; charset=\"bogus\"", "text/plain; charset=\"\"",
                     "TEXT/HTML; CHARSET=\"UTF-8\"", "text/plain;charset=\"utf-8\";", "text/plain ; charset=\"utf-8\"",
                     "image/png", "image/png; name=\"a.png\"", "image/png; name=a.png", "image/png; name=\"=?utf-8?q?b=C3=BC.png?=\"",
                     "image/png; name*=utf-8''b%C3%BC.png", "application/octet-stream", "garbage", "a/b/c", "",
                     "text/plain; (comment) charset=\"utf-8\"", "text/plain; charset=\"utf\\-8\"", "image/png; name=\"ü.png\"",
                     "application/pdf; name=\"a;b.pdf\"", "message/rfc822", "multipart/mixed", "text/x-weird; a=\"b\"",
                     "text/plain; format=flowed; charset=\"utf-8\"", "text/plain; charset=\"us-ascii\"",
                     "text/plain; charset=\"utf-16\""]))
disposition_values = st.sampled_from([
    None, None, "attachment", "inline", "attachment; filename=\"a.txt\"", "inline; filename=\"p.png\"",
    "attachment; filename=a.txt", "ATTACHMENT; FILENAME=\"A.TXT\"", "attachment; filename=\"=?utf-8?b?w7w=?=.txt\"",
    "attachment; filename*=utf-8''%C3%BC.txt", "attachment; filename*0=\"a\"; filename*1=\"b.txt\"",
    "attachment; filename=\"\"", "attachment; filename=\" spaced.txt \"", "attachment;filename=\"a.txt\"",
    "attachment; filename=\"ü.txt\"", "weird/x", "attachment; (c) filename=\"a.txt\"", "", "inline;",
    "attachment; filename=\"a\\\"b.txt\"", "attachment; filename=\"=?bogus?q?x?=\""])
cte_values = st.sampled_from([None, "base64", "quoted-printable", "7bit", "8bit", "binary", " base64 ", "BASE64",
                              "x-uuencode", "bogus", "base64 (c)"])
content_ids = st.sampled_from([None, None, "<img1@x>", "img1@x", " <img1@x> ", "<>", "<=?utf-8?q?a?=@x>", "<ü@x>",
                               "<a@x>\r\n (c)"])


def encode(data: bytes, cte: str | None) -> bytes:
    kind = (cte or "").strip().lower()
    if kind == "base64":
        return base64.encodebytes(data)
    if kind == "quoted-printable":
        import quopri

        return quopri.encodestring(data)
    return data


bodies = st.one_of(st.text(max_size=40), st.sampled_from(["<p>Hi</p>", "caf\u00e9 \U0001F44D", "line\r\nline\n", ""]))


@st.composite
def leaf(draw, ctype: str | None = None) -> bytes:
    headers = []
    ctype = ctype if ctype is not None else draw(ctype_values)
    if ctype or draw(st.booleans()):
        headers.append(f"Content-Type: {ctype}")
    cte = draw(cte_values)
    if cte is not None:
        headers.append(f"Content-Transfer-Encoding: {cte}")
    disp = draw(disposition_values)
    if disp is not None:
        headers.append(f"Content-Disposition: {disp}")
    cid = draw(content_ids)
    if cid is not None:
        headers.append(f"Content-ID: {cid}")
    raw = draw(st.one_of(bodies.map(lambda t: t.encode(draw(st.sampled_from(["utf-8", "latin-1"])), "replace")),
                         st.binary(max_size=40)))
    return "\r\n".join(headers).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + encode(raw, cte)


def multipart(subtype: str, parts: list[bytes], boundary: str, extra: str = "") -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}\r\n\r\n'.encode()
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return head + body + b"--" + boundary.encode() + b"--\r\n"


@st.composite
def mime_body(draw, depth: int = 0) -> bytes:
    shape = draw(st.integers(0, 7 if depth < 2 else 1))
    b = f"=_b{depth}_{draw(st.integers(0, 999))}"
    if shape == 0:
        return draw(leaf())
    if shape == 1:  # text only
        return draw(leaf(draw(st.sampled_from(["text/plain; charset=\"utf-8\"", "text/plain", "text/html"]))))
    if shape == 2:  # html + plain alternative
        return multipart("alternative", [draw(leaf("text/plain; charset=\"utf-8\"")),
                                         draw(leaf("text/html; charset=\"utf-8\""))], b)
    if shape == 3:  # mixed with attachments
        return multipart("mixed", [draw(mime_body(depth + 1))] + draw(st.lists(leaf(), max_size=3)), b)
    if shape == 4:  # related with an inline picture
        start = draw(st.sampled_from(["", '; start="<img1@x>"', '; start="<nope@x>"']))
        return multipart("related", [draw(leaf("text/html")), draw(leaf("image/png"))], b, start)
    if shape == 5:  # nested message
        inner = draw(message(depth + 1))
        disp = draw(st.sampled_from(["", "Content-Disposition: attachment\r\n", "Content-Disposition: inline\r\n"]))
        return multipart("mixed", [draw(leaf("text/plain")), f"Content-Type: message/rfc822\r\n{disp}\r\n".encode() + inner], b)
    if shape == 6:  # odd multiparts: empty, no boundary, preamble
        return draw(st.sampled_from([b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
                                     b'Content-Type: multipart/mixed; boundary="x"\r\n\r\npreamble only\r\n',
                                     b'Content-Type: multipart/alternative; boundary="x"\r\n\r\n--x\r\n\r\nbare\r\n--x--\r\n']))
    return multipart(draw(st.sampled_from(["mixed", "alternative", "related", "x-odd"])),
                     draw(st.lists(st.one_of(leaf(), mime_body(depth + 1)), max_size=3)), b)


@st.composite
def message(draw, depth: int = 0) -> bytes:
    headers = []
    for name, values in (("From", address_list()), ("To", address_list()), ("Cc", address_list()),
                         ("Subject", unstructured), ("Message-ID", msg_ids), ("In-Reply-To", msg_ids),
                         ("References", st.one_of(msg_ids, unstructured)), ("Date", dates)):
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            headers.append(f"{draw(st.sampled_from([name, name.lower(), name.upper()]))}:"
                           f"{draw(st.sampled_from([' ', '', '  ', chr(13) + chr(10) + ' ']))}{draw(values)}")
    headers.append("MIME-Version: 1.0")
    head = "\r\n".join(draw(st.permutations(headers))).encode("utf-8", "surrogateescape")
    return head + b"\r\n" + draw(mime_body(depth))


@SETTINGS
@given(message())
def test_hand_made_mime_reads_the_same(eml: bytes) -> None:
    assert_same(eml)


@SETTINGS
@given(st.sampled_from(["Subject", "From", "To", "Cc", "Message-ID", "In-Reply-To", "References", "Date"]),
       st.one_of(address_list(), unstructured, msg_ids, dates, st.text(max_size=30)))
def test_any_header_value_reads_the_same(name: str, value: str) -> None:
    eml = f"{name}: {value}\r\nContent-Type: text/plain\r\n\r\nbody\r\n".encode("utf-8", "surrogateescape")
    assert_same(eml)


def test_named_odd_cases_read_the_same() -> None:
    cases = [
        b"Subject: =?utf-8?q?caf=C3=A9?= =?utf-8?b?IPCfkY0=?= ok\r\nFrom: =?utf-8?b?Sm9zw6k=?= <j@x.com>\r\n\r\nhi",
        b"Subject: folded\r\n  over\r\n\tlines\r\nTo: \"Smith, John\" <j@x.com>, bare@x.com\r\n\r\nhi",
        b"Subject: caf\xc3\xa9 raw 8-bit\r\nFrom: Jos\xc3\xa9 <j@x.com>\r\nDate: garbage\r\n\r\nhi",
        b"Date: Tue, 24 Nov 2026 23:30:00 -0500\r\nTo: undisclosed-recipients:;\r\n\r\nhi",
        b"From: <>\r\nTo: a@b.c (Ann), (c) <b@c.d>\r\n\r\n",
        b"",
        b"no header at all",
        b"Content-Type: text/html; charset=\"bogus-charset\"\r\n\r\n<p>x</p>",
        b"Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
        b"From: <=??Q??=@0>\r\n\r\nthe stdlib's address parser raises IndexError here: so must we",
        b"Message-ID: <=?utf-8?q?a?=@b>\r\n\r\n",
        b"Cc: =?utf-8?q?a?=@a.aa\r\n\r\nthe stdlib decodes an encoded word in a local part",
    ]
    for eml in cases:
        assert_same(eml)
