"""The daily admin report: what the feed offered, what landed where, and everything that did not.

Built from the tracking rows of one report day (the UTC day of the pull run), written as JSON
and HTML to the ``reports`` container, its figures sent to Application Insights. The invariant
copies = imported + partial + skipped + failed (+ pending while work is still queued) is
checked and shown: a report whose arithmetic does not close says so in red.

The HTML page is rendered from the JSON by ``report_html`` (status line, figures, copies per
mailbox, a 30-day trend from the previous days' JSON, the tables of what did not land). To add a
table to the report, append ``{"title", "columns", "rows", "note"?}`` to ``Report.sections``: it is
in the JSON under ``sections`` and rendered in the page, with no change to the renderer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

from shared import names
from shared.domain.masking import mask_number
from shared.pipeline import whatsapp_report
from shared.pipeline.report_html import TREND_DAYS, render_report_html, report_status

OUTCOMES = ("imported", "partial", "skipped", "failed", "pending")


@dataclass
class Problem:
    item_id: str
    source: str  # masked unless the operator asked for full numbers
    mailbox: str
    stage: str
    reason: str


@dataclass
class Report:
    date: str
    generated_at: str
    items_available: int = 0
    copies: int = 0
    imported: int = 0
    partial: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0
    rejected: int = 0
    unmapped: int = 0
    converted: int = 0
    staged: int = 0  # transcript mode: items waiting for their capture day's transcript
    attachments_corrupt: int = 0
    resent_changed: int = 0  # items the source re-sent with different content (archived as their own records)
    runs: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    mailboxes: dict[str, dict[str, int]] = field(default_factory=dict)  # mailbox -> {outcome: copies}
    sections: list[dict] = field(default_factory=list)  # extra tables: {title, columns, rows, note?} (report_html)
    feed_configured: bool = True  # False: FEED_BASE_URL unset (webhooks/imports only), no pull runs expected
    whatsapp: dict = field(default_factory=dict)  # WhatsApp webhooks section (issue 9); empty when none came

    @property
    def invariant_holds(self) -> bool:
        return self.copies == self.imported + self.partial + self.skipped + self.failed + self.pending

    @property
    def complete(self) -> bool:
        return self.pending == 0 and self.staged == 0

    @property
    def empty(self) -> bool:
        return self.items_available == 0

    def figures(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("items_available", "copies", "imported", "partial", "skipped", "failed",
                                               "pending", "rejected", "unmapped", "converted", "staged", "attachments_corrupt",
                                               "resent_changed")}

    def to_json(self) -> dict:
        data = asdict(self)
        data["invariant"] = {
            "rule": "copies = imported + partial + skipped + failed + pending",
            "holds": self.invariant_holds,
            "complete": self.complete,
        }
        data["summary"] = summary_line(self)
        data["status"], data["status_reason"] = report_status(data)
        return data


def _mask(value: str, full: bool) -> str:
    return mask_number(value, full=full) if value else ""


def _mask_list(values: str, full: bool) -> str:
    return ", ".join(_mask(v.strip(), full) for v in values.split(",") if v.strip())


def build_report(report_date: str, rows: list[dict], runs: list[dict], *, full_numbers: bool = False,
                 now: datetime | None = None, whatsapp_gaps: list[dict] = ()) -> Report:
    report = Report(date=report_date, generated_at=(now or datetime.now(timezone.utc)).isoformat(timespec="seconds"))
    report.runs = sorted(
        ({k: r.get(k) for k in ("RowKey", "status", "started", "finished", "items", "windows", "last_window_end", "error")}
         for r in runs if r.get("report_date") == report_date),
        key=lambda r: r.get("started") or "",
    )
    for row in rows:
        rk = row["RowKey"]
        if rk.startswith("item|"):
            report.items_available += 1
            stage = row.get("stage", "pulled")
            if stage == "rejected":
                report.rejected += 1
                report.problems.append(Problem(row.get("item_id", ""), "", "", "convert", "rejected: " + row.get("reason", "")))
            elif stage == "unmapped":
                report.unmapped += 1
                report.problems.append(Problem(row.get("item_id", ""), _mask_list(row.get("participants", ""), full_numbers), "",
                                               "mapping", "unmapped: " + (row.get("reason") or "no participant maps to a mailbox")))
            elif stage == "converted":
                report.converted += 1
            elif stage == "staged":
                report.staged += 1
                report.problems.append(Problem(row.get("item_id", ""), "", "", "transcript",
                                               row.get("reason") or "waiting for its day's transcript"))
            elif stage == "failed":
                report.problems.append(Problem(row.get("item_id", ""), "", "", "convert", row.get("reason", "")))
            elif stage == "pulled":
                report.problems.append(Problem(row.get("item_id", ""), "", "", "convert", "not converted yet (queued)"))
            if row.get("corrupt_attachments"):
                n = len(row["corrupt_attachments"].split(","))
                report.attachments_corrupt += n
                why = f": {row['attachment_problems']}" if row.get("attachment_problems") else ""
                report.problems.append(Problem(row.get("item_id", ""), "", "", "pull",
                                               f"{n} attachment(s) could not be fetched intact (sha256 mismatch after "
                                               "re-fetching, or refused by the feed); the record names them as unavailable"
                                               + why))
            if row.get("unresolved"):
                report.problems.append(Problem(row.get("item_id", ""), "", "", "mapping",
                                               f"the directory refused to look up {row['unresolved']}; the participants "
                                               "naming it got no copy, the others did"))
            if row.get("resent_of"):
                report.resent_changed += 1
                report.problems.append(Problem(row.get("item_id", ""), "", "", "pull",
                                               f"the source re-sent item {row['resent_of']} with different content: archived "
                                               "as this separate record, linked to the first (X-WhatsApp-Resent-Of)"))
        elif rk.startswith("copy|"):
            report.copies += 1
            outcome = row.get("outcome", "pending")
            if outcome not in OUTCOMES:
                outcome = "pending"
            setattr(report, outcome, getattr(report, outcome) + 1)
            per_mailbox = report.mailboxes.setdefault(row.get("mailbox", ""), {})
            per_mailbox[outcome] = per_mailbox.get(outcome, 0) + 1
            if outcome in ("partial", "failed", "pending"):
                report.problems.append(Problem(row.get("item_id", ""), _mask(row.get("source", ""), full_numbers),
                                               row.get("mailbox", ""), row.get("stage", "deliver"),
                                               f"{outcome}: {row.get('reason') or ('still queued' if outcome == 'pending' else '')}"))
    report.problems.sort(key=lambda p: (p.stage, p.item_id, p.mailbox))
    report.whatsapp = whatsapp_report.build_section(rows, list(whatsapp_gaps), full_numbers=full_numbers)
    return report


def summary_line(r: Report) -> str:
    if r.empty:
        return f"{r.date}: no items were available from the capture feed for this day." + whatsapp_report.summary_suffix(r.whatsapp)
    waiting = f", {r.staged} items waiting for their day's transcript" if r.staged else ""
    state = "complete" if r.complete else f"IN PROGRESS ({r.pending} copies still queued{waiting})"
    check = "holds" if r.invariant_holds else "DOES NOT HOLD"
    return (f"{r.date}: {r.items_available} items from the feed, {r.copies} copies to import; {r.imported} imported, "
            f"{r.partial} partially imported, {r.skipped} skipped as duplicates, {r.failed} failed; {r.rejected} rejected, "
            f"{r.unmapped} unmapped; invariant {check}; {state}.") + whatsapp_report.summary_suffix(r.whatsapp)


def render_html(r: Report, history: list[dict] | None = None) -> str:
    """The page an admin reads (``report_html``); ``history``: earlier days' report JSON, for the trend."""
    return render_report_html(r.to_json(), history)


def read_history(blobs, report_date: str, days: int = TREND_DAYS - 1) -> list[dict]:
    """The previous days' ``reports/{date}.json`` (those that exist and parse), oldest first."""
    out = []
    end = date.fromisoformat(report_date)
    for offset in range(days, 0, -1):
        raw = blobs.get_if_exists(names.REPORTS, f"{(end - timedelta(days=offset)).isoformat()}.json")
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            out.append(data)
    return out


def write_report(report: Report, *, blobs, retention_days: int, today: date | None = None) -> tuple[str, str]:
    json_name, html_name = f"{report.date}.json", f"{report.date}.html"
    data = report.to_json()  # once: the page is rendered from the very JSON written
    blobs.put(names.REPORTS, json_name, json.dumps(data, indent=2, ensure_ascii=False).encode(),
              content_type="application/json")
    blobs.put(names.REPORTS, html_name, render_report_html(data, read_history(blobs, report.date)).encode(),
              content_type="text/html; charset=utf-8")
    prune_reports(blobs, retention_days=retention_days, today=today or datetime.now(timezone.utc).date())
    return json_name, html_name


def prune_reports(blobs, *, retention_days: int, today: date) -> list[str]:
    """Delete reports whose day is older than the retention period."""
    cutoff = today - timedelta(days=retention_days)
    removed = []
    for name in list(blobs.list(names.REPORTS)):
        try:
            day = date.fromisoformat(name.split(".", 1)[0])
        except ValueError:
            continue
        if day < cutoff:
            blobs.delete(names.REPORTS, name)
            removed.append(name)
    return removed
