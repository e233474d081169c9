"""Every storage name the code uses: containers, queues and tables.

infra/ creates exactly these (a test reads both and compares). Change a name here and in
the Bicep together.
"""

from __future__ import annotations

# Blob containers
RAW = "raw"  # items as received: raw/{capture day}/{item key}.json
ATTACHMENTS = "attachments"  # bytes, content-addressed: attachments/{sha256}
MIME = "mime"  # rendered records: mime/{capture day}/{item key}.eml
CONFIG = "config"  # the user-mapping CSV (MAPPING_BLOB)
REPORTS = "reports"  # daily admin report: reports/{date}.json and .html
REJECTED = "rejected"  # items that failed validation, with the reason
UNMAPPED = "unmapped"  # items with no mapped participant, for reprocess-unmapped
LOCKS = "locks"  # lease blobs: per-mailbox concurrency slots

CONTAINERS = (RAW, ATTACHMENTS, MIME, CONFIG, REPORTS, REJECTED, UNMAPPED, LOCKS)
EVIDENCE = "evidence"  # daily hash-chained manifests: evidence/{date}.jsonl (+ .s1.jsonl supplements)
CONTAINERS += (EVIDENCE,)
EVIDENCE_CONTAINERS = (RAW, ATTACHMENTS, MIME, EVIDENCE)  # under the immutability policy (infra/modules/storage.bicep)
IMPORTS = "imports"  # WhatsApp "Export chat" uploads: imports/{owner mailbox}/..., reports beside them
CONTAINERS = (*CONTAINERS, IMPORTS)

# Queues (the Functions host adds "-poison" after maxDequeueCount failed attempts)
ITEMS_QUEUE = "items"
DELIVERIES_QUEUE = "deliveries"
POISON_SUFFIX = "-poison"
WORK_QUEUES = (ITEMS_QUEUE, DELIVERIES_QUEUE)
QUEUES = (ITEMS_QUEUE, DELIVERIES_QUEUE, ITEMS_QUEUE + POISON_SUFFIX, DELIVERIES_QUEUE + POISON_SUFFIX)

# Tables
CHECKPOINTS_TABLE = "checkpoints"  # feed watermark and run history
LEDGER_TABLE = "ledger"  # one row per mailbox copy: claimed / delivered
DIRECTORY_TABLE = "directorycache"  # Microsoft 365 user look-ups with a TTL
TRACKING_TABLE = "tracking"  # per report day: what happened to each item and copy
BUDGET_TABLE = "mailboxbudget"  # per mailbox: Graph requests spent in the current budget window, across instances
TABLES = (CHECKPOINTS_TABLE, LEDGER_TABLE, DIRECTORY_TABLE, TRACKING_TABLE, BUDGET_TABLE)

# Issue 9: WhatsApp Business numbers captured from Meta's webhooks (Cloud API and coexistence)
WEBHOOKS = "webhooks"  # container: signed POST bodies as received: webhooks/{received day}/{sha256}.json
WEBHOOKS_QUEUE = "webhooks"  # one pointer per stored body, for normalise_webhook
WHATSAPP_STATE_TABLE = "whatsappstate"  # open calls, contact names, wamid -> raw blob index
CONTAINERS += (WEBHOOKS,)
WORK_QUEUES += (WEBHOOKS_QUEUE,)
QUEUES += (WEBHOOKS_QUEUE, WEBHOOKS_QUEUE + POISON_SUFFIX)
TABLES += (WHATSAPP_STATE_TABLE,)

# The connection setting the Functions host binds queues and the timer with.
STORAGE_CONNECTION = "AzureWebJobsStorage"
