"""Build the three storage service clients from the settings, once per process.

A connection string (``AzureWebJobsStorage``, ``UseDevelopmentStorage=true`` for Azurite) wins;
otherwise the identity-based ``AzureWebJobsStorage__*`` settings with the managed identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueServiceClient

from shared.adapters.storage.transport import storage_transport
from shared.settings import Settings


@dataclass(frozen=True)
class StorageClients:
    blobs: BlobServiceClient
    queues: QueueServiceClient
    tables: TableServiceClient


# The Functions host reads and writes queue messages base64-encoded (host.json messageEncoding
# default); a plain-text message would go straight to poison.
QUEUE_POLICIES = dict(message_encode_policy=BinaryBase64EncodePolicy(), message_decode_policy=BinaryBase64DecodePolicy())


def build_storage_clients(settings: Settings) -> StorageClients:
    if settings.storage_connection:
        conn = settings.storage_connection
        return StorageClients(
            blobs=BlobServiceClient.from_connection_string(conn, transport=storage_transport()),
            queues=QueueServiceClient.from_connection_string(conn, transport=storage_transport(), **QUEUE_POLICIES),
            tables=TableServiceClient.from_connection_string(conn, transport=storage_transport()),
        )
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    credential = (
        ManagedIdentityCredential(client_id=settings.storage_client_id)
        if settings.storage_client_id
        else DefaultAzureCredential()
    )
    account = settings.storage_account_name
    blob_uri = settings.storage_blob_uri or f"https://{account}.blob.core.windows.net"
    queue_uri = settings.storage_queue_uri or f"https://{account}.queue.core.windows.net"
    table_uri = settings.storage_table_uri or f"https://{account}.table.core.windows.net"
    return StorageClients(
        blobs=BlobServiceClient(blob_uri, credential=credential, transport=storage_transport()),
        queues=QueueServiceClient(queue_uri, credential=credential, transport=storage_transport(), **QUEUE_POLICIES),
        tables=TableServiceClient(table_uri, credential=credential, transport=storage_transport()),
    )
