"""X-Hub-Signature-256 and the subscription handshake, as Meta sends them."""

from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.whatsapp import sign, verify_handshake, verify_signature
from tests.whatsapp_domain.helpers import body

SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def test_meta_signature_is_hmac_sha256_hex_of_the_raw_body():
    raw = body("meta_escaped_text.body")
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert sign(raw, SECRET) == expected
    assert verify_signature(raw, expected, SECRET)
    assert verify_signature(raw, expected.upper().replace("SHA256=", "sha256="), SECRET)  # hex case does not matter


def test_meta_escaped_body_verifies_only_over_the_exact_bytes():
    raw = body("meta_escaped_text.body")
    assert b"\\u00f6" in raw and b"\\/" in raw and raw.isascii()  # Meta's form: \uXXXX and \/
    header = sign(raw, SECRET)
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(reserialised) == json.loads(raw)  # same JSON ...
    assert not verify_signature(reserialised, header, SECRET)  # ... different bytes: refused
    assert not verify_signature(raw.replace(b"\\/", b"/"), header, SECRET)
    assert not verify_signature(raw + b"\n", header, SECRET)


def test_wrong_secret_or_tampered_body_is_refused():
    raw = body("text")
    header = sign(raw, SECRET)
    assert not verify_signature(raw, header, SECRET + "x")
    assert not verify_signature(raw.replace(b"Preise", b"Prices"), header, SECRET)


def test_missing_or_malformed_headers_are_refused_not_raised():
    raw = body("text")
    good = sign(raw, SECRET)
    for header in (None, "", "sha256=", good[len("sha256="):], "sha1=" + good[7:], good + "00", good[:-1],
                   "sha256=" + "zz" * 32, "sha256=" + "é" * 64, " ", good.replace("sha256=", "sha256 ="), 42):
        assert verify_signature(raw, header, SECRET) is False, header
    assert verify_signature(raw, good, "") is False  # no secret configured: accept nothing
    assert verify_signature("text", good, SECRET) is False  # type: ignore[arg-type]


@given(st.binary(max_size=512), st.text(min_size=1, max_size=40), st.one_of(st.none(), st.text(max_size=80)))
def test_arbitrary_headers_never_raise_and_only_the_right_one_verifies(raw, secret, header):
    assert verify_signature(raw, sign(raw, secret), secret)
    if header != sign(raw, secret):
        assert verify_signature(raw, header, secret) is (header is not None and header.strip().lower() == sign(raw, secret))


def test_handshake_returns_the_challenge_only_for_a_matching_subscribe():
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "our-token"}
    assert verify_handshake(query, "our-token") == "1158201444"
    assert verify_handshake({**query, "hub.verify_token": "their-token"}, "our-token") is None
    assert verify_handshake({**query, "hub.mode": "unsubscribe"}, "our-token") is None
    assert verify_handshake({k: v for k, v in query.items() if k != "hub.challenge"}, "our-token") is None
    assert verify_handshake({k: v for k, v in query.items() if k != "hub.verify_token"}, "our-token") is None
    assert verify_handshake(query, "") is None  # no token configured: no subscription
    assert verify_handshake({}, "our-token") is None
