"""The pure pieces: bounded values, log-safe values, added record headers, the email-property policy."""

from __future__ import annotations

import email
from email import policy as email_policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.bounded import bounded, for_log
from shared.domain.mapping_rule import EmailPolicy
from shared.domain.record.annotate import add_headers
from shared.settings import SettingsError, load_settings
from shared.pipeline.pull import item_specific, resent_id
from shared.pipeline.ports import AttachmentCorrupt, FeedAuthError, FeedError, FeedTransientError


@given(st.text(max_size=3000), st.integers(min_value=60, max_value=2000))
def test_a_bounded_value_fits_its_limit_and_two_different_long_values_stay_different(value, limit):
    out = bounded(value, limit)
    assert len(out) <= limit
    if len(value) <= limit:
        assert out == value
    else:
        assert out != bounded(value + "x", limit)  # the hash of the whole tells them apart
        tail = out[out.rindex("…["):]
        assert "," not in tail and ";" not in tail  # lists of bounded values stay splittable


@given(st.text(max_size=500))
def test_a_logged_value_is_one_printable_line_of_bounded_length(value):
    out = for_log(value, 120)
    assert len(out) <= 120 + 60  # escapes may lengthen the head a little; never unbounded
    assert all(c.isprintable() for c in out)
    assert "\n" not in out and "\r" not in out


def test_a_forged_log_line_is_escaped_and_a_huge_id_is_cut():
    assert for_log("a\nCRITICAL forged\r\x1b[31m") == "a\\x0aCRITICAL forged\\x0d\\x1b[31m"
    huge = for_log("x" * 70_000)
    assert len(huge) <= 160 and "70000 chars sha256:" in huge


EML = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\nMessage-ID: <m@x>\r\n"
       b"References: <root@x>\r\n <parent@x>\r\nX-Other: 1\r\nContent-Type: text/plain\r\n\r\nbody\r\n")


def test_added_headers_link_a_resend_to_the_first_and_keep_the_rest_byte_for_byte():
    out = add_headers(EML, [("X-WhatsApp-Resent-Of", "m1"), ("X-WhatsApp-Mapped-Via", "ä@contoso.com: mapping file")],
                      reference="<first@x>")
    msg = email.message_from_bytes(out, policy=email_policy.default)
    assert msg["References"].split() == ["<root@x>", "<parent@x>", "<first@x>"]
    assert msg["In-Reply-To"] == "<first@x>"
    assert msg["X-WhatsApp-Resent-Of"] == "m1"
    assert msg["X-WhatsApp-Mapped-Via"] == "ä@contoso.com: mapping file"
    assert out.endswith(b"\r\n\r\nbody\r\n") and msg.get_content().strip() == "body"
    assert add_headers(EML, []) == EML
    replied = EML.replace(b"X-Other: 1", b"In-Reply-To: <parent@x>")
    assert email.message_from_bytes(add_headers(replied, [], reference="<first@x>"))["In-Reply-To"] == "<parent@x>"


def test_the_email_property_policy():
    on, off, some = EmailPolicy.parse("on"), EmailPolicy.parse("OFF"), EmailPolicy.parse("domains: contoso.com,@Fabrikam.com")
    assert on.refuses("x@evil.example") == ""
    assert "off" in off.refuses("alice@contoso.com")
    assert some.refuses("alice@contoso.com") == "" and some.refuses("f@fabrikam.com") == ""
    assert some.refuses("alice@contoso.com.evil.example") and some.refuses("x@sub.contoso.com")
    for bad in ("maybe", "domains:", "domains:not a domain", "domains:contoso"):
        with pytest.raises(ValueError):
            EmailPolicy.parse(bad)


def test_the_new_settings_are_validated_with_a_clear_message():
    base = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    s = load_settings(**base)
    assert (s.feed_max_page_bytes, s.max_attachment_bytes, s.mapping_email_property) == (32 << 20, 150 << 20, "on")
    assert load_settings(**base, MAPPING_EMAIL_PROPERTY="domains:contoso.com").mapping_email_property == "domains:contoso.com"
    for name, value in (("MAPPING_EMAIL_PROPERTY", "sometimes"), ("FEED_MAX_PAGE_BYTES", "10"), ("MAX_ATTACHMENT_BYTES", "0")):
        with pytest.raises(SettingsError, match=name):
            load_settings(**base, **{name: value})


def test_which_errors_reject_one_item_and_which_fail_the_window():
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    def storage(status):
        exc = HttpResponseError(message="refused")
        exc.status_code = status
        return exc

    for exc in (ValueError("x"), RecursionError(), UnicodeEncodeError("utf-8", "x", 0, 1, "bad"), AttachmentCorrupt("x"),
                FeedError("x"), storage(400), storage(413)):
        assert item_specific(exc), exc
    for exc in (FeedAuthError("x"), FeedTransientError("x"), storage(503), storage(429), storage(403),
                ServiceRequestError("down"), RuntimeError("bug"), MemoryError()):
        assert not item_specific(exc), exc


def test_a_resent_item_id_is_a_valid_id_whatever_the_first_ids_length():
    for first in ("m1", "x" * 200):
        new = resent_id(first, f"2026-11-22/{first[:50]}.resent-0123456789abcdef.json")
        assert new.endswith(".resent-0123456789abcdef") and len(new) <= 200


def test_a_render_reserves_memory_for_its_embeddable_files_only():
    from shared.pipeline.memory_budget import RENDER_FACTOR, MemoryBudget, render_cost

    mib = 1 << 20
    assert render_cost([], 150 * mib) == 0  # a message without files never waits
    assert render_cost([10 * mib, 400 * mib], 150 * mib) == RENDER_FACTOR * 10 * mib  # 400 MiB is never read
    assert render_cost([100 * mib, 100 * mib], 150 * mib) == RENDER_FACTOR * 150 * mib
    budget = MemoryBudget(limit=100)
    with budget.hold(10_000):  # larger than the whole budget: runs, alone
        assert budget.used == 100
        with budget.hold(0):  # a file-less item does not wait behind it
            pass
    assert budget.used == 0 and budget.peak == 100


def test_a_render_that_would_exceed_the_budget_waits_until_another_gives_its_share_back():
    import threading

    from shared.pipeline.memory_budget import MemoryBudget

    budget = MemoryBudget(limit=100)
    entered = threading.Event()

    def second():
        with budget.hold(60):
            entered.set()

    with budget.hold(60):
        worker = threading.Thread(target=second)
        worker.start()
        assert not entered.wait(0.3), "60 + 60 > 100: the second render must wait"
        with budget.hold(40):  # what is left still runs at once
            assert budget.used == 100
    worker.join(5)
    assert entered.is_set() and budget.used == 0 and budget.peak == 100


def test_an_item_nested_deeper_than_the_parser_allows_is_rejected_not_a_crash():
    from shared.domain.items import ItemRejected, parse_item

    with pytest.raises(ItemRejected, match="nested deeper"):
        parse_item(b'{"id": "deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
