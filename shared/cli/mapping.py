"""`python -m shared mapping check|upload FILE.csv`: validate the user-mapping file, then publish it.

The admin runs ``check`` before ``upload``, and ``upload`` checks again: a file with errors is
refused unless ``--force`` (its valid rows then apply and the bad rows are ignored, as the
pipeline would). Phone numbers are printed masked; line numbers and the reasons say what to fix.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.domain.mapping_file import MappingFile, parse_mapping_csv

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return None


def report_lines(path: str, mapping: MappingFile, region: str) -> list[str]:
    """The check's report: figures first, then each problem with its line number."""
    errors, warnings = len(mapping.errors), len(mapping.warnings)
    header = f"header on line {mapping.header_line}" if mapping.header_line else "no header"
    lines = [
        f"{path}: {mapping.encoding}, {_DELIMITER_NAMES.get(mapping.delimiter, repr(mapping.delimiter))}-separated, "
        f"{header}, national numbers read in region {region}",
        f"  rows read:   {mapping.rows_read}",
        f"  keys usable: {len(mapping.entries)} (numbers and user ids mapped to "
        f"{len(set(mapping.entries.values()))} mailbox(es))",
        f"  errors:      {errors}",
        f"  warnings:    {warnings}",
    ]
    if not mapping.rows_read and not errors:
        lines.append("  the file has no mapping rows: only the items' email property will map participants")
    for problem in mapping.problems:
        where = f"line {problem.line}" if problem.line else "file"
        lines.append(f"{where}: {problem.severity}: {problem.reason}")
    if errors:
        lines.append(f"{errors} error(s): the rows named above are ignored; fix them and check again.")
    else:
        lines.append("OK: no errors.")
    return lines


def check_main(path: str, region: str) -> int:
    """Print the check report; 1 when the file has errors (or cannot be read: 2), else 0."""
    data = _read(path)
    if data is None:
        return 2
    mapping = parse_mapping_csv(data, region)
    print("\n".join(report_lines(path, mapping, region)))
    return 1 if mapping.has_errors else 0


def upload_main(path: str, settings, force: bool) -> int:
    """Check, then upload the file as written to MAPPING_BLOB. Errors stop the upload unless ``force``."""
    data = _read(path)
    if data is None:
        return 2
    region = settings.default_phone_region
    mapping = parse_mapping_csv(data, region)
    print("\n".join(report_lines(path, mapping, region)))
    if mapping.has_errors and not force:
        print("not uploaded: fix the errors above, or pass --force to upload anyway (only the valid rows apply)",
              file=sys.stderr)
        return 1

    from azure.core.exceptions import AzureError, ResourceExistsError

    from shared.adapters.storage.blobs import BlobStore
    from shared.adapters.storage.clients import build_storage_clients

    container, blob = settings.mapping_container, settings.mapping_path
    try:
        clients = build_storage_clients(settings)
        try:
            clients.blobs.create_container(container)
        except ResourceExistsError:
            pass
        store = BlobStore(clients.blobs)
        store.put(container, blob, data, content_type="text/csv")
        url = store.url(container, blob)
    except AzureError as exc:
        print(f"upload to {container}/{blob} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 3
    forced = " (forced: rows with errors are ignored)" if mapping.has_errors else ""
    print(f"uploaded to {container}/{blob} ({url}): {len(mapping.entries)} key(s) apply{forced}. "
          "The converter picks the new file up within a minute; run `python -m shared reprocess-unmapped` "
          "to give unmapped items another go.")
    return 0


__all__ = ["check_main", "upload_main", "report_lines"]
