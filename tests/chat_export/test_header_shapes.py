"""Every header example of the notes' table reads as the date and time it shows."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared.domain.chat_export.header import parse_header
from tests.chat_export.fixtures import LRM, NBSP, NNBSP

RLM = "\u200f"

CASES = [
    ("1/29/18, 11:46 PM - Alice: x", "mdy", datetime(2018, 1, 29, 23, 46), "android"),
    (f"1/29/18, 7:02{NNBSP}PM - Alice: x", "mdy", datetime(2018, 1, 29, 19, 2), "android"),
    ("23/03/2022, 13:31 - Alice: x", "dmy", datetime(2022, 3, 23, 13, 31), "android"),
    (f"09/10/2023, 11:11{NNBSP}am - +44 7123 456789: <Media omitted>", "dmy", datetime(2023, 10, 9, 11, 11), "android"),
    ("29.01.18, 23:46 - Alice: x", "dmy", datetime(2018, 1, 29, 23, 46), "android"),
    ("29.01.18, 11:46 abends - Alice: x", "dmy", datetime(2018, 1, 29, 23, 46), "android"),
    ("29.01.18, 9:46 vorm. - Alice: x", "dmy", datetime(2018, 1, 29, 9, 46), "android"),
    ("23-03-2022 13:31 - Alice: x", "dmy", datetime(2022, 3, 23, 13, 31), "android"),
    (f"20/6/2017 8:28 p.{NBSP}m. - Michelle: test", "dmy", datetime(2017, 6, 20, 20, 28), "android"),
    ("01/01/2019, 11:25 a. m. - Michelle: x", "dmy", datetime(2019, 1, 1, 11, 25), "android"),
    ("13/07/2017 à 09:12 - X: x", "dmy", datetime(2017, 7, 13, 9, 12), "android"),
    ("2019-05-02, 11:23 a.m. - X: x", "ymd", datetime(2019, 5, 2, 11, 23), "android"),
    ("2022/12/24, 13:01. - X: x", "ymd", datetime(2022, 12, 24, 13, 1), "android"),
    ("03/01/2021, 9:15 in the morning - X: x", "dmy", datetime(2021, 1, 3, 9, 15), "android"),
    ("31.5.2019 klo 16.58 - X: x", "dmy", datetime(2019, 5, 31, 16, 58), "android"),
    ("[3/27/22, 21:41:35] Dmitry S: Hello World", "mdy", datetime(2022, 3, 27, 21, 41, 35), "ios"),
    (f"[1/29/18, 11:46:03{NNBSP}PM] X: x", "mdy", datetime(2018, 1, 29, 23, 46, 3), "ios"),
    (f"{LRM}[3/27/22, 21:41:55] Dmitry S: {LRM}image omitted", "mdy", datetime(2022, 3, 27, 21, 41, 55), "ios"),
    ("[31/12/2022 11:40:26] John Doe: x", "dmy", datetime(2022, 12, 31, 11, 40, 26), "ios"),
    ("[20.06.19, 15:58:47] X: x", "dmy", datetime(2019, 6, 20, 15, 58, 47), "ios"),
    ("[3/27/22 21:41:35] X: x", "mdy", datetime(2022, 3, 27, 21, 41, 35), "ios"),
    ("[3/18/2565 BE, 14:56:01] X: x", "mdy", datetime(2022, 3, 18, 14, 56, 1), "ios"),
    ("[12.3.2022 klo 14.08.18] X: x", "dmy", datetime(2022, 3, 12, 14, 8, 18), "ios"),
    (f"[١٢{RLM}/٣{RLM}/٢٠٢٢, ١٤:٠٨:١٨] X: x", "dmy", datetime(2022, 3, 12, 14, 8, 18), "ios"),
    ("6/23/17, 12:29:34 PM: Person 1: x", "mdy", datetime(2017, 6, 23, 12, 29, 34), "ios"),
    ("1/1/19, 12:05 AM - A: x", "mdy", datetime(2019, 1, 1, 0, 5), "android"),
]


@pytest.mark.parametrize("line, order, moment, platform", CASES, ids=[c[0][:32] for c in CASES])
def test_documented_header_shapes(line, order, moment, platform):
    header = parse_header(line)
    assert header is not None
    assert header.wall_clock(order) == moment
    assert header.platform == platform
    assert line[header.end:].lstrip(LRM).split(": ")[0] in ("Alice", "Michelle", "X", "Dmitry S", "John Doe",
                                                           "Person 1", "A", "+44 7123 456789")


@pytest.mark.parametrize("line", ["12/12/2012 looks like a date", "13:45 - meeting", "[note] 1/2/3",
                                  "6/23/17, 12:29 PM: no seconds is not old iOS", "see 1.2.2020, 10:00 - later"])
def test_text_that_only_looks_date_like_is_not_a_header(line):
    assert parse_header(line) is None
