"""Per-mailbox concurrency slots shared by every worker instance, built on blob leases.

Exchange allows an app 4 concurrent requests per mailbox. Each mailbox has N lease blobs
(``locks/mailbox/{hash}/slot-{i}``); a delivery holds one lease while it talks to Graph, and a
background timer renews it, so a crashed worker frees its slot within the lease period.
"""

from __future__ import annotations

import hashlib
import random
import threading
from contextlib import contextmanager
from typing import Iterator

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from shared import names

LEASE_SECONDS = 15  # the shortest lease Azure allows: a crashed worker frees its slot soonest


class MailboxSlots:
    def __init__(self, service: BlobServiceClient, slots: int):
        self.container = service.get_container_client(names.LOCKS)
        self.slots = slots

    def _blob(self, mailbox: str, index: int):
        digest = hashlib.sha256(mailbox.lower().encode()).hexdigest()[:32]
        return self.container.get_blob_client(f"mailbox/{digest}/slot-{index}")

    def _try_lease(self, mailbox: str, index: int) -> BlobLeaseClient | None:
        blob = self._blob(mailbox, index)
        for _ in range(2):
            try:
                return blob.acquire_lease(lease_duration=LEASE_SECONDS)
            except ResourceNotFoundError:
                try:
                    blob.upload_blob(b"", overwrite=False)
                except (ResourceExistsError, HttpResponseError):
                    pass  # created by another worker, or leased already
            except HttpResponseError as exc:
                if exc.status_code == 409:  # LeaseAlreadyPresent
                    return None
                raise
        return None

    @contextmanager
    def hold(self, mailbox: str) -> Iterator[bool]:
        """Yield True holding one of the mailbox's slots, or False when all are busy."""
        order = list(range(self.slots))
        random.shuffle(order)
        lease = None
        for index in order:
            lease = self._try_lease(mailbox, index)
            if lease:
                break
        if lease is None:
            yield False
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 3):
                try:
                    lease.renew()
                except Exception:  # noqa: BLE001 - the lease expires on its own; nothing else to do
                    return

        renewer = threading.Thread(target=renew, daemon=True, name="mailbox-slot-renew")
        renewer.start()
        try:
            yield True
        finally:
            stop.set()
            try:
                lease.release()
            except Exception:  # noqa: BLE001 - an unreleased lease expires after LEASE_SECONDS
                pass
