"""When a capture day is complete enough to build its transcripts."""

from __future__ import annotations

from datetime import date, datetime, timezone

from shared.pipeline.transcripts import day_is_complete

MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)


def test_not_before_the_watermark_has_passed_the_end_of_the_day():
    never_waiting = lambda _d: False  # noqa: E731
    assert not day_is_complete("2026-11-22", watermark=None, today=date(2026, 11, 23), pulled_waiting=never_waiting)
    assert not day_is_complete("2026-11-22", watermark=datetime(2026, 11, 22, 23, 59, tzinfo=timezone.utc),
                               today=date(2026, 11, 23), pulled_waiting=never_waiting)
    assert day_is_complete("2026-11-22", watermark=MIDNIGHT, today=date(2026, 11, 23), pulled_waiting=never_waiting)


def test_not_while_an_item_pulled_since_that_day_still_waits_for_conversion():
    asked: list[str] = []

    def waiting(report_date: str) -> bool:
        asked.append(report_date)
        return report_date == "2026-11-23"

    assert not day_is_complete("2026-11-22", watermark=MIDNIGHT, today=date(2026, 11, 24), pulled_waiting=waiting)
    assert asked == ["2026-11-22", "2026-11-23"]
    assert day_is_complete("2026-11-21", watermark=MIDNIGHT, today=date(2026, 11, 21), pulled_waiting=waiting)
