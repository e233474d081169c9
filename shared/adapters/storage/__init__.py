"""Azure Storage adapters: blobs, queues and tables (Azurite locally, identity-based in Azure)."""
