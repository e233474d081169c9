"""Meta's WhatsApp Business Platform webhooks (Cloud API and coexistence) as a capture source: pure domain.

``signature``: verify a POST and the subscription handshake. ``normalise_payload``: one POST body
to contract items, media to download, statuses, call events, address-book names, capture gaps and
what could not be read. ``pair_calls``: connect/terminate events to call items. ``complete_attachment``:
put a downloaded file's hash and size into its item. No I/O, no clock, no logging here.
"""

from shared.domain.whatsapp.calls import pair_calls
from shared.domain.whatsapp.media import MediaMismatch, complete_attachment
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
    "normalise_payload",
    "pair_calls",
    "sign",
    "verify_handshake",
    "verify_signature",
]
