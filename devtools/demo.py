"""The local demo behind `scripts/demo`: one full cycle against local stand-ins, then what landed where.

Starts Azurite (in memory), a capture feed serving a generated day, and a Graph-compatible
mailbox server; uploads the day's mapping file; runs pull -> convert -> deliver -> report with
the same code as the Functions; prints each mailbox's archive folder; copies the rendered .eml
records and the report to ./out/demo for a person to open; stops everything it started.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from devtools.local_world import start_world
from devtools.whatsapp_world import demo_section
from shared import names
from shared.cli.run import run_cycle
from shared.pipeline.evidence import verdict_lines

REPO = Path(__file__).resolve().parent.parent


def _say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--out", default=str(REPO / "out" / "demo"), help="where to put the .eml copies and the report")
    parser.add_argument("--scale", type=int, default=1, help="multiply the generated day's volume")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=["json", "import_mime"], default="json", help="GRAPH_CREATE_MODE")
    args = parser.parse_args(argv)

    out = Path(args.out)
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    _say("Starting Azurite, the local capture feed and the local Graph mailbox server ...")
    with start_world(day=yesterday, seed=args.seed, scale=args.scale,
                     overrides={"FIRST_RUN_LOOKBACK_HOURS": "48", "GRAPH_CREATE_MODE": args.mode}) as world:
        _say(f"  feed   {world.feed.base_url}  ({len(world.day.items)} items captured on {yesterday})")
        _say(f"  graph  {world.graph.base_url}  ({len(world.day.users)} Microsoft 365 users)")
        _say(f"  mapping file uploaded to {world.settings().mapping_blob}")
        app = world.archiver()
        summary = run_cycle(app, workers=4, retry_delay_seconds=1, progress=lambda m: _say("  " + m))
        app.close()

        _say("\nSummary:")
        for line in summary.lines():
            _say("  " + line)

        _say("\nWhat landed, mailbox by mailbox:")
        for user in world.day.users:
            address = user["address"]
            folders = world.graph.mailbox(address)
            if not folders:
                why = "" if user.get("enabled", True) and user.get("has_mailbox", True) else "  (disabled or no mailbox: nothing can land)"
                _say(f"  {address}: nothing{why}")
                continue
            for folder, messages in folders.items():
                kinds = Counter(m.get("messageClass") or m.get("message_class") or "?" for m in messages)
                drafts = sum(1 for m in messages if m.get("isDraft"))
                _say(f"  {address} / {folder}: {len(messages)} records, {drafts} drafts; "
                     + ", ".join(f"{k.rsplit('.', 1)[-1]} {v}" for k, v in sorted(kinds.items())))

        if out.exists():
            shutil.rmtree(out)
        (out / "eml").mkdir(parents=True)
        for name in app.blobs.list(names.MIME):
            target = out / "eml" / name.replace("/", "_")
            target.write_bytes(app.blobs.get(names.MIME, name))
        (out / "report").mkdir()
        for name in app.blobs.list(names.REPORTS):
            (out / "report" / name).write_bytes(app.blobs.get(names.REPORTS, name))
        for container in (names.UNMAPPED, names.REJECTED):
            for name in app.blobs.list(container):
                target = out / container / name.replace("/", "_")
                target.parent.mkdir(exist_ok=True)
                target.write_bytes(app.blobs.get(container, name))
        _say(f"\nThe rendered records (.eml, open them in any mail client): {out / 'eml'}")
        _say(f"The admin report (HTML and JSON): {out / 'report'}")
        wa_failed = demo_section(world, out, yesterday, _say)
        checker = world.archiver()  # the day's evidence manifest, checked against storage and Graph
        _say("\nEvidence (python -m shared verify --graph):")
        for line in verdict_lines(checker.verify_evidence(graph=True)):
            _say("  " + line)
        checker.close()
        _say("Stopping the local servers and Azurite.")
    return 0 if summary.failed == 0 and wa_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
