"""Phone numbers as keys: one number in any notation gives one key; junk gives None, never an exception."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.items import Participant
from shared.domain.phones import is_phone_like, normalise_phone, participant_keys

# (E.164, region whose national notation we also try). Fiction and test ranges on purpose: they
# are *possible* but not *valid* numbers, and must still work.
NUMBERS = [
    ("+447700900123", "GB"),
    ("+447700900000", "GB"),
    ("+15551230002", "US"),
    ("+15551230199", "US"),
    ("+4915112345678", "DE"),
    ("+33612345678", "FR"),
    ("+61491570156", "AU"),
    ("+919876543210", "IN"),
]


@pytest.mark.parametrize("text,region,expected", [
    ("+447700900123", "US", "+447700900123"),
    ("447700900123", "US", "+447700900123"),
    ("0044 7700 900123", "US", "+447700900123"),
    ("0044 7700 900123", "GB", "+447700900123"),
    ("07700 900123", "GB", "+447700900123"),
    ("(555) 123-0002", "US", "+15551230002"),
    ("555.123.0002", "US", "+15551230002"),
    ("1-555-123-0002", "US", "+15551230002"),
    ("+1 (555) 123-0002", "GB", "+15551230002"),
    ("15551230002", "GB", "+15551230002"),
    ("011 44 7700 900123", "US", "+447700900123"),
    ("\u00a0+44\u00a07700\u2011900123 ", "US", "+447700900123"),
    ("\uff0b\uff14\uff14\uff17\uff17\uff10\uff10\uff19\uff10\uff10\uff11\uff12\uff13", "US", "+447700900123"),
    ("4915112345678", "US", "+4915112345678"),
    ("4915112345678", "DE", "+4915112345678"),  # E.164 without '+' in its own variable-length region
    ("+44 (0) 7700 900123", "US", "+447700900123"),  # the UK '(0)' trunk-prefix habit
    ("+49 (0)151 12345678", "GB", "+4915112345678"),
])
def test_notations(text, region, expected):
    assert normalise_phone(text, region) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "+", "123", "+1", "5551230",  # too short / local-only, no area code
    "1-800-FLOWERS", "+44 7700 900123 ext. 12", "+44 77OO 900123", "alice@example.com",
    "+44 7700 900123 +1", "++447700900123", "*123#", "9" * 40, "US.13491208655302741918",
])
def test_not_usable(text):
    assert normalise_phone(text, "US") is None


def test_possible_not_valid_is_enough():
    number = phonenumbers.parse("+447700900123")
    assert not phonenumbers.is_valid_number(number)  # fiction range: not assigned
    assert normalise_phone("+447700900123", "US") == "+447700900123"


def _variants(e164: str, region: str) -> st.SearchStrategy[str]:
    """Ways people write the same number: international, 00, no plus, national; any separators."""
    number = phonenumbers.parse(e164)
    cc, nsn = str(number.country_code), phonenumbers.national_significant_number(number)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    national_digits = "".join(ch for ch in national if ch.isdigit())
    forms = st.sampled_from([("+", cc + nsn), ("00", cc + nsn), ("", cc + nsn), ("", national_digits)])
    seps = st.lists(st.sampled_from(["", " ", "-", ".", "  ", "\u00a0", "/"]), min_size=20, max_size=20)

    @st.composite
    def build(draw):
        prefix, digits = draw(forms)
        gaps = draw(seps)
        body = "".join(d + gaps[i % len(gaps)] for i, d in enumerate(digits)).strip(" -./\u00a0")
        if draw(st.booleans()) and len(digits) > 6:  # bracket an area-code-like group
            cut = draw(st.integers(min_value=1, max_value=4))
            body = "(" + digits[:cut] + ") " + digits[cut:]
        pad = draw(st.sampled_from(["", " ", "  "]))
        return pad + prefix + (draw(st.sampled_from(["", " "])) if prefix else "") + body + pad

    return build()


@pytest.mark.parametrize("e164,region", NUMBERS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_formatting_of_one_number_gives_one_key(e164, region, data):
    text = data.draw(_variants(e164, region))
    assert normalise_phone(text, region) == e164, text


@pytest.mark.parametrize("e164,_", NUMBERS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_international_notations_do_not_depend_on_the_region(e164, _, data):
    region = data.draw(st.sampled_from(["US", "GB", "DE", "FR", "IN", "BR", "AU"]))
    digits = e164[1:]
    for text in ("+" + digits, "00" + digits, "+" + " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))):
        assert normalise_phone(text, region) == e164


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=80), region=st.sampled_from(["US", "GB", "DE", "", "XX", "us"]))
def test_normalise_never_raises(text, region):
    result = normalise_phone(text, region)
    assert result is None or (result.startswith("+") and result[1:].isdigit())


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789+-.() /", max_size=30))
def test_result_is_stable(text):
    """Normalising a key again gives the key: E.164 is a fixed point."""
    result = normalise_phone(text, "US")
    if result is not None:
        assert normalise_phone(result, "US") == result
        assert normalise_phone(result, "GB") == result


def test_is_phone_like():
    assert is_phone_like("+44 (0) 7700-900.123")
    assert not is_phone_like("US.1234")
    assert not is_phone_like("  ")
    assert not is_phone_like("+")


@pytest.mark.parametrize("participant,keys", [
    (Participant(phone="+447700900123"), ["+447700900123"]),
    (Participant(phone="(555) 123-0002", user_id="US.1234"), ["+15551230002", "uid:US.1234"]),
    (Participant(user_id=" US.1234 "), ["uid:US.1234"]),
    (Participant(phone="not a number", user_id="US.1234"), ["uid:US.1234"]),
    (Participant(phone="123"), []),
])
def test_participant_keys(participant, keys):
    assert participant_keys(participant, "US") == keys
