"""The import as the CLI and the Function run it: keep the upload, import it, write the report beside it.

Uploads live in the ``imports`` container under ``{owner mailbox}/{file name}``; the report is
``{that name}.report.json``. A rejected upload (hostile zip, not an export) gets a report that
says why, and nothing is imported. The Function skips reports, names without an owner folder,
and uploads that already have a report (Event Grid may deliver an event twice). A folder between
the owner and the file (``{owner}/{chat name}/{file}``) names the chat, as ``--chat`` does: the
chat's name is part of every message id, so a renamed upload must not change it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared import names
from shared.domain.mapping_file import normalise_address
from shared.pipeline.chat_import import ImportReport, NotAnExport, import_export

log = logging.getLogger(__name__)
REPORT_SUFFIX = ".report.json"


class ImportRefused(ValueError):
    """The upload was refused; ``report`` (a dict) says why."""

    def __init__(self, reason: str, report: dict):
        self.reason, self.report = reason, report
        super().__init__(reason)


@dataclass(frozen=True)
class ImportDeps:
    blobs: object
    queues: object
    tracking: object
    open_export: Callable
    region: str
    zone: str
    traceparent: Callable[[], str | None] = lambda: None


def _safe_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[\x00-\x1f]", "_", base)[:200] or "export"


def _owner(owner: str) -> str:
    address = normalise_address(owner or "")
    if address is None:
        raise ValueError(f"--owner {owner!r} is not a mailbox address (expected e.g. alice@contoso.com)")
    return address


def _write_report(deps: ImportDeps, blob_name: str, report: dict) -> None:
    deps.blobs.put(names.IMPORTS, blob_name + REPORT_SUFFIX,
                   json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"), content_type="application/json")


def _import_file(deps: ImportDeps, path, *, owner: str, blob_name: str, upload_name: str, zone: str | None = None,
                 owner_name: str | None = None, date_order=None, chat: str | None = None) -> ImportReport:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone or deps.zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--timezone {zone!r} is not an IANA time zone (e.g. 'Europe/Berlin')") from None
    from_adapter = None
    try:
        with deps.open_export(path, upload_name=upload_name) as archive:
            report = import_export(archive, owner=owner, blobs=deps.blobs, queues=deps.queues, tracking=deps.tracking,
                                   region=deps.region, zone=zone or deps.zone, owner_name=owner_name, chat=chat,
                                   date_order=date_order, traceparent=deps.traceparent)
    except NotAnExport as exc:
        from_adapter = exc.reason
    except ValueError as exc:  # ExportRejected (hostile or unreadable zip) is a ValueError with .reason
        if not hasattr(exc, "reason"):
            raise
        from_adapter = exc.reason
    if from_adapter is not None:
        refused = {"upload": upload_name, "owner": owner, "status": "rejected", "reason": from_adapter,
                   "records": 0, "what to do": "check that this is an unmodified WhatsApp 'Export chat' zip or .txt"}
        _write_report(deps, blob_name, refused)
        raise ImportRefused(from_adapter, refused)
    data = {"status": "imported", **report.to_json()}
    _write_report(deps, blob_name, data)
    return report


def run_import(deps: ImportDeps, path, *, owner: str, upload_name: str | None = None, store_upload: bool = True,
               **options) -> ImportReport:
    owner = _owner(owner)
    upload_name = _safe_name(upload_name or Path(path).name)
    blob_name = f"{owner}/{upload_name}"
    if store_upload:
        with open(path, "rb") as f:
            deps.blobs.put(names.IMPORTS, blob_name, f, metadata={"uploaded_by": "cli"})
    return _import_file(deps, path, owner=owner, blob_name=blob_name, upload_name=upload_name, **options)


def run_uploaded(deps: ImportDeps, blob_name: str) -> ImportReport | None:
    """The blob-triggered import; ``blob_name`` is inside the imports container (a leading 'imports/' is dropped)."""
    if blob_name.startswith(names.IMPORTS + "/"):
        blob_name = blob_name[len(names.IMPORTS) + 1:]
    if blob_name.endswith(REPORT_SUFFIX):
        return None
    folder, _, rest = blob_name.partition("/")
    if not rest or normalise_address(folder) is None:
        log.warning("imports/%s ignored: exports go under imports/{owner mailbox}/", blob_name[:200])
        return None
    if deps.blobs.exists(names.IMPORTS, blob_name + REPORT_SUFFIX):
        return None  # already imported (the CLI stores then imports; Event Grid may re-deliver)
    fd, tmp = tempfile.mkstemp(suffix=".export")
    try:
        with os.fdopen(fd, "wb") as sink:
            deps.blobs.download_to(names.IMPORTS, blob_name, sink)
        # imports/{owner}/{chat name}/{file}: the folder names the chat (ids stay stable whatever the file is called)
        chat = rest.rsplit("/", 1)[0].strip() if "/" in rest else None
        return _import_file(deps, tmp, owner=_owner(folder), blob_name=blob_name, upload_name=_safe_name(rest),
                            chat=chat or None)
    except ImportRefused as exc:
        log.warning("imports/%s refused: %s", blob_name[:200], exc.reason[:300])
        return None
    finally:
        os.unlink(tmp)
