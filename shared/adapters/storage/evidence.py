"""Evidence storage: the manifests in ``evidence/``, streaming hashes of stored blobs, and the one
function that reads a report day's items and copies from the tracking and ledger tables.

In Azure the evidence containers carry a version-level immutability policy (infra/modules/storage.bicep):
a manifest, once written, cannot be overwritten or deleted until its retention ends. The code
writes every manifest with If-None-Match: * all the same, so a rebuild never replaces one even
where no policy applies (Azurite, a test account).
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from typing import Iterator

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContentSettings

from shared import names
from shared.adapters.storage.tables import Ledger, Tracking
from shared.domain.evidence import parse_manifest_name
from shared.pipeline.evidence import CopyFact, DayFacts, ItemFact

CHUNK = 4 * 1024 * 1024
CHAIN_LOCK = "evidence/chain"  # in the locks container: one manifest writer at a time keeps the chain linear
LOCK_SECONDS = 60


class EvidenceStorage:
    """ports ManifestStore + BlobHasher over Blob Storage."""

    def __init__(self, service: BlobServiceClient):
        self.service = service

    def _blob(self, container: str, name: str):
        return self.service.get_blob_client(container, name)

    # ------------------------------------------------------------------ manifests
    def manifests(self) -> dict[str, int | None]:
        """Every manifest in the evidence container: name -> chain position (blob metadata ``seq``; None if absent)."""
        out: dict[str, int | None] = {}
        container = self.service.get_container_client(names.EVIDENCE)
        try:
            for blob in container.list_blobs(include=["metadata"]):
                if parse_manifest_name(blob.name) is None:
                    continue
                seq = (blob.metadata or {}).get("seq")
                out[blob.name] = int(seq) if seq and seq.isdigit() else None
        except ResourceNotFoundError:
            return {}
        return out

    def read(self, name: str) -> bytes | None:
        try:
            return self._blob(names.EVIDENCE, name).download_blob().readall()
        except ResourceNotFoundError:
            return None

    def create(self, name: str, data: bytes, *, seq: int) -> bool:
        """Write a new manifest with If-None-Match: *; False when the name is taken (never overwritten)."""
        try:
            self._blob(names.EVIDENCE, name).upload_blob(
                data, overwrite=False, metadata={"seq": str(seq)},
                content_settings=ContentSettings(content_type="application/x-ndjson; charset=utf-8"))
            return True
        except ResourceExistsError:
            return False

    @contextmanager
    def writing(self, wait_seconds: float = 120.0) -> Iterator[None]:
        """Hold the chain lock (a blob lease) while the head is read and the next manifest written."""
        blob = self._blob(names.LOCKS, CHAIN_LOCK)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                lease = blob.acquire_lease(lease_duration=LOCK_SECONDS)
                break
            except ResourceNotFoundError:
                try:
                    blob.upload_blob(b"", overwrite=False)
                except (ResourceExistsError, HttpResponseError):
                    pass
            except HttpResponseError as exc:
                if exc.status_code != 409 or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)  # another manifest is being written (LeaseAlreadyPresent)
        try:
            yield
        finally:
            try:
                lease.release()
            except HttpResponseError:
                pass  # expires by itself

    # ------------------------------------------------------------------ hashing
    def sha256(self, container: str, name: str) -> str | None:
        """sha256 of a stored blob, streamed (attachments reach 150 MB); None when there is no such blob."""
        try:
            downloader = self._blob(container, name).download_blob(max_concurrency=1)
        except ResourceNotFoundError:
            return None
        digest = hashlib.sha256()
        for chunk in downloader.chunks():
            digest.update(chunk)
        return digest.hexdigest()


def read_day(tracking: Tracking, ledger: Ledger, day: str) -> DayFacts:
    """A report day's items (tracking) and mailbox copies (tracking + the ledger's message id).

    The only place the evidence use cases read the tables: adapt it here if the rows change shape.
    """
    items, copies = [], []
    for row in tracking.rows(day):
        rk = row["RowKey"]
        if rk.startswith("item|"):
            corrupt = tuple(a for a in (row.get("corrupt_attachments") or "").split(",") if a)
            items.append(ItemFact(item_key=rk[len("item|"):], item_id=row.get("item_id", ""), stage=row.get("stage", "pulled"),
                                  raw_blob=row.get("raw_blob") or None, corrupt_attachments=corrupt,
                                  source=row.get("source") or None))
        elif rk.startswith("copy|"):
            key = rk.split("|")[1]
            mailbox = row.get("mailbox", "")
            outcome = row.get("outcome", "pending")
            landed = ledger.get(mailbox, key) or {}
            delivered = landed.get("status") == "delivered"
            copies.append(CopyFact(item_key=key, item_id=row.get("item_id", ""), mailbox=mailbox, outcome=outcome,
                                   message_id=landed.get("message_id") if delivered else None,
                                   archived_on=landed.get("report_date") if delivered else None))
    return DayFacts(items=items, copies=copies)
