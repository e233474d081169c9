"""The daily report's WhatsApp section (issue 9): items that came by webhook, delivery statuses, capture gaps
and changes nobody understood. Built from the day's ``wa|...`` tracking rows and the open gaps kept in
``whatsappstate``; numbers masked under the report's rule."""

from __future__ import annotations

import html
from collections import Counter

from shared.domain.masking import mask_number

SOURCE = "whatsapp_cloud_api"


def build_section(rows: list[dict], gaps: list[dict], *, full_numbers: bool) -> dict:
    statuses: Counter = Counter()
    failed, unknown, seen_gaps = [], [], {}
    items = 0
    for row in rows:
        rk = row.get("RowKey", "")
        if rk.startswith("item|") and row.get("source") == SOURCE:
            items += 1
        elif rk.startswith("wa|status|"):
            statuses[row.get("status") or "unknown"] += 1
            if row.get("status") == "failed":
                failed.append({"message_id": row.get("message_id", ""), "error_codes": row.get("error_codes", "")})
        elif rk.startswith("wa|unknown|"):
            unknown.append({"what": row.get("what", ""), "body": row.get("body", "")})
        elif rk.startswith("wa|gap|"):
            seen_gaps[(row.get("number", ""), row.get("since", ""))] = row
    for gap in gaps:  # still stopped, whenever it started: named every day until the number is reconnected
        if gap.get("stopped"):
            seen_gaps.setdefault((gap.get("RowKey", ""), gap.get("since", "")), {**gap, "number": gap.get("RowKey", "")})
    capture_gaps = [{"number": mask_number(g.get("number") or "", full=full_numbers) if g.get("number") else "(unknown)",
                     "event": g.get("event", ""), "reason": g.get("reason", ""), "since": g.get("since", ""),
                     "stopped": bool(g.get("stopped"))} for g in seen_gaps.values()]
    capture_gaps.sort(key=lambda g: (g["since"], g["number"]))
    if not (items or statuses or unknown or capture_gaps):
        return {}
    return {"items": items, "statuses": dict(sorted(statuses.items())), "failed_statuses": failed[:200],
            "unknown_changes": len(unknown), "unknown": unknown[:200], "capture_gaps": capture_gaps,
            "capture_stopped": sorted({g["number"] for g in capture_gaps if g["stopped"]})}


def summary_suffix(section: dict) -> str:
    if not section:
        return ""
    stopped = section.get("capture_stopped") or []
    out = f" WhatsApp webhooks: {section['items']} items, {section['statuses'].get('failed', 0)} failed statuses, " \
          f"{section['unknown_changes']} unknown changes."
    if stopped:
        out += f" WhatsApp CAPTURE STOPPED for {', '.join(stopped)}."
    return out


def render_section(section: dict) -> str:
    if not section:
        return ""
    e = html.escape
    gaps = "".join(f"<tr class='{'bad' if g['stopped'] else 'ok'}'><td>{e(g['number'])}</td><td>{e(g['event'])}</td>"
                   f"<td>{e(g['reason'])}</td><td>{e(g['since'])}</td><td>{'STOPPED' if g['stopped'] else 'resumed'}</td></tr>"
                   for g in section["capture_gaps"])
    statuses = ", ".join(f"{e(k)} {v}" for k, v in section["statuses"].items()) or "none"
    failed = "".join(f"<tr><td>{e(f['message_id'])}</td><td>{e(f['error_codes'])}</td></tr>" for f in section["failed_statuses"])
    unknown = "".join(f"<tr><td>{e(u['what'])}</td><td>{e(u['body'])}</td></tr>" for u in section["unknown"])
    return (f"<h2>WhatsApp Business numbers (webhooks)</h2><p>{section['items']} items arrived by webhook. "
            f"Delivery statuses: {statuses}.</p>"
            + (f"<h3 class='bad'>Capture gaps</h3><table><tr><th>business number</th><th>event</th><th>reason</th>"
               f"<th>since</th><th>state</th></tr>{gaps}</table>" if gaps else "")
            + (f"<h3>Failed deliveries on WhatsApp</h3><table><tr><th>message id</th><th>error codes</th></tr>{failed}</table>"
               if failed else "")
            + (f"<h3>Changes not understood ({section['unknown_changes']}; kept as received)</h3>"
               f"<table><tr><th>what</th><th>stored body</th></tr>{unknown}</table>" if unknown else ""))
