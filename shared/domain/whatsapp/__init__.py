"""Meta's WhatsApp Business Platform webhooks (Cloud API and coexistence) as a capture source: pure domain.

No I/O, no clock, no logging here. What the plumbing does with each piece:

- ``verify_signature(raw, header, app_secret)`` on the exact bytes received (before parsing);
  ``verify_handshake(query, verify_token)`` answers the GET (return the challenge as the body, else 403).
- ``normalise_payload(raw, received_at=...)`` -> ``Normalised``; never raises on the body:
  - ``items``: contract item dicts (already validated). Item id = wamid (history media delivered
    apart: ``wamid#media``; calls: ``wacid``, unfinished calls ``wacid#unfinished``). Before queuing,
    download each of the item's ``media`` and call ``complete_attachment`` (fills size and the hash,
    adds an attachment the webhook declared no hash for; ``MediaMismatch`` = corrupt download), or
    ``mark_media_unavailable`` when the file cannot be had. Edits/deletions carry ``target_id``;
    add ``original_text`` from the archive if you have the original.
  - ``statuses``: delivery/read/failed evidence, keyed ``StatusEvent.dedupe_key``; not items.
  - ``call_events``: feed to ``pair_calls`` with the open calls kept in a table
    (``CallEvent.to_dict``/``from_dict``); queue the returned items, keep ``still_open``.
  - ``contact_names``: the phone's address book (add/remove a name per number).
  - ``capture_gaps``: ``kind`` stopped/resumed/history_declined: tell an admin at once.
  - ``unknown``: field, type, JSON path, reason (and wamid when known): report them; never content.
"""

from shared.domain.whatsapp.calls import pair_calls
from shared.domain.whatsapp.media import MediaMismatch, complete_attachment, mark_media_unavailable
from shared.domain.whatsapp.normalise import normalise_payload
from shared.domain.whatsapp.results import (
    CallEvent,
    CaptureGap,
    ContactName,
    MediaRef,
    Normalised,
    StatusEvent,
    Unknown,
)
from shared.domain.whatsapp.signature import sign, verify_handshake, verify_signature

__all__ = [
    "CallEvent",
    "CaptureGap",
    "ContactName",
    "MediaMismatch",
    "MediaRef",
    "Normalised",
    "StatusEvent",
    "Unknown",
    "complete_attachment",
    "mark_media_unavailable",
    "normalise_payload",
    "pair_calls",
    "sign",
    "verify_handshake",
    "verify_signature",
]
