"""Hostile or unexpected bodies: never an exception, every item valid, every problem reported with where and why."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.items import parse_item
from shared.domain.whatsapp import Normalised, normalise_payload
from tests.whatsapp_domain.helpers import FIXTURES, RECEIVED, body, by_id, normalise

JSON_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))


def _check(result: Normalised) -> None:
    for item in result.items:
        parse_item(item)
    json.dumps(result.to_dict(), ensure_ascii=False)
    assert not [u for u in result.unknown if u.reason.startswith("internal error")], result.unknown
    ids = {i["id"] for i in result.items}
    assert all(ref.item_id in ids for ref in result.media)


def test_malformed_json_is_one_unknown_entry():
    result = normalise("malformed.body")
    (unknown,) = result.unknown
    assert unknown.path == "$" and "not valid JSON" in unknown.reason
    assert result.items == ()


def test_wrong_shapes_are_reported_not_raised():
    for raw in (b"", b"null", b"[]", b'"text"', b"42", b"\xff\xfe", b"[" * 100_000, b'{"object": "whatsapp_business_account"}',
                b'{"object": "whatsapp_business_account", "entry": [1, "x", {"changes": {}}]}'):
        result = normalise_payload(raw, received_at=RECEIVED)
        assert result.items == () and result.unknown, raw[:40]
        _check(result)
    assert normalise("wrong_object").unknown[0].path == "$.object"
    assert normalise("wrong_shape_entry").unknown[0].reason == "'entry' is a dict, expected a list"


def test_one_bad_message_or_change_never_fails_the_others_in_the_same_post():
    result = normalise("mixed_batch")
    assert sorted(by_id(result)) == ["wamid.OK1", "wamid.OK2"]
    reasons = {u.path: u.reason for u in result.unknown}
    assert reasons["$.entry[0].changes[0].value.messages[1]"] == "message.id: missing or not a string (got NoneType)"
    assert "message.timestamp" in reasons["$.entry[0].changes[0].value.messages[2]"]
    assert "expected an object" in reasons["$.entry[0].changes[0].value.messages[3]"]
    assert "131000" in reasons["$.entry[0].changes[0].value.errors[0]"]
    assert "brand_new_field" in reasons["$.entry[0].changes[1]"]
    assert reasons["$.entry[0].changes[2].value"] == "change without a 'value' object"
    no_business = [u for u in result.unknown if u.id == "wamid.NOBIZ"]
    assert len(no_business) == 1 and "display_phone_number" in no_business[0].reason
    assert result.counts["items"] == 2 and result.counts["unknown"] == len(result.unknown) == 7


def test_unknown_field_is_reported_with_its_name():
    (unknown,) = normalise("unknown_field").unknown
    assert unknown.field == "message_template_status_update" and unknown.path == "$.entry[0].changes[0]"


def test_lone_surrogates_and_control_characters_do_not_break_items():
    raw = body("text").replace("Morgen!".encode(), b"\\ud800\\u0000\\u202e")
    result = normalise_payload(raw, received_at=RECEIVED)
    assert len(result.items) == 4
    _check(result)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises(value):
    raw = json.dumps(value).encode()
    _check(normalise_payload(raw, received_at=RECEIVED))
    wrapped = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": f, "value": value}
                                                                                        for f in ("messages", "smb_message_echoes",
                                                                                                  "history", "calls",
                                                                                                  "smb_app_state_sync",
                                                                                                  "account_update")]}]}
    _check(normalise_payload(json.dumps(wrapped).encode(), received_at=RECEIVED))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


def _mutate(doc, path, action, replacement):
    if not path:
        return replacement if action == "replace" else doc
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    else:
        parent[last] = replacement
    return doc


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(JSON_FIXTURES), st.data())
def test_mutated_fixtures_never_raise_and_every_item_still_validates(name, data):
    doc = json.loads(body(name))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["delete", "replace"]))
        doc = _mutate(doc, path, action, data.draw(json_values))
    _check(normalise_payload(json.dumps(doc).encode(), received_at=RECEIVED))
