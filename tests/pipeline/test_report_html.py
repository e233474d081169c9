"""The daily report page: status first in colour and words, figures, copies per mailbox, a 30-day trend
read from the earlier days' JSON, the tables of what did not land, extra sections from the JSON."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from shared import names
from shared.adapters.storage.blobs import BlobStore
from shared.adapters.storage.clients import build_storage_clients
from shared.pipeline.report import build_report, read_history, render_html, write_report
from shared.pipeline.report_html import render_report_html, report_status
from shared.settings import load_settings

DAY = "2026-11-22"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
RUN_OK = {"RowKey": "run-1", "report_date": DAY, "status": "succeeded", "started": "2026-11-22T02:00:00+00:00",
          "finished": "2026-11-22T02:05:00+00:00", "items": 4}


def rows() -> list[dict]:
    return [
        {"RowKey": "item|a", "item_id": "a", "stage": "converted"},
        {"RowKey": "item|b", "item_id": "b", "stage": "converted"},
        {"RowKey": "item|c", "item_id": "c", "stage": "unmapped", "participants": "+447700900123", "reason": "no mailbox"},
        {"RowKey": "item|d", "item_id": "d", "stage": "rejected", "reason": "forwarded: Input should be a valid boolean"},
        {"RowKey": "copy|a|alice", "item_id": "a", "mailbox": "alice@contoso.com", "outcome": "imported"},
        {"RowKey": "copy|a|bob", "item_id": "a", "mailbox": "bob@contoso.com", "outcome": "failed", "reason": "no mailbox"},
        {"RowKey": "copy|b|alice", "item_id": "b", "mailbox": "alice@contoso.com", "outcome": "partial", "reason": "too large"},
    ]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("src", "href", "action") or tag in ("script", "link", "iframe", "form"):
                if not (name == "xmlns"):
                    self.bad.append(f"{tag} {name}={value}")


def loads_nothing(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    assert not parser.bad, parser.bad
    assert "url(" not in page and "@import" not in page
    return parser


def test_status_line_comes_first_in_colour_and_words():
    report = build_report(DAY, rows(), [RUN_OK], now=NOW)
    page = render_html(report)
    first = page.index("<h1")
    status = page.index("COMPLETE:")
    assert first < status < page.index("<h2>Figures")
    assert "#8a5300" in page[status - 300:status]  # complete, but amber: there is something to look at
    clean = [r for r in rows() if r.get("outcome") in (None, "imported") and r.get("stage") in (None, "converted")]
    green = render_html(build_report(DAY, clean, [RUN_OK], now=NOW))
    assert "#0a6b0a" in green[:green.index("COMPLETE:")] and "Needs a look" not in green
    assert "Needs a look: 1 copies failed; 1 copies landed without some attachments; 1 items were rejected" in page
    assert report.to_json()["status"] == "complete"

    pending = build_report(DAY, rows() + [{"RowKey": "copy|b|bob", "item_id": "b", "mailbox": "bob@contoso.com"}],
                           [RUN_OK], now=NOW)
    assert pending.to_json()["status"] == "incomplete" and "INCOMPLETE: 1 copies still queued" in render_html(pending)

    failed_run = {**RUN_OK, "status": "failed", "error": "feed said 401"}
    stopped = build_report(DAY, rows(), [failed_run], now=NOW)
    page = render_html(stopped)
    assert "CAPTURE STOPPED: the last pull run failed: feed said 401" in page and "#b00020" in page
    assert report_status({"runs": []}) == ("capture stopped", "no pull run was recorded for this day")


def test_copies_per_mailbox_and_the_tables_of_what_did_not_land():
    report = build_report(DAY, rows(), [RUN_OK], now=NOW)
    assert report.mailboxes == {"alice@contoso.com": {"imported": 1, "partial": 1}, "bob@contoso.com": {"failed": 1}}
    page = render_html(report)
    section = page[page.index("Copies per mailbox"):page.index("Last 30 days")]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", section)
    assert cells == ["alice@contoso.com", "1", "1", "0", "0", "0", "2", "bob@contoso.com", "0", "0", "0", "1", "0", "1"]
    assert "Items that did not fully land (4)" in page
    assert "forwarded: Input should be a valid boolean" in page


def test_trend_draws_the_last_30_days_from_the_earlier_reports_with_gaps_for_missing_days():
    today = build_report(DAY, rows(), [RUN_OK], now=NOW).to_json()
    end = date.fromisoformat(DAY)
    history = [{"date": (end - timedelta(days=d)).isoformat(), "items_available": 10 * d, "copies": 20, "failed": d % 3,
                "unmapped": 1} for d in range(1, 40) if d != 5]
    page = render_report_html(today, history)
    svg = page[page.index("<svg"):page.index("</svg>")]
    lines = re.findall(r'<polyline[^>]*points="([^"]*)"', svg)
    assert len(lines) == 8  # four series, each broken once by the day with no report
    assert sum(len(p.split()) for p in lines) == 4 * 29  # 30 days minus the missing one, per series
    assert "No report for 1 of these days" in page
    assert "<title" in svg and 'role="img"' in svg
    loads_nothing(page)


def test_extra_sections_from_the_json_are_rendered_escaped():
    report = build_report(DAY, rows(), [RUN_OK], now=NOW)
    report.sections.append({"title": "Re-sent items", "columns": ["item id", "note"],
                            "rows": [["tm-1", "<script>x</script>"], ["tm-2", "changed text"]], "note": "kept beside"})
    data = report.to_json()
    assert data["sections"][0]["title"] == "Re-sent items"
    page = render_html(report)
    assert "<h2>Re-sent items (2)</h2>" in page and "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    loads_nothing(page)


def test_a_day_with_nothing_says_so_and_still_renders():
    report = build_report(DAY, [], [], now=NOW)
    page = render_html(report)
    assert "No items were available from the capture feed for this day." in page
    assert "CAPTURE STOPPED" in page
    assert "nothing: every copy landed" in page
    assert render_html(report) == page  # deterministic


@pytest.fixture
def blobs(storage_connection):
    store = BlobStore(build_storage_clients(load_settings(AzureWebJobsStorage=storage_connection)).blobs)
    store.ensure_containers()
    return store


def test_write_report_reads_the_previous_days_json_for_the_trend(blobs):
    end = date.fromisoformat(DAY)
    for d in (1, 2, 3):
        day = (end - timedelta(days=d)).isoformat()
        blobs.put(names.REPORTS, f"{day}.json", json.dumps({"date": day, "items_available": 100 + d, "copies": 7,
                                                            "failed": 0, "unmapped": 0}).encode())
    blobs.put(names.REPORTS, f"{(end - timedelta(days=4)).isoformat()}.json", b"not json")
    report = build_report(DAY, rows(), [RUN_OK], now=NOW)
    write_report(report, blobs=blobs, retention_days=90, today=end)
    page = blobs.get(names.REPORTS, f"{DAY}.html").decode()
    lines = re.findall(r'<polyline[^>]*points="([^"]*)"', page)
    assert [len(p.split()) for p in lines] == [4, 4, 4, 4]  # three earlier days and this one
    written = json.loads(blobs.get(names.REPORTS, f"{DAY}.json"))
    assert written["status"] == "complete"
    assert page == render_report_html(written, read_history(blobs, DAY))  # the page shows the very JSON written
