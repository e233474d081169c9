"""reprocess-unmapped: give items kept under unmapped/ another go after the mapping changed.

Only items that now map leave unmapped/ (their copies are queued for delivery and counted in
their original day's report); the rest stay where they are, untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from shared import names
from shared.pipeline.convert import convert_item
from shared.pipeline.messages import ItemMessage


@dataclass
class ReprocessResult:
    examined: int = 0
    now_mapped: int = 0
    still_unmapped: int = 0
    copies_queued: int = 0
    item_ids: list[str] = field(default_factory=list)


def reprocess_unmapped(*, blobs, queues, tracking, mapping, directory, region: str, options, traceparent=lambda: None,
                       stage=None) -> ReprocessResult:
    mapping.invalidate()
    result = ReprocessResult()
    for name in list(blobs.list(names.UNMAPPED)):
        kept = json.loads(blobs.get(names.UNMAPPED, name))
        result.examined += 1
        message = ItemMessage(item_id=kept["item_id"], raw_blob=kept["raw_blob"], report_date=kept["report_date"],
                              run_id=kept.get("run_id", "reprocess"))
        outcome = convert_item(message, blobs=blobs, queues=queues, tracking=tracking, mapping=mapping,
                               directory=directory, region=region, options=options, traceparent=traceparent,
                               stage=stage)
        if outcome.status in ("converted", "staged"):  # staged: transcript mode
            blobs.delete(names.UNMAPPED, name)
            result.now_mapped += 1
            result.copies_queued += outcome.copies
            result.item_ids.append(message.item_id)
        else:
            result.still_unmapped += 1
    return result
