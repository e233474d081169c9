"""Command line: the same use cases as the Functions, in-process.

    python -m shared run                     one complete cycle: pull, convert, deliver, report
    python -m shared convert ITEM.json       print the .eml of one item (no storage, no network)
    python -m shared mapping check FILE.csv  validate a user-mapping file
    python -m shared mapping upload FILE.csv validate, then upload it to MAPPING_BLOB
    python -m shared report --date D         write (again) the admin report of day D
    python -m shared redrive                 move poison messages back to their queues
    python -m shared reprocess-unmapped      re-drive unmapped items after a mapping change
    python -m shared init-storage            create the containers, queues and tables
    python -m shared verify [--date D | --from A --to B] [--graph]
                                             check the evidence manifests, storage and (--graph) the mailboxes
    python -m shared import-export PATH --owner MAILBOX   archive a WhatsApp "Export chat" zip/.txt
    python -m shared webhook serve           serve Meta's webhook (GET/POST /api/whatsapp/webhook) without the host

Settings come from the environment (see local.settings.example.json).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime, timezone


def _archiver():
    from shared.bootstrap import Archiver
    from shared.settings import SettingsError, load_settings

    try:
        return Archiver(load_settings())
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args) -> int:
    from shared.cli.run import run_cycle
    from shared.pipeline.ports import FeedAuthError

    app = _archiver()
    try:
        from shared.bootstrap import host_queue_concurrency

        summary = run_cycle(app, workers=args.workers or host_queue_concurrency(), retry_delay_seconds=args.retry_delay,
                            visibility_timeout=args.visibility_timeout)
    except FeedAuthError as exc:
        print(f"run failed: the capture feed refused our token ({exc}). The checkpoint did not move; "
              "fix FEED_TOKEN and run again.", file=sys.stderr)
        return 3
    finally:
        app.close()
    print("\n".join(["", f"Summary for report day {summary.report_date}:", *summary.lines()]))
    return 1 if summary.failed else 0


def cmd_convert(args) -> int:
    from shared.cli.convert import main

    return main(args.rest)


def cmd_mapping(args) -> int:
    from shared.cli import mapping

    if args.action == "check":
        region = args.region or os.environ.get("DEFAULT_PHONE_REGION", "US")
        return mapping.check_main(args.file, region.upper())
    from shared.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return mapping.upload_main(args.file, settings, force=args.force)


def cmd_report(args) -> int:
    app = _archiver()
    day = args.date or datetime.now(timezone.utc).date().isoformat()
    date.fromisoformat(day)
    report = app.report(day, full_numbers=args.full_numbers or None)
    print(report.to_json()["summary"])
    print(f"written to reports/{day}.json and reports/{day}.html")
    return 0 if report.invariant_holds else 1


def cmd_redrive(args) -> int:
    from shared import names
    from shared.pipeline.runner import move_queue

    app = _archiver()
    queues = names.WORK_QUEUES if args.queue == "all" else (args.queue,)
    for queue in queues:
        moved = move_queue(app.queues, queue + names.POISON_SUFFIX, queue)
        print(f"{queue}{names.POISON_SUFFIX} -> {queue}: {moved} message(s) moved back")
    print("They are processed by the running Functions, or by `python -m shared run`.")
    return 0


def cmd_reprocess(args) -> int:
    from shared import telemetry
    from shared.cli.run import drain_all
    from shared.pipeline.reprocess import reprocess_unmapped

    app = _archiver()
    app.ensure_storage()
    result = reprocess_unmapped(blobs=app.blobs, queues=app.queues, tracking=app.tracking, mapping=app.mapping,
                                directory=app.directory, region=app.settings.default_phone_region,
                                options=app.render_options, traceparent=telemetry.current_traceparent,
                                stage=app.stage)
    print(f"examined {result.examined} unmapped item(s): {result.now_mapped} now map ({result.copies_queued} copies queued), "
          f"{result.still_unmapped} still unmapped")
    for line in result.missing:  # raw item gone or entry unreadable: left in place, the rest went on
        print(f"  could not reprocess {line}")
    if args.deliver and result.copies_queued:
        summary = drain_all(app)
        print(f"delivered {summary.delivered}, skipped {summary.skipped}, failed {summary.failed}")
    app.close()
    return 0


def cmd_init_storage(args) -> int:
    app = _archiver()
    app.ensure_storage()
    print("containers, queues and tables are in place")
    return 0


def cmd_verify(args) -> int:
    from shared.cli.verify import main as verify_main

    app = _archiver()
    try:
        return verify_main(app, day=args.date, first=args.date_from, last=args.date_to, graph=args.graph)
    finally:
        app.close()


def cmd_import_export(args) -> int:
    from shared.cli.import_export import main

    app = _archiver()
    try:
        return main(app, args)
    finally:
        app.close()


def cmd_webhook(args) -> int:
    from shared.cli.webhook import serve

    app = _archiver()
    try:
        return serve(app, args.host, args.port)
    finally:
        app.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared", description="WhatsApp archiver for Microsoft 365")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level (never message content)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="one complete cycle: pull, convert, deliver, report")
    p.add_argument("--workers", type=int, default=None,
                   help="messages handled in parallel per queue (default: as the Functions host does on one instance, "
                        "host.json's batchSize + newBatchThreshold; Graph requests in flight stay DELIVERY_WORKERS)")
    p.add_argument("--retry-delay", type=float, default=None,
                   help="seconds before a failed message is retried (default: host.json visibilityTimeout)")
    p.add_argument("--visibility-timeout", type=int, default=300,
                   help="seconds a message being handled stays hidden; a crashed run's messages reappear after it (default 300)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("convert", help="print the .eml of one item JSON file", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("mapping", help="check or upload the user-mapping CSV")
    p.add_argument("action", choices=["check", "upload"])
    p.add_argument("file")
    p.add_argument("--region", help="default phone region for national numbers (default DEFAULT_PHONE_REGION or US)")
    p.add_argument("--force", action="store_true", help="upload even when rows have errors (the valid rows apply)")
    p.set_defaults(func=cmd_mapping)

    p = sub.add_parser("report", help="write the admin report of one day")
    p.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--full-numbers", action="store_true", help="show phone numbers in full instead of masked")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("redrive", help="move poison messages back to their queue once the cause is fixed")
    p.add_argument("--queue", choices=["items", "deliveries", "webhooks", "all"], default="all")
    p.set_defaults(func=cmd_redrive)

    p = sub.add_parser("reprocess-unmapped", help="re-drive unmapped items that now map")
    p.add_argument("--no-deliver", dest="deliver", action="store_false", help="only queue the copies")
    p.set_defaults(func=cmd_reprocess)

    p = sub.add_parser("init-storage", help="create the containers, queues and tables")
    p.set_defaults(func=cmd_init_storage)

    p = sub.add_parser("verify", help="recompute the evidence hashes and the chain; exit 1 on any mismatch")
    p.add_argument("--date", help="one report day, YYYY-MM-DD (default: every manifest, up to yesterday)")
    p.add_argument("--from", dest="date_from", help="first report day of a range")
    p.add_argument("--to", dest="date_to", help="last report day of a range")
    p.add_argument("--graph", action="store_true",
                   help="also ask Graph that every copy is in its mailbox's archive folder with its archive id and sent time")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("import-export", help="archive a WhatsApp 'Export chat' zip or .txt (then `run` delivers it)")
    p.add_argument("path", help="the export: 'WhatsApp Chat - X.zip', 'WhatsApp Chat with X.txt', ...")
    p.add_argument("--owner", required=True, help="mailbox of the employee who exported the chat (gets every record)")
    p.add_argument("--owner-name", help="the owner's display name in the file (default: detected from 'You deleted ...')")
    p.add_argument("--timezone", help="IANA zone of the phone's clock (default EXPORT_TIMEZONE)")
    p.add_argument("--date-order", choices=["auto", "dmy", "mdy", "ymd"], default="auto")
    p.add_argument("--chat", help="the chat's name (default: from the file name)")
    p.add_argument("--json", action="store_true", help="print the import report as one JSON object")
    p.set_defaults(func=cmd_import_export)

    p = sub.add_parser("webhook", help="serve the WhatsApp Cloud API webhook without the Functions host")
    p.add_argument("action", choices=["serve"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7071)
    p.set_defaults(func=cmd_webhook)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
