"""Shared fixtures: one real Azurite per test session (blob, queue, table), wiped per test."""

from __future__ import annotations

import os

import pytest

from devtools.azurite import Azurite


@pytest.fixture(scope="session")
def azurite():
    server = Azurite().start()
    yield server
    server.stop()


def wipe_storage(connection_string: str) -> None:
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in blobs.list_containers():
        blobs.delete_container(container.name)
    queues = QueueServiceClient.from_connection_string(connection_string)
    for queue in queues.list_queues():
        queues.delete_queue(queue.name)
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        tables.delete_table(table.name)


@pytest.fixture
def storage_connection(azurite) -> str:
    """A connection string to an empty Azurite account."""
    wipe_storage(azurite.connection_string)
    return azurite.connection_string


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test is a fresh process as far as the converter's recent-items cache goes."""
    from shared.pipeline.convert import RECENT_ITEMS

    RECENT_ITEMS.clear()
    yield


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    """Tests configure through explicit settings; a developer's environment must not leak in."""
    for name in list(os.environ):
        if name.startswith(("AzureWebJobsStorage", "FEED_", "GRAPH_", "APPLICATIONINSIGHTS_", "WHATSAPP_")) or name in (
            "MAPPING_BLOB", "ARCHIVE_FOLDER_NAME", "TRANSCRIPT_MODE", "AZURE_CLIENT_ID",
        ):
            monkeypatch.delenv(name, raising=False)
