"""Sample feed items for the record tests: one per item type and attachment kind, with their bytes."""

from __future__ import annotations

import hashlib

from shared.domain.items import Attachment, Item, Participant

ALICE = {"phone": "+447700900123", "name": "Alice Smith", "email": "alice@contoso.com"}
BOB = {"phone": "(555) 123-0002", "name": "Bob Jones", "email": "bob@contoso.com"}
CLIENT = {"phone": "+4915112345678", "name": "Client GmbH"}
HIDDEN = {"user_id": "bsuid.ABC-123", "name": "Nameless Numberless"}

MAILBOXES = {"+447700900123": "alice@contoso.com", "(555) 123-0002": "bob@contoso.com"}


def mailbox_of(participant: Participant) -> str | None:
    return MAILBOXES.get(participant.phone or "")


BLOBS: dict[str, bytes] = {
    "photo": b"\xff\xd8\xff\xe0fake-jpeg" + bytes(range(256)),
    "video": b"\x00\x00\x00\x18ftypmp42fake-video",
    "audio": b"ID3fake-mp3",
    "voice": b"OggSfake-opus-voice-note",
    "pdf": b"%PDF-1.4\n%fake pdf, numbers on page 2\n",
    "sticker": b"RIFF\x00\x00\x00\x00WEBPfake",
    "recording": b"OggScall-recording",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def att(att_id: str, name: str, ctype: str, kind: str, blob: str, **extra) -> dict:
    data = BLOBS[blob]
    return {"id": att_id, "file_name": name, "content_type": ctype, "size": len(data), "sha256": sha(data),
            "kind": kind, **extra}


class DictSource:
    """AttachmentSource over {sha256: bytes}; ``override`` replaces the bytes returned for an id."""

    def __init__(self, blobs: dict[str, bytes] | None = None, override: dict[str, bytes | None] | None = None):
        self.by_sha = {sha(b): b for b in (blobs or BLOBS).values()}
        self.override = override or {}
        self.reads: list[str] = []

    def read(self, attachment: Attachment) -> bytes | None:
        self.reads.append(attachment.id)
        if attachment.id in self.override:
            return self.override[attachment.id]
        return self.by_sha.get(attachment.sha256)


BASE = {
    "captured_at": "2026-11-22T09:15:04Z",
    "sent_at": "2026-11-22T09:15:02Z",
    "conversation": {"id": "grp-889", "kind": "group", "title": "Q4 pricing"},
    "sender": ALICE,
    "recipients": [BOB, CLIENT],
    "direction": "outbound",
}

RAW: dict[str, dict] = {
    "message_text": {**BASE, "id": "tm-0001", "type": "message",
                     "text": "Draft attached, numbers on page 2.\nRTL: \u05e9\u05dc\u05d5\u05dd, emoji \U0001F44D\U0001F3FD, "
                             "combining e\u0301, zero\u200bwidth, <b>bold?</b>"},
    "message_attachments": {**BASE, "id": "tm-0002", "type": "message", "text": "Files for you",
                            "attachments": [
                                att("att-1", "IMG-20261122-WA0001.jpg", "image/jpeg", "image", "photo", caption="The whiteboard"),
                                att("att-2", "VID-20261122-WA0002.mp4", "video/mp4", "video", "video"),
                                att("att-3", "song.mp3", "audio/mpeg", "audio", "audio"),
                                att("att-4", "PTT-20261122-WA0003.opus", "audio/ogg; codecs=opus", "voice", "voice"),
                                att("att-5", "pricing-v3.pdf", "application/pdf", "document", "pdf"),
                                att("att-6", "sticker.webp", "image/webp", "sticker", "sticker"),
                            ]},
    "message_location_contacts": {**BASE, "id": "tm-0003", "type": "message", "direction": "inbound",
                                  "sender": CLIENT, "recipients": [ALICE, BOB],
                                  "location": {"latitude": 51.5033635, "longitude": -0.1276248, "name": "Our office",
                                               "address": "10 Downing St, London"},
                                  "contacts": [{"name": "Carol Lawyer", "phones": ["+44 20 7946 0000", "+44 7700 900999"]},
                                               {"name": "No Phones", "phones": []}]},
    "message_reply_forwarded": {**BASE, "id": "tm-0004", "type": "message", "text": "Agreed, see below",
                                "reply_to": "tm-0001", "forwarded": True,
                                "conversation": {"id": "dm-alice-bob", "kind": "direct"}, "recipients": [BOB]},
    "edit": {**BASE, "id": "tm-0005", "type": "edit", "target_id": "tm-0001", "text": "Draft attached, numbers on page 3."},
    "deletion": {**BASE, "id": "tm-0006", "type": "deletion", "target_id": "tm-0001",
                 "original_text": "Draft attached, numbers on page 2."},
    "deletion_without_text": {**BASE, "id": "tm-0007", "type": "deletion", "target_id": "tm-0002"},
    "reaction": {**BASE, "id": "tm-0008", "type": "reaction", "target_id": "tm-0001", "emoji": "\U0001F44D",
                 "sender": BOB, "recipients": [ALICE, CLIENT], "direction": "inbound"},
    "reaction_removed": {**BASE, "id": "tm-0009", "type": "reaction", "target_id": "tm-0001", "emoji": ""},
    "call_answered": {**BASE, "id": "tm-0010", "type": "call", "conversation": {"id": "dm-alice-bob", "kind": "direct"},
                      "recipients": [BOB],
                      "call": {"media": "video", "status": "answered", "started_at": "2026-11-22T09:00:00Z",
                               "duration_seconds": 754, "participants": [ALICE, BOB],
                               "recording": att("rec-1", "call-recording.ogg", "audio/ogg", "audio", "recording")}},
    "call_missed": {**BASE, "id": "tm-0011", "type": "call", "conversation": {"id": "dm-alice-hidden", "kind": "direct"},
                    "sender": HIDDEN, "recipients": [ALICE], "direction": "inbound",
                    "call": {"media": "voice", "status": "missed", "started_at": "2026-11-22T10:00:00+01:00",
                             "duration_seconds": 0}},
    "call_declined": {**BASE, "id": "tm-0012", "type": "call", "recipients": [BOB, CLIENT],
                      "call": {"media": "voice", "status": "declined", "started_at": "2026-11-22T09:00:00Z",
                               "duration_seconds": 0, "participants": []}},
}
_EVENTS = ["participant_added", "participant_removed", "participant_left", "group_created", "subject_changed",
           "number_changed", "security_code_changed"]
for _n, _kind in enumerate(_EVENTS):
    RAW[f"event_{_kind}"] = {**BASE, "id": f"tm-e{_n}", "type": "event", "direction": None,
                             "event": {"kind": _kind, **({"detail": f"detail of {_kind}: Bob Jones"} if _n % 2 == 0 else {})}}


def item(name: str) -> Item:
    return Item.model_validate(RAW[name])
