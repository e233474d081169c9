"""The ``webhooks`` container: Meta's signed POST bodies exactly as received, and their state.

``webhooks/{received day}/{sha256 of the body}.json``: an identical body replayed the same day is
stored once. Blob metadata carries ``received_at`` and, once the normaliser is done with it,
``state`` = ``normalised`` (or ``failed`` after the last attempt: it sits in the poison queue and
``redrive`` brings it back). A body with no state is either queued or was never queued (a crash or
a queue outage between storing and queueing): ``unfinished()`` finds those for the sweep.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContentSettings

from shared import names


@dataclass(frozen=True)
class StoredBody:
    name: str  # path inside the webhooks container
    received_at: datetime
    created: bool  # False: the very same body was already stored (a replay)


class WebhookBodies:
    def __init__(self, service: BlobServiceClient):
        self.container = service.get_container_client(names.WEBHOOKS)

    @staticmethod
    def name_for(body: bytes, received_at: datetime) -> str:
        return f"{received_at.astimezone(timezone.utc):%Y-%m-%d}/{hashlib.sha256(body).hexdigest()}.json"

    def store(self, body: bytes, received_at: datetime) -> StoredBody:
        name = self.name_for(body, received_at)
        try:
            self.container.upload_blob(name, body, overwrite=False, metadata={"received_at": received_at.isoformat()},
                                       content_settings=ContentSettings(content_type="application/json"))
            return StoredBody(name, received_at, True)
        except ResourceExistsError:
            return StoredBody(name, received_at, False)

    def get(self, name: str) -> tuple[bytes, dict[str, str]]:
        """The body and its metadata (received_at, state), in one request."""
        downloader = self.container.download_blob(name)
        return downloader.readall(), dict(downloader.properties.metadata or {})

    def mark(self, name: str, state: str, received_at: datetime) -> None:
        """Record the normaliser's verdict (``normalised`` or ``failed``) on the stored body."""
        self.container.get_blob_client(name).set_blob_metadata(
            {"received_at": received_at.isoformat(), "state": state,
             "state_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    def unfinished(self, *, now: datetime, days: int, min_age_seconds: float) -> Iterator[StoredBody]:
        """Bodies of the last ``days`` days with no state, stored at least ``min_age_seconds`` ago."""
        for back in range(days, -1, -1):
            prefix = f"{(now - timedelta(days=back)).astimezone(timezone.utc):%Y-%m-%d}/"
            for blob in self.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
                meta = blob.metadata or {}
                if meta.get("state"):
                    continue
                received = datetime.fromisoformat(meta["received_at"]) if meta.get("received_at") else blob.last_modified
                if (now - received).total_seconds() >= min_age_seconds:
                    yield StoredBody(blob.name, received, False)
