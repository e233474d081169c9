"""`python -m shared import-export PATH`: archive a WhatsApp "Export chat" zip or .txt."""

from __future__ import annotations

import json
import sys


def main(app, args) -> int:
    from shared.pipeline.chat_import_job import ImportRefused

    app.ensure_storage()
    try:
        report = app.import_export(args.path, owner=args.owner, owner_name=args.owner_name, zone=args.timezone,
                                   date_order=None if args.date_order == "auto" else args.date_order, chat=args.chat)
    except ImportRefused as exc:
        if args.json:
            print(json.dumps(exc.report, ensure_ascii=False, indent=2))
        print(f"import refused: {exc.reason}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"status": "imported", **report.to_json()}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()))
        print(f"\n{report.records} record(s) queued; run `python -m shared run` to deliver them.")
    return 0
