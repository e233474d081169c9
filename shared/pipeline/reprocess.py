"""reprocess-unmapped: give items kept under unmapped/ another go after the mapping changed.

Only items that now map leave unmapped/ (their copies are queued for delivery and counted in
their original day's report); the rest stay where they are, untouched.

Each unmapped/ entry carries its raw item (since issue 15), so the lifecycle rule that expires
raw/ cannot orphan it. An older entry without one is read from raw/; when that blob is gone (or
the entry cannot be read) the entry is reported as missing, left in place, and the rest go on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from azure.core.exceptions import ResourceNotFoundError

from shared import names
from shared.domain.bounded import for_log
from shared.pipeline.convert import convert_item
from shared.pipeline.messages import ItemMessage

log = logging.getLogger(__name__)


@dataclass
class ReprocessResult:
    examined: int = 0
    now_mapped: int = 0
    still_unmapped: int = 0
    copies_queued: int = 0
    item_ids: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "entry: why" for entries left in place (raw gone, unreadable, failed)


def reprocess_unmapped(*, blobs, queues, tracking, mapping, directory, region: str, options, traceparent=lambda: None,
                       stage=None) -> ReprocessResult:
    mapping.invalidate()
    result = ReprocessResult()
    for name in list(blobs.list(names.UNMAPPED)):
        result.examined += 1
        try:
            kept = json.loads(blobs.get(names.UNMAPPED, name))
            message = ItemMessage(item_id=kept["item_id"], raw_blob=kept["raw_blob"], report_date=kept["report_date"],
                                  run_id=kept.get("run_id", "reprocess"), resent_of=kept.get("resent_of"),
                                  source=kept.get("source"))  # an older entry has none: judged by raw_blob
            raw = json.dumps(kept["raw"], ensure_ascii=False).encode("utf-8", "surrogatepass") if "raw" in kept else None
        except ResourceNotFoundError:  # reprocessed meanwhile by another run: nothing to report
            result.examined -= 1
            continue
        except (ValueError, KeyError, TypeError) as exc:  # an entry we cannot read: report it, go on
            result.missing.append(f"{name}: unreadable entry ({type(exc).__name__})")
            log.warning("unmapped entry %s unreadable: %s", for_log(name), type(exc).__name__)
            continue
        try:
            outcome = convert_item(message, blobs=blobs, queues=queues, tracking=tracking, mapping=mapping,
                                   directory=directory, region=region, options=options, traceparent=traceparent,
                                   stage=stage, raw=raw)
        except ResourceNotFoundError:
            if raw is None:  # an entry from before entries carried their raw item: it was read from raw/
                result.missing.append(f"{name}: its raw item {names.RAW}/{message.raw_blob} is gone (expired?)")
                log.warning("unmapped entry %s: raw item gone; left in place", for_log(name))
            else:
                result.missing.append(f"{name}: a stored file it names could not be read; left in place, run again")
                log.warning("unmapped entry %s: a stored blob it needs was not found; left in place", for_log(name))
            continue
        except Exception as exc:  # noqa: BLE001 - one entry's failure: report it, left in place, go on with the rest
            result.missing.append(f"{name}: converting it failed ({type(exc).__name__}); left in place, run again "
                                  "once the cause is fixed")
            log.warning("unmapped entry %s: converting it failed: %s", for_log(name), type(exc).__name__)
            continue
        if outcome.status in ("converted", "staged"):  # staged: transcript mode
            blobs.delete(names.UNMAPPED, name)
            result.now_mapped += 1
            result.copies_queued += outcome.copies
            result.item_ids.append(message.item_id)
        else:
            result.still_unmapped += 1
    return result
