"""What a reviewer sees first: the message as WhatsApp showed it, above the evidence facts."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.sample_day import photo_png, sticker_png
from shared.domain.items import Item
from shared.domain.record import RenderOptions, render_record
from shared.domain.record.images import dimensions, display_size
from shared.domain.record.wa_format import whatsapp_html
from tests.domain.record_checks import assert_html_safe, html_body, parse
from tests.domain.record_samples import BASE, RAW, DictSource, item, mailbox_of, sha

OPTIONS = RenderOptions(display_timezone="Europe/Berlin")


def render(raw_or_item, **kw):
    it = raw_or_item if isinstance(raw_or_item, Item) else Item.model_validate(raw_or_item)
    kw.setdefault("attachments", DictSource())
    return render_record(it, mailbox_of=mailbox_of, options=OPTIONS, **kw)


def chat(record) -> str:
    """The part of the page above the evidence."""
    return record.html[record.html.index("<body"):record.html.index(">Evidence</h3>")]


def png_file(data: bytes, **extra) -> dict:
    return {"id": "att-p", "file_name": "IMG-1.png", "content_type": "image/png", "size": len(data), "sha256": sha(data),
            "kind": "image", **extra}


def test_the_bubble_comes_first_with_name_number_and_both_times():
    record = render(item("message_text"))
    top = chat(record)
    assert record.html.index("background-color:#efeae2") < record.html.index(">Evidence</h3>") < record.html.index(">From<")
    assert "Alice Smith <span" in top and "+447700900123" in top
    assert "2026-11-22 10:15 CET · 09:15 UTC" in top
    assert 'align="right"' in top  # outbound on the right, like the phone that sent it
    assert 'align="left"' in chat(render(item("reaction")))  # inbound on the left


def test_a_photo_with_a_caption_reads_as_a_message_not_as_an_empty_one():
    data = photo_png(1)
    record = render({**BASE, "id": "tm-p", "type": "message",
                     "attachments": [png_file(data, caption="Signed *contract*")]}, attachments=DictSource({"p": data}))
    top = chat(record)
    assert "(empty" not in top
    img = re.search(r"<img [^>]*>", top).group(0)
    assert 'src="cid:file1.' in img and 'alt="Photo: IMG-1.png (Signed *contract*)"' in img
    assert 'width="96" height="64"' in img  # Outlook draws the picture at this size, not its own
    assert "Signed <b>contract</b>" in top
    msg = parse(record.eml)
    assert assert_html_safe(html_body(msg), msg) == 1


def test_a_picture_that_could_not_be_embedded_is_a_card_that_says_so():
    data = photo_png(1)
    record = render({**BASE, "id": "tm-p", "type": "message", "attachments": [png_file(data)]},
                    attachments=DictSource({}))
    top = chat(record)
    assert "<img" not in top
    assert "Not embedded in this record: its bytes were not available" in top and f"attachments/{sha(data)}" in top


def test_files_are_cards_with_name_type_and_size_and_a_call_recording_its_duration():
    top = chat(render(item("message_attachments")))
    assert "<b>pricing-v3.pdf</b>" in top and "Document · application/pdf · 38 bytes" in top
    assert "Voice note · audio/ogg · 24 bytes" in top
    call = chat(render(item("call_answered")))
    assert "<b>Video call</b>" in call and ">answered</span>" in call and "Duration: 12:34" in call
    assert "Call recording · audio/ogg · 18 bytes · duration 12:34" in call
    assert call.count("<table") < 12  # one card, not six tables of facts


def test_an_edit_shows_before_and_after_and_a_deletion_the_deleted_text():
    original = item("message_text")
    edit = chat(render(item("edit"), context={original.id: original}))
    before, after = edit.index(">Before</th>"), edit.index(">After</th>")
    assert before < after < edit.index("numbers on page 2.") < edit.index("numbers on page 3.")
    unknown = chat(render(item("edit")))
    assert "Not known: the edit carries only the new text" in unknown
    deletion = chat(render(item("deletion")))
    assert "This message was deleted" in deletion and "Deleted text (kept by the capture service)" in deletion
    assert "Draft attached, numbers on page 2." in deletion
    quoted = chat(render(item("deletion_without_text"), context={"tm-0002": item("message_attachments")}))
    assert "Deleted message (quoted from the archive)" in quoted and "Files for you" in quoted
    assert "The deleted content is not known" in chat(render(item("deletion_without_text")))


def test_a_reaction_shows_the_emoji_and_the_message_and_quotes_only_the_same_chat():
    original = item("message_text")
    top = chat(render(item("reaction"), context={original.id: original}))
    assert "\U0001F44D</div>" in top and "Reacted to: Alice Smith" in top and "numbers on page 2." in top
    elsewhere = original.model_copy(update={"conversation": original.conversation.model_copy(update={"id": "other"})})
    leak = render(item("reaction"), context={original.id: elsewhere})
    assert "numbers on page 2." not in leak.html and "numbers on page 2." not in leak.text


def test_forwarded_and_a_reply_quote_and_the_events_centred():
    original = item("message_text")
    reply = item("message_reply_forwarded")
    same_chat = original.model_copy(update={"conversation": reply.conversation})
    top = chat(render(reply, context={original.id: same_chat}))
    assert "Forwarded" in top and "Reply to: Alice Smith" in top and top.index("Reply to") < top.index("Agreed, see below")
    event = chat(render(item("event_participant_added")))
    assert 'align="center"' in event and "<b>Participant added</b>: detail of participant_added: Bob Jones" in event


def test_a_group_event_with_a_picture_shows_it_inline_from_its_own_part():
    """e.g. a new group picture: the part that carries a Content-ID is the one the centred event shows."""
    data = photo_png(2)
    raw = {**RAW["event_participant_added"], "attachments": [png_file(data)]}
    record = render(raw, attachments=DictSource({"p": data}))
    top = chat(record)
    assert 'align="center"' in top and re.search(r'<img [^>]*src="cid:file1\.', top)
    msg = parse(record.eml)
    assert assert_html_safe(html_body(msg), msg) == 1


def test_location_and_contacts_are_cards_with_the_link_shown():
    top = chat(render(item("message_location_contacts")))
    link = "https://www.openstreetmap.org/?mlat=51.5033635&amp;mlon=-0.1276248#map=17/51.5033635/-0.1276248"
    assert f">{link}</a>" in top  # the address is what the reviewer reads
    assert "51.5033635, -0.1276248" in top and "<b>\U0001F464 Carol Lawyer</b><br>+44 20 7946 0000" in top


def test_whatsapp_formatting():
    assert whatsapp_html("*b* _i_ ~s~ `c *x*`") == ("<b>b</b> <i>i</i> <s>s</s> <code style=\"font-family:Consolas,"
                                                   "'Courier New',monospace;font-size:13px;background-color:#f0f2f5;"
                                                   "color:#111b21;\">c *x*</code>")
    assert "<span" in whatsapp_html("```a\nb```") and "a<br>b" in whatsapp_html("```a\nb```")
    assert whatsapp_html("snake_case_name and 2*3*4") == "snake_case_name and 2*3*4"
    assert whatsapp_html("*_both_*") == "<b><i>both</i></b>"
    assert whatsapp_html("<i onclick=x>*</i>*") == "&lt;i onclick=x&gt;<b>&lt;/i&gt;</b>"  # escaped, then formatted


_SPAN_DEFINITION = re.compile(r"(?<!\w)([*_~])(?=\S)([^\n]*?\S)\1(?!\w)")


def _spans_by_definition(text: str, depth: int = 0) -> str:
    """The span rules as one regex (what wa_format finds without the regex's rescans)."""
    from shared.domain.record.wa_format import _MAX_DEPTH, _TAGS, _lines

    if depth >= _MAX_DEPTH:
        return _lines(text)
    out, pos = [], 0
    for match in _SPAN_DEFINITION.finditer(text):
        marker, inner = match.group(1), match.group(2)
        if inner == marker * len(inner):
            continue
        out += [_lines(text[pos:match.start()]), _TAGS[marker][0], _spans_by_definition(inner, depth + 1), _TAGS[marker][1]]
        pos = match.end()
    return "".join(out) + _lines(text[pos:])


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("*_~ab \t\n\r.\u00e9\u3000")), max_size=80))
def test_formatting_spans_equal_the_one_regex_definition(text):
    from shared.domain.record.wa_format import _spans

    assert _spans(text, 0) == _spans_by_definition(text)


def test_formatting_a_long_text_full_of_unpaired_markers_is_fast():
    import time

    for text in ("*a " * 22000, "_x " * 22000, "*a " * 11000 + "\n" + "a* " * 11000):
        began = time.perf_counter()
        whatsapp_html(text)
        assert time.perf_counter() - began < 1.0  # the regex it replaces took seconds (quadratic)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("*_~`ab <>&\"'\n\r")), max_size=60))
def test_formatting_never_makes_markup_of_its_own_beyond_its_tags(text):
    out = whatsapp_html(text)
    tags = re.findall(r"</?([a-z]+)[^>]*>", out)
    assert set(tags) <= {"b", "i", "s", "code", "span", "br"}
    stack = []
    for tag in re.findall(r"<(/?)([a-z]+)", out):
        if tag[1] == "br":
            continue
        if tag[0]:
            assert stack and stack.pop() == tag[1], out
        else:
            stack.append(tag[1])
    assert not stack
    plain = re.sub(r"<[^>]+>", "", out).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    assert set(plain.replace("&#x27;", "'").replace("&amp;", "&")) <= set(text) | {"\n"} or not text


def test_picture_sizes_are_read_from_the_file_and_scaled_to_the_bubble():
    assert dimensions(photo_png(0)) == (96, 64) and dimensions(sticker_png(0)) == (48, 48)
    assert dimensions(b"\xff\xd8\xff\xe0fake") is None and dimensions(b"") is None
    big = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (4000).to_bytes(4, "big") + (3000).to_bytes(4, "big")
    assert display_size(big) == (400, 300)
    assert display_size(b"junk") == (400, None)


def test_same_item_same_context_same_bytes():
    original = item("message_text")
    for name in RAW:
        assert render(item(name), context={original.id: original}).eml == render(item(name), context={original.id: original}).eml


def test_what_the_record_says_about_where_an_item_came_from_is_the_entry_points_word():
    from shared.domain.items import as_entered, parse_item

    owner = {"owner_verified": True}
    claims = {**RAW["call_answered"], "source": "chat_export", "provenance": {"time zone": "Europe/London (claimed)"},
              "sender": {**RAW["call_answered"]["sender"], **owner},
              "call": {**RAW["call_answered"]["call"],
                       "participants": [{**p, **owner} for p in RAW["call_answered"]["call"]["participants"]]}}
    as_fed = render(as_entered(parse_item(claims), "feed", trust_owner=False), attachments=DictSource())
    assert re.search(r"^Source:\s+feed\s*$", as_fed.text, re.M)
    for shown in (as_fed.text, as_fed.html):
        assert "chat_export" not in shown and "(claimed)" not in shown
        assert "named by the admin at import" not in shown  # neither the sender nor a call participant
    imported = render(as_entered(parse_item(claims), "chat_export", trust_owner=True), attachments=DictSource())
    assert re.search(r"^Source:\s+chat_export\s*$", imported.text, re.M)
    assert "Europe/London (claimed)" in imported.text and "named by the admin at import" in imported.text
