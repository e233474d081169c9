"""Masking: enough of a number to tell people apart and find the row, not the number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.masking import mask_number


@pytest.mark.parametrize("value,masked", [
    ("+447700900123", "+********0123"),
    ("+15551230002", "+*******0002"),
    ("+44 7700 900123", "+** **** **0123"),
    ("uid:US.13491208655302741918", "uid:*******************1918"),
    ("uid:abc", "uid:**c"),
    ("123", "**3"),
    ("(no usable number or user id)", "(no usable number or user id)"),
    ("", ""),
])
def test_mask(value, masked):
    assert mask_number(value) == masked


def test_full_returns_as_is():
    assert mask_number("+447700900123", full=True) == "+447700900123"
    assert mask_number("uid:US.1234", full=True) == "uid:US.1234"


@given(digits=st.text(alphabet="0123456789", min_size=8, max_size=15))
def test_only_the_last_four_digits_show(digits):
    masked = mask_number("+" + digits)
    assert masked.endswith(digits[-4:])
    assert masked.count("*") == len(digits) - 4
    assert len(masked) == len(digits) + 1


@given(text=st.text(max_size=40))
def test_never_raises_and_keeps_length(text):
    assert len(mask_number(text)) == len(text)
