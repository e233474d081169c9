"""Blob storage: the raw items, attachments, rendered records, reports and config."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContentSettings

from shared import names


def _total_size(content_range: str | None) -> int | None:
    """The blob's whole size from a Content-Range such as 'bytes 0-99/1234'."""
    try:
        return int((content_range or "").rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


class BlobStore:
    def __init__(self, service: BlobServiceClient):
        self.service = service

    def ensure_containers(self) -> None:
        for container in names.CONTAINERS:
            try:
                self.service.create_container(container)
            except ResourceExistsError:
                pass

    def _blob(self, container: str, name: str):
        return self.service.get_blob_client(container, name)

    def put(
        self,
        container: str,
        name: str,
        data: bytes | BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        overwrite: bool = True,
    ) -> bool:
        """Write a blob. With ``overwrite=False`` an existing blob is kept: returns False then."""
        try:
            self._blob(container, name).upload_blob(
                data,
                overwrite=overwrite,
                content_settings=ContentSettings(content_type=content_type),
                metadata=metadata,
                max_concurrency=2,
            )
            return True
        except ResourceExistsError:
            return False

    def get(self, container: str, name: str) -> bytes:
        return self._blob(container, name).download_blob().readall()

    def get_if_exists(self, container: str, name: str) -> bytes | None:
        """The blob's bytes, or None when there is no such blob (one request, not exists + get)."""
        try:
            return self.get(container, name)
        except ResourceNotFoundError:
            return None

    def get_with_etag(self, container: str, name: str) -> tuple[bytes, str]:
        downloader = self._blob(container, name).download_blob()
        return downloader.readall(), downloader.properties.etag

    def etag(self, container: str, name: str) -> str | None:
        try:
            return self._blob(container, name).get_blob_properties().etag
        except ResourceNotFoundError:
            return None

    def size(self, container: str, name: str) -> int | None:
        """The blob's size in bytes, or None when there is no such blob (one request, like ``exists``)."""
        try:
            return int(self._blob(container, name).get_blob_properties().size)
        except ResourceNotFoundError:
            return None

    def get_at_most(self, container: str, name: str, max_bytes: int) -> tuple[bytes | None, int] | None:
        """(bytes, size) of a blob no larger than ``max_bytes``; (None, size) for a larger one, of which at
        most ``max_bytes + 1`` bytes are read (one ranged GET); None when there is no such blob."""
        blob = self._blob(container, name)
        try:
            if max_bytes <= 0:
                size = blob.get_blob_properties().size
                return (b"", 0) if size == 0 else (None, size)
            downloader = blob.download_blob(offset=0, length=max_bytes + 1, max_concurrency=1)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            if exc.status_code == 416:  # an empty blob cannot be read by range
                return b"", 0
            raise
        data = downloader.readall()
        total = _total_size(downloader.properties.content_range) or len(data)
        return (data, total) if total <= max_bytes else (None, total)

    def exists(self, container: str, name: str) -> bool:
        return self._blob(container, name).exists()

    def delete(self, container: str, name: str) -> None:
        try:
            self._blob(container, name).delete_blob()
        except ResourceNotFoundError:
            pass

    def url(self, container: str, name: str) -> str:
        return self._blob(container, name).url

    def download_to(self, container: str, name: str, sink: BinaryIO) -> int:
        """Stream a blob into ``sink`` (large uploads never sit in memory); the bytes written."""
        return self._blob(container, name).download_blob(max_concurrency=2).readinto(sink)

    def list(self, container: str, prefix: str | None = None) -> Iterator[str]:
        for blob in self.service.get_container_client(container).list_blobs(name_starts_with=prefix):
            yield blob.name
