"""Property tests: any valid item, however hostile its strings, renders to a sound record."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.items import Attachment, Item, ItemRejected, parse_item
from shared.domain.record import RenderOptions, message_id_for, render_record, render_transcript
from shared.domain.record.addresses import participant_key
from shared.domain.record.text import escape_value, repair
from tests.domain.record_checks import (assert_files_verified, assert_headers_single_line, assert_html_safe,
                                        assert_recoverable, file_parts, html_body, parse, x_header)

SPECIALS = [
    "\r\n", "\r", "\n", "\0", "\t", "\x0b", "\x1c", "\x85", "\u2028", "\u2029", "\ud800", "\udfff", "\ud83d",
    "--=_wa_mixed_", "--=_wa_alt_", "\r\n--boundary\r\n", "\r\n\r\nBcc: victim@example.com", "Subject: injected",
    "<script>alert(1)</script>", "<SCRIPT src=x>", "<img src=x onerror=alert(1)>", "&amp;", "=?utf-8?q?=0D=0A?=",
    "%0D%0A", "%", "\u202e", "\u200b", "\u200d", "e\u0301", "\U0001F44D\U0001F3FD", "\u05e9\u05dc\u05d5\u05dd",
    "\ufeff", " ", "  ", "a" * 1200, "x" * 90, "../..\\", "C:\\evil\\", "CON", ".", "..", ";", ",", "\"", "<>", "@",
]
hostile = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SPECIALS)), max_size=4).map("".join)
phones = st.one_of(st.sampled_from(["+447700900123", "447700900123", "0044 7700 900123", "(555) 123-0002",
                                    "+4915112345678", "12", "+999999999999999999", "abc"]), hostile)
dates = st.sampled_from(["2026-11-22T09:15:02Z", "2026-11-22T09:15:02.123456+05:30", "1970-01-01T00:00:00Z",
                         "2099-12-31T23:59:59-12:00"])


@st.composite
def participants(draw):
    p = {"phone": draw(st.one_of(st.none(), phones)), "user_id": draw(st.one_of(st.none(), hostile)),
         "name": draw(st.one_of(st.none(), hostile)), "email": draw(st.one_of(st.none(), hostile,
                                                                              st.just("bob@contoso.com")))}
    if not ((p["phone"] or "").strip() or (p["user_id"] or "").strip()):
        p["user_id"] = "fallback-uid"
    return {k: v for k, v in p.items() if v is not None}


@st.composite
def attachments(draw):
    data = draw(st.binary(max_size=300))
    fate = draw(st.sampled_from(["ok", "ok", "missing", "wrong"]))
    att = {"id": draw(hostile.filter(lambda s: len(s) >= 1)), "file_name": draw(hostile),
           "content_type": draw(st.one_of(st.sampled_from(["image/jpeg", "audio/ogg; codecs=opus", "application/pdf",
                                                            "text/plain", "multipart/mixed", "message/rfc822", "",
                                                            "garbage", "a/b/c"]), hostile)),
           "size": draw(st.sampled_from([len(data), 0, 10**12])),
           "sha256": hashlib.sha256(data).hexdigest(), "kind": draw(st.sampled_from(
               ["image", "video", "audio", "voice", "document", "sticker", "other"])),
           "caption": draw(st.one_of(st.none(), hostile))}
    return att, data, fate


@st.composite
def items(draw):
    item_type = draw(st.sampled_from(["message", "edit", "deletion", "reaction", "call", "event"]))
    files = draw(st.lists(attachments(), max_size=3, unique_by=lambda f: (f[0]["id"], f[0]["sha256"])))
    raw = {
        "id": draw(hostile.filter(lambda s: 1 <= len(s) <= 200)), "type": item_type,
        "captured_at": draw(dates), "sent_at": draw(dates),
        "conversation": {"id": draw(hostile.filter(lambda s: len(s) >= 1)), "kind": draw(st.sampled_from(["direct", "group"])),
                         **({"title": draw(hostile)} if draw(st.booleans()) else {})},
        "sender": draw(participants()), "recipients": draw(st.lists(participants(), max_size=4)),
        "direction": draw(st.sampled_from([None, "inbound", "outbound"])),
        "text": draw(st.one_of(st.none(), hostile)),
        "attachments": [f[0] for f in files],
        "reply_to": draw(st.one_of(st.none(), hostile)), "forwarded": draw(st.sampled_from([None, True, False])),
    }
    if draw(st.booleans()):
        raw["location"] = {"latitude": draw(st.floats(-90, 90)), "longitude": draw(st.floats(-180, 180)),
                           "name": draw(st.one_of(st.none(), hostile)), "address": draw(st.one_of(st.none(), hostile))}
    if draw(st.booleans()):
        raw["contacts"] = draw(st.lists(st.fixed_dictionaries({"name": hostile, "phones": st.lists(hostile, max_size=2)}),
                                        max_size=2))
    if item_type in ("edit", "deletion", "reaction"):
        raw["target_id"] = draw(hostile.filter(bool))
    if item_type == "deletion" or draw(st.booleans()):
        raw["original_text"] = draw(st.one_of(st.none(), hostile))
    if item_type == "reaction":
        raw["emoji"] = draw(st.one_of(st.just(""), hostile))
    if item_type == "call":
        rec = draw(st.one_of(st.none(), attachments()))
        raw["call"] = {"media": draw(st.sampled_from(["voice", "video"])),
                       "status": draw(st.sampled_from(["answered", "missed", "declined"])),
                       "started_at": draw(dates), "duration_seconds": draw(st.integers(0, 10**7)),
                       "participants": draw(st.one_of(st.none(), st.lists(participants(), max_size=3)))}
        if rec is not None and all((r["id"], r["sha256"]) != (rec[0]["id"], rec[0]["sha256"]) for r, _, _ in files):
            raw["call"]["recording"] = rec[0]
            files.append(rec)
    if item_type == "event":
        raw["event"] = {"kind": draw(st.sampled_from(["participant_added", "participant_removed", "participant_left",
                                                      "group_created", "subject_changed", "number_changed",
                                                      "security_code_changed"])),
                        "detail": draw(st.one_of(st.none(), hostile))}
    try:
        item = Item.model_validate(raw)
    except ValidationError:
        assume(False)
    return item, files


class FateSource:
    """Returns each attachment's bytes, nothing, or the wrong bytes, as drawn."""

    def __init__(self, files):
        self.files = files

    def read(self, attachment: Attachment) -> bytes | None:
        for raw, data, fate in self.files:
            if raw["id"] == attachment.id and raw["sha256"] == attachment.sha256:
                return {"ok": data, "missing": None, "wrong": data + b"tampered"}[fate]
        return None


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(items())
def test_any_item_renders_a_sound_record(drawn) -> None:
    item, files = drawn
    source = FateSource(files)
    record = render_record(item, mailbox_of=lambda p: p.email, attachments=source, options=RenderOptions())
    again = render_record(item, mailbox_of=lambda p: p.email, attachments=source, options=RenderOptions())
    assert record.eml == again.eml  # deterministic: same item, same bytes
    assert record.message_id == message_id_for(item.id)

    assert_headers_single_line(record.eml)
    msg = parse(record.eml)
    assert str(msg["Message-ID"]).strip() == record.message_id
    assert_files_verified(msg)
    assert_recoverable(item, msg)

    # machine headers give back the exact values
    assert x_header(msg, "X-WhatsApp-Item-Id") == repair(item.id)
    assert x_header(msg, "X-WhatsApp-Sender") == repair(participant_key(item.sender, "US"))
    if item.recipients:
        keys = [unquote(k) for k in str(msg["X-WhatsApp-Recipients"]).strip().split(", ")]
        assert keys == [repair(participant_key(p, "US")) for p in item.recipients]
    if len(escape_value(item.conversation.id)) <= 4000:
        assert x_header(msg, "X-WhatsApp-Conversation-Id") == repair(item.conversation.id)
    for part in file_parts(msg):
        att = next(a for a in item.all_attachments if a.sha256 == str(part["X-WhatsApp-Sha256"]).strip()
                   and repair(a.id)[:3000] == x_header(part, "X-WhatsApp-Attachment-Id")[:3000])
        assert x_header(part, "X-WhatsApp-Original-Filename") == repair(att.file_name) or len(att.file_name) > 300
        assert "/" not in part.get_filename() and "\\" not in part.get_filename() and part.get_filename()

    page = html_body(msg)
    assert not re.search(r"<\s*script", page, re.IGNORECASE)
    # nothing loads from outside, no script/form/handler, every picture has alt text and a cid: of this record
    images = assert_html_safe(page, msg)
    assert images == sum(1 for p in file_parts(msg) if p.get("Content-ID") is not None)
    assert all(p.get_content_maintype() == "image" for p in file_parts(msg) if p.get("Content-ID") is not None)
    assert record.html == page  # the HTML a preview shows is the record's own

    # the same item alone in a transcript: the same guarantees
    transcript = render_transcript(item.conversation, "2026-11-22", [item], mailbox_of=lambda p: p.email,
                                   attachments=source, options=RenderOptions())
    tmsg = parse(transcript.eml)
    assert assert_html_safe(html_body(tmsg), tmsg) == images

    # a file is embedded exactly when its bytes were there, were right, and its declared size fits
    expected = sorted(raw["sha256"] for raw, _, fate in files if fate == "ok" and raw["size"] < 10**9)
    assert sorted(str(p["X-WhatsApp-Sha256"]).strip() for p in file_parts(msg)) == expected
    assert record.partial == (len(expected) < len(files))
    assert len(record.omitted) == len(files) - len(expected)


# --------------------------------------------------------------------------- strict input: a wrong type is rejected
WRONG = {
    "bool": ["yes", "true", "false", 1, 0, 1.0, [], {}],
    "int": ["12", "0", 12.5, True, [1], {}],
    "float": ["51.5", True, "NaN", [51.5], float("nan")],
    "str": [5, 0, 1.5, True, False, ["x"], {"x": 1}],
    "timestamp": [1700000000, 1700000000.5, True, "2026-11-22 09:15:02Z", "2026-11-22T09:15:02", "2026-11-22",
                  "22/11/2026 09:15", "2026-11-22T09:15:02+0100", "Sun, 22 Nov 2026 09:15:02 GMT", "", ["2026-11-22T09:15:02Z"]],
}
# (sample, path to the field, kind of value the contract says it is)
FIELDS = [
    ("message_reply_forwarded", ("forwarded",), "bool"),
    ("message_text", ("text",), "str"), ("message_text", ("id",), "str"), ("message_text", ("reply_to",), "str"),
    ("message_text", ("sent_at",), "timestamp"), ("message_text", ("captured_at",), "timestamp"),
    ("message_text", ("conversation", "id"), "str"), ("message_text", ("conversation", "title"), "str"),
    ("message_text", ("sender", "phone"), "str"), ("message_text", ("sender", "name"), "str"),
    ("message_text", ("recipients", 0, "email"), "str"),
    ("message_attachments", ("attachments", 0, "size"), "int"), ("message_attachments", ("attachments", 0, "caption"), "str"),
    ("message_attachments", ("attachments", 1, "file_name"), "str"), ("message_attachments", ("attachments", 2, "id"), "str"),
    ("message_location_contacts", ("location", "latitude"), "float"),
    ("message_location_contacts", ("location", "longitude"), "float"),
    ("message_location_contacts", ("location", "name"), "str"),
    ("message_location_contacts", ("contacts", 0, "name"), "str"),
    ("message_location_contacts", ("contacts", 0, "phones", 0), "str"),
    ("deletion", ("original_text",), "str"), ("deletion", ("target_id",), "str"), ("reaction", ("emoji",), "str"),
    ("call_answered", ("call", "duration_seconds"), "int"), ("call_answered", ("call", "started_at"), "timestamp"),
    ("event_group_created", ("event", "detail"), "str"),
]


def _set(raw, path, value):
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELDS), st.data(), st.booleans())
def test_a_wrong_type_is_rejected_naming_the_field_never_coerced(field, data, as_json) -> None:
    import copy
    import json

    from tests.domain.record_samples import RAW

    sample, path, kind = field
    wrong = data.draw(st.sampled_from(WRONG[kind]))
    raw = copy.deepcopy(RAW[sample])
    parse_item(raw)  # the sample itself is valid
    _set(raw, path, wrong)
    try:
        parsed = parse_item(json.dumps(raw) if as_json else raw)
    except ItemRejected as exc:
        where = ".".join(str(p) for p in path)
        assert exc.reason.startswith(where + ":") or f"; {where}:" in exc.reason, exc.reason
        assert repr(wrong) not in exc.reason or len(repr(wrong)) < 3  # the value (maybe content) is not echoed
    else:
        raise AssertionError(f"{'.'.join(map(str, path))}={wrong!r} was accepted as {parsed!r}")


def test_forwarded_yes_is_rejected_with_the_field_and_the_reason() -> None:
    from tests.domain.record_samples import RAW

    try:
        parse_item({**RAW["message_reply_forwarded"], "forwarded": "yes"})
    except ItemRejected as exc:
        assert exc.item_id == "tm-0004"
        assert exc.reason == "forwarded: Input should be a valid boolean (got a string)"
    else:
        raise AssertionError("forwarded='yes' was archived as a forwarded message")


def test_rfc3339_timestamps_in_their_forms_are_accepted() -> None:
    from tests.domain.record_samples import RAW

    for stamp in ("2026-11-22T09:15:02Z", "2026-11-22T09:15:02.123456789+05:30", "2026-11-22t09:15:02z",
                  "2026-11-22T09:15:02-00:00", "2026-11-22T09:15:02.5+01:00"):
        assert parse_item({**RAW["message_text"], "sent_at": stamp}).sent_at.tzinfo is not None, stamp
    # a whole-number latitude is a JSON number like any other
    assert parse_item({**RAW["message_location_contacts"],
                       "location": {"latitude": 51, "longitude": 0}}).location.latitude == 51.0
