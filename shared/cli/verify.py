"""`python -m shared verify`: recompute every evidence hash from storage, check the chain, and
(``--graph``) that every copy is still in its mailbox's archive folder. Exit 1 on any mismatch, and
when there is no manifest to verify."""

from __future__ import annotations

from datetime import date


def _day(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise SystemExit(f"verify: {flag} {value!r} is not a date; expected YYYY-MM-DD") from None


def main(app, *, day: str | None, first: str | None, last: str | None, graph: bool, out=print) -> int:
    from shared.pipeline.evidence import verdict_lines

    if day and (first or last):
        raise SystemExit("verify: give either --date or --from/--to, not both")
    first, last = (_day(day, "--date"),) * 2 if day else (_day(first, "--from"), _day(last, "--to"))
    if first and last and first > last:
        raise SystemExit(f"verify: --from {first} is after --to {last}")
    result = app.verify_evidence(first=first, last=last, graph=graph)
    for line in verdict_lines(result):
        out(line)
    return 0 if result.ok and result.days else 1  # nothing to verify is not a clean verdict
