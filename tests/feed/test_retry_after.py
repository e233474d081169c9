"""Properties of HttpFeed's Retry-After parser: seconds or an HTTP date, never negative, never a crash."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given, strategies as st

from shared.adapters.feed_http import MAX_RETRY_AFTER_SECONDS as CAP, parse_retry_after

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["", " ", "\t"]))
def test_delay_seconds_read_as_themselves(n, pad):
    assert parse_retry_after(f"{pad}{n}{pad}", NOW) == min(float(n), CAP)


@given(st.integers(min_value=-10**6, max_value=10**6))
def test_an_http_date_is_the_seconds_until_then_and_never_negative(delta):
    when = NOW + timedelta(seconds=delta)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == max(0.0, float(delta))


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)))
def test_any_formatted_date_parses_to_a_non_negative_wait(moment):
    moment = moment.replace(tzinfo=timezone.utc, microsecond=0)
    wait = parse_retry_after(format_datetime(moment, usegmt=True), NOW)
    assert wait == min(CAP, max(0.0, (moment - NOW).total_seconds()))


@given(st.one_of(st.none(), st.text(max_size=60), st.from_regex(r"-?\d+(\.\d*)?[a-z ]?", fullmatch=True)))
def test_anything_else_is_a_number_of_seconds_or_none_and_never_raises(value):
    wait = parse_retry_after(value, NOW)
    assert wait is None or (wait >= 0 and wait == wait and wait != float("inf"))


def test_unreadable_values_are_no_advice():
    for value in (None, "", "soon", "-5", "1e3", "Wed, 99 Foo 2015 07:28:00 GMT", "nan", "inf"):
        assert parse_retry_after(value, NOW) is None


def test_a_huge_number_stays_finite():
    assert parse_retry_after("9" * 400, NOW) == CAP
