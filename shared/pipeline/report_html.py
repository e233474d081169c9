"""The daily report as a page an admin can scan: ``reports/{date}.html``, rendered from its JSON twin.

Top to bottom: a status line in colour *and* words (complete / incomplete / capture stopped, and
what needs a look), the day's figures, copies per mailbox, a 30-day trend (items, copies, failed,
unmapped) drawn as an inline SVG chart from the previous days' ``reports/{date}.json``, the pull
runs, then the tables of what did not land. No external resource, no script: one file that opens
anywhere. Pure: JSON in, HTML out, the same bytes for the same input.

Extra sections: any list under the JSON key ``sections`` is rendered after the built-in tables,
each entry ``{"title": str, "columns": [str, ...], "rows": [[cell, ...], ...], "note"?: str}``
(cells are shown as text). A feature that wants a table in the report appends one there
(``Report.sections``); it appears in the JSON and in the page with no change here.
"""

from __future__ import annotations

import html
from datetime import date, timedelta

from shared.pipeline import whatsapp_report

STATUS_COLOURS = {"complete": ("#0a6b0a", "#e7f6e7"), "incomplete": ("#8a5300", "#fff4d6"),
                  "capture stopped": ("#b00020", "#fdecea")}
TREND = (("items_available", "items", "#1f6fd1"), ("copies", "copies", "#0a8a5a"),
         ("failed", "failed", "#b00020"), ("unmapped", "unmapped", "#b36b00"))
TREND_DAYS = 30
_W, _H, _LEFT, _BOTTOM, _TOP, _RIGHT = 640, 220, 48, 28, 12, 12
_CELL = "border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;"
_HEAD = _CELL + "background-color:#f3f3f3;color:#222;"


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def report_status(data: dict) -> tuple[str, str]:
    """(status, why): ``capture stopped`` when no pull run succeeded for the day, or the last one failed;
    ``incomplete`` while copies are queued, items wait for their transcript, or the arithmetic does not
    close; else ``complete``."""
    stopped = (data.get("whatsapp") or {}).get("capture_stopped") or []
    if stopped:
        return "capture stopped", f"WhatsApp capture stopped for {', '.join(stopped)} (see Capture gaps)"
    runs = data.get("runs") or []
    last = runs[-1] if runs else None
    if last is None and data.get("feed_configured", True):
        return "capture stopped", "no pull run was recorded for this day"
    if last is not None and last.get("status") == "failed":
        return "capture stopped", f"the last pull run failed: {last.get('error') or 'no error recorded'}"
    invariant = data.get("invariant") or {}
    if invariant.get("holds") is False:
        return "incomplete", "the copy arithmetic does not close: investigate before relying on this day"
    waiting = []
    if data.get("pending"):
        waiting.append(f"{data['pending']} copies still queued")
    if data.get("staged"):
        waiting.append(f"{data['staged']} items waiting for their day's transcript")
    if last is not None and last.get("status") == "running":
        waiting.append("a pull run is still running")
    if waiting:
        return "incomplete", "; ".join(waiting)
    return "complete", "every item offered by the feed was processed"


def attention(data: dict) -> list[str]:
    """What needs a person, in words."""
    out = []
    for key, words in (("failed", "copies failed"), ("partial", "copies landed without some attachments"),
                       ("rejected", "items were rejected (do not meet the feed contract)"),
                       ("unmapped", "items had no participant mapped to a mailbox"),
                       ("attachments_corrupt", "attachments could not be fetched intact")):
        if data.get(key):
            out.append(f"{data[key]} {words}")
    return out


def _status_block(data: dict) -> str:
    status, why = report_status(data)
    notes = attention(data)
    # complete with something to look at: amber, not green (the words say which)
    fg, bg = STATUS_COLOURS["incomplete" if status == "complete" and notes else status]
    symbol = {"complete": "&#10004;", "incomplete": "&#9888;", "capture stopped": "&#10006;"}[status]
    more = ("<br><span style='font-weight:normal;color:#222;'>Needs a look: " + e("; ".join(notes)) + ".</span>") if notes else ""
    return (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;'
            f'margin:8px 0 16px 0;"><tr><td style="background-color:{bg};color:{fg};border-left:6px solid {fg};'
            f'padding:10px 14px;font-size:18px;font-weight:bold;">{symbol} {e(status.upper())}: {e(why)}.{more}</td></tr></table>')


def _figures(data: dict) -> str:
    tiles = [("items_available", "items from the feed"), ("copies", "copies to import"), ("imported", "imported"),
             ("partial", "partial"), ("skipped", "skipped (already there)"), ("failed", "failed"),
             ("pending", "pending"), ("rejected", "rejected"), ("unmapped", "unmapped"), ("converted", "converted"),
             ("staged", "staged (transcripts)"), ("attachments_corrupt", "corrupt attachments")]
    bad = {"failed", "rejected", "unmapped", "attachments_corrupt", "pending", "partial"}
    cells = []
    for key, label in tiles:
        value = data.get(key) or 0
        colour = "#b00020" if key in bad and value else "#222"
        cells.append(f'<td style="{_CELL}width:25%;"><div style="font-size:22px;font-weight:bold;color:{colour};">{value:,}</div>'
                     f'<div style="color:#555;font-size:12px;">{e(label)}</div></td>')
    rows = "".join("<tr>" + "".join(cells[i:i + 4]) + "</tr>" for i in range(0, len(cells), 4))
    inv = data.get("invariant") or {}
    ok = inv.get("holds", True)
    line = (f"copies ({data.get('copies', 0)}) = imported ({data.get('imported', 0)}) + partial ({data.get('partial', 0)}) "
            f"+ skipped ({data.get('skipped', 0)}) + failed ({data.get('failed', 0)}) + pending ({data.get('pending', 0)}): "
            + ("holds" if ok else "DOES NOT HOLD: investigate before relying on this day"))
    colour = "#0a6b0a" if ok else "#b00020"
    return (f'<h2>Figures</h2><table style="border-collapse:collapse;width:100%;max-width:720px;">{rows}</table>'
            f'<p style="color:{colour};{"" if ok else "font-weight:bold;"}">{e(line)}</p>')


def _table(columns: list, rows: list[list], *, empty: str = "none") -> str:
    head = "".join(f'<th style="{_HEAD}">{e(c)}</th>' for c in columns)
    if not rows:
        return f'<table style="border-collapse:collapse;"><tr>{head}</tr><tr><td colspan="{len(columns) or 1}" ' \
               f'style="{_CELL}color:#555;">{e(empty)}</td></tr></table>'
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{e(c)}</td>' for c in row) + "</tr>" for row in rows)
    return f'<table style="border-collapse:collapse;"><tr>{head}</tr>{body}</table>'


def _mailboxes(data: dict) -> str:
    boxes = data.get("mailboxes") or {}
    keys = ("imported", "partial", "skipped", "failed", "pending")
    rows = [[mailbox] + [counts.get(k, 0) for k in keys] + [sum(counts.get(k, 0) for k in keys)]
            for mailbox, counts in sorted(boxes.items())]
    return "<h2>Copies per mailbox</h2>" + _table(["mailbox", *keys, "total"], rows, empty="no copies this day")


def trend_points(history: list[dict], data: dict, days: int = TREND_DAYS) -> list[tuple[str, dict]]:
    """(day, figures) for the ``days`` days up to the report's day; a day with no report has no point."""
    by_day = {h.get("date"): h for h in history if isinstance(h, dict) and h.get("date")}
    by_day[data.get("date")] = data
    try:
        end = date.fromisoformat(str(data.get("date")))
    except ValueError:
        return [(str(data.get("date")), data)]
    out = []
    for offset in range(days - 1, -1, -1):
        day = (end - timedelta(days=offset)).isoformat()
        out.append((day, by_day.get(day)))
    return out


def trend_svg(points: list[tuple[str, dict | None]]) -> str:
    """A line chart of the last days' figures, as inline SVG (title and text for screen readers)."""
    n = max(len(points), 2)
    values = [int((fig or {}).get(key) or 0) for _d, fig in points for key, _l, _c in TREND]
    top = max(values + [1])
    scale_top = next(m * 10 ** p for p in range(0, 12) for m in (1, 2, 5) if m * 10 ** p >= top)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + plot_w * i / (n - 1)

    def y(v: int) -> float:
        return _TOP + plot_h * (1 - v / scale_top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H + 22}" viewBox="0 0 {_W} {_H + 22}" '
             f'role="img" aria-labelledby="trend-title" style="max-width:100%;height:auto;background-color:#ffffff;">',
             f'<title id="trend-title">Last {len(points)} days: items, copies, failed and unmapped per day</title>']
    for k in range(5):
        v = scale_top * k // 4
        parts.append(f'<line x1="{_LEFT}" y1="{y(v):.1f}" x2="{_W - _RIGHT}" y2="{y(v):.1f}" stroke="#e3e3e3"/>'
                     f'<text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#555">{v:,}</text>')
    for i, (day, _fig) in enumerate(points):
        if i % 7 == (len(points) - 1) % 7:
            parts.append(f'<text x="{x(i):.1f}" y="{_H - 8}" font-size="11" text-anchor="middle" fill="#555">{e(day[5:])}</text>')
    for key, _label, colour in TREND:
        run: list[str] = []
        segments = []
        for i, (_day, fig) in enumerate(points):
            if fig is None:
                if run:
                    segments.append(run)
                run = []
                continue
            run.append(f"{x(i):.1f},{y(int(fig.get(key) or 0)):.1f}")
        if run:
            segments.append(run)
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
            else:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(seg)}"/>')
    lx = _LEFT
    for _key, label, colour in TREND:
        parts.append(f'<rect x="{lx}" y="{_H + 8}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{lx + 16}" y="{_H + 14}" font-size="12" fill="#222">{e(label)}</text>')
        lx += 110
    parts.append("</svg>")
    return "".join(parts)


def _trend(history: list[dict], data: dict) -> str:
    points = trend_points(history, data)
    missing = sum(1 for _d, fig in points if fig is None)
    note = f" No report for {missing} of these days (gaps in the lines)." if missing else ""
    return (f"<h2>Last {len(points)} days</h2>{trend_svg(points)}"
            f'<p style="color:#555;font-size:12px;">From the daily reports/&lt;date&gt;.json files.{e(note)}</p>')


def _runs(data: dict) -> str:
    rows = [[r.get("RowKey"), r.get("status"), r.get("started"), r.get("finished") or "", r.get("items") or 0,
             r.get("error") or ""] for r in data.get("runs") or []]
    return "<h2>Pull runs</h2>" + _table(["run", "status", "started", "finished", "items", "error"], rows,
                                         empty="no pull run recorded for this day")


def _problems(data: dict) -> str:
    problems = data.get("problems") or []
    rows = [[p.get("item_id"), p.get("source"), p.get("mailbox"), p.get("stage"), p.get("reason")] for p in problems]
    return (f"<h2>Items that did not fully land ({len(problems)})</h2>"
            + _table(["item id", "source participant", "target mailbox", "stage", "reason"], rows,
                     empty="nothing: every copy landed"))


def _extra_sections(data: dict) -> str:
    out = []
    for section in data.get("sections") or []:
        if not isinstance(section, dict):
            continue
        columns = [str(c) for c in section.get("columns") or []]
        rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in section.get("rows") or []]
        title = str(section.get("title") or "Section")
        out.append(f"<h2>{e(title)} ({len(rows)})</h2>")
        if section.get("note"):
            out.append(f'<p style="color:#555;">{e(section["note"])}</p>')
        out.append(_table(columns, rows))
    return "".join(out)


def render_report_html(data: dict, history: list[dict] | None = None) -> str:
    """The page for one day's report JSON (``Report.to_json()``), with earlier days' JSON for the trend."""
    day = data.get("date", "")
    empty = ("<p style='font-size:1.2em;'><strong>No items were available from the capture feed for this day.</strong></p>"
             if not data.get("items_available") else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="color-scheme" content="light"><title>WhatsApp archive report {e(day)}</title></head>
<body style="font-family:Segoe UI,Arial,sans-serif;margin:16px;color:#222;background-color:#ffffff;font-size:14px;">
<h1 style="margin:0;font-size:22px;">WhatsApp archive report for {e(day)}</h1>
{_status_block(data)}
<p style="color:#555;">Generated {e(data.get("generated_at"))} (UTC). {e(data.get("summary"))}</p>{empty}
{_figures(data)}
{_mailboxes(data)}
{_trend(history or [], data)}
{whatsapp_report.render_section(data.get('whatsapp') or {})}
{_runs(data)}
{_problems(data)}
{_extra_sections(data)}
</body></html>
"""
