"""Ids are stable across exports: a later export B that extends A gives A's messages A's ids."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings, strategies as st

from tests.chat_export.golden import items_of

BODIES = st.sampled_from(["hi", "<Media omitted>", "ok: fine", "IMG-1.jpg (file attached)", "This message was deleted",
                          "Missed voice call", "location: https://maps.google.com/?q=1.5,2.5", "multi\nline", "hi"])
AUTHORS = st.sampled_from(["Alice", "+44 7700 900123", "Bob: Jr", "~ Kim", "Zoë 😀"])


@st.composite
def chats(draw):
    n = draw(st.integers(2, 25))
    start = datetime(2023, 3, 1, 9, 0)
    msgs, t = [], start
    for _ in range(n):
        t += timedelta(minutes=draw(st.sampled_from([0, 0, 1, 7])))
        msgs.append((t, draw(AUTHORS), draw(BODIES)))
    cut = draw(st.integers(1, n - 1))
    crlf = draw(st.booleans())
    return msgs, cut, crlf


def render(msgs, crlf: bool) -> str:
    # Android shape, 24 h, day first; the first line fixes the date order for both exports
    lines = ["31/12/2022, 23:59 - Messages and calls are end-to-end encrypted."]
    lines += [f"{t:%d/%m/%Y, %H:%M} - {a}: {b}" for t, a, b in msgs]
    return ("\r\n" if crlf else "\n").join(lines) + "\n"


@settings(max_examples=80, deadline=None)
@given(chats())
def test_a_longer_later_export_repeats_every_older_id_and_adds_only_new_ones(case):
    msgs, cut, crlf = case
    a, _ = items_of(render(msgs[:cut], crlf), {})
    b, _ = items_of(render(msgs, not crlf), {})  # a re-saved file may even change its line ends
    ids_a, ids_b = [i["id"] for i in a], [i["id"] for i in b]
    assert len(set(ids_b)) == len(ids_b)  # same-minute identical messages still get one id each
    assert ids_b[: len(ids_a)] == ids_a
    union = set(ids_a) | set(ids_b)
    assert union == set(ids_b)  # importing A then B (or B then A) gives exactly B's messages


def test_identical_same_minute_media_lines_get_distinct_ids():
    text = "23/03/2022, 13:33 - Bob: <Media omitted>\n" * 3
    items, _ = items_of(text, {})
    assert len({i["id"] for i in items}) == 3
