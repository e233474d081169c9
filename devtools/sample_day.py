"""A realistic, deterministic captured day for the demo, the end-to-end and the fault tests.

``generate_day(day, seed=7, scale=1)`` returns a ``SampleDay``: the feed items (contract JSON, see
../shared/feed-contract.md), the attachment bytes, the tenant's Microsoft 365 users, the tenant's
mapping CSV, and the expectation: which primary mailboxes must each hold exactly one copy of
which item. The expectation is worked out here, from the generator's own table of who is who
(``PEOPLE`` and ``USERS``), never by calling the archiver's mapping code, so a mapping bug cannot
hide behind its own output.

Who is who (default phone region US; all numbers in ranges reserved for fiction):

| person | phones | item email property | mapping file row | outcome |
| --- | --- | --- | --- | --- |
| Alice Smith | +447700900123, +447700900124 | alice@contoso.com | both numbers (digits w/o +, 00 prefix) -> alice | alice, one copy for both numbers |
| Bob Jones | +15551230002 | bob@contoso.com | `+1 (555) 123-0002` -> bob | bob |
| Carol Diaz | +12025550143 | (none) | `(202) 555-0143` (national) -> carol | carol, **only through the mapping file** |
| Dave Brown | +12025550178 | dbrown@contoso.com | -> dave.brown@contoso.com (old account, disabled) | falls back to the email property: dbrown |
| Erin Walsh | +447700900777 | (none) | -> erin@contoso.com (disabled) | no copy |
| Frank Miller | +15551230006 | (none) | -> Frank.Miller@fabrikam.com, an alias of frank@contoso.com | frank@contoso.com, **only through the mapping file** |
| Grace Lee | +15551230007 | grace@contoso.com | -> grace@contoso.com (user without a mailbox) | no copy |
| Henry Osei | +447700900321 | henry@contoso.com | (no row) | henry, through the email property |
| Ivan Petrov | user_id wa-bsuid-ivan-7731 | ivan@contoso.com | user_id row -> ivan | ivan |
| outsiders | Klaus (+49 151...), Priya, Ramon, Yusuf, Mallory, Sam (user_id only) | (none) | (none) | no copy |

So with a header-only mapping file, the chats of Carol (with Ramon) and of Frank (with Priya) are
unmapped; with the full file they land with carol@ and frank@. Erin's chat with Klaus and Grace's
chat with Sam are unmapped either way. ``expected_email_only`` is the expectation under a
header-only mapping file.

``python -m devtools.sample_day --out DIR [--day YYYY-MM-DD] [--seed N] [--scale N]`` writes
items.ndjson, attachments/, mapping.csv, users.json and expected.json for a person to inspect.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import struct
import sys
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

# --------------------------------------------------------------------------- the tenant
USERS: list[dict] = [
    {"address": "alice@contoso.com", "display_name": "Alice Smith", "enabled": True, "has_mailbox": True,
     "aliases": ["alice.smith@contoso.com"]},
    {"address": "bob@contoso.com", "display_name": "Bob Jones", "enabled": True, "has_mailbox": True, "aliases": []},
    {"address": "carol@contoso.com", "display_name": "Carol Diaz", "enabled": True, "has_mailbox": True, "aliases": []},
    {"address": "dbrown@contoso.com", "display_name": "Dave Brown", "enabled": True, "has_mailbox": True, "aliases": []},
    {"address": "dave.brown@contoso.com", "display_name": "Dave Brown (old account)", "enabled": False,
     "has_mailbox": True, "aliases": []},
    {"address": "erin@contoso.com", "display_name": "Erin Walsh", "enabled": False, "has_mailbox": True, "aliases": []},
    {"address": "frank@contoso.com", "display_name": "Frank Miller", "enabled": True, "has_mailbox": True,
     "aliases": ["frank.miller@fabrikam.com"]},
    {"address": "grace@contoso.com", "display_name": "Grace Lee", "enabled": True, "has_mailbox": False, "aliases": []},
    {"address": "henry@contoso.com", "display_name": "Henry Osei", "enabled": True, "has_mailbox": True, "aliases": []},
    {"address": "ivan@contoso.com", "display_name": "Ivan Petrov", "enabled": True, "has_mailbox": True, "aliases": []},
]


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    phones: tuple[str, ...] = ()  # E.164
    user_id: str | None = None
    email: str | None = None  # the "User's Email address" property the provider fills in
    employee: bool = False
    rows: tuple[tuple[str, str, str], ...] = ()  # (key: E.164 or user id, as written in the CSV, mailbox)


PEOPLE: dict[str, Person] = {p.key: p for p in [
    Person("alice", "Alice Smith", ("+447700900123", "+447700900124"), email="alice@contoso.com", employee=True,
           rows=(("+447700900123", "447700900123", "alice@contoso.com"),
                 ("+447700900124", "0044 7700 900124", "alice@contoso.com"))),
    Person("bob", "Bob Jones", ("+15551230002",), email="bob@contoso.com", employee=True,
           rows=(("+15551230002", "+1 (555) 123-0002", "bob@contoso.com"),)),
    Person("carol", "Carol Diaz", ("+12025550143",), email=None, employee=True,
           rows=(("+12025550143", "(202) 555-0143", "carol@contoso.com"),)),
    Person("dave", "Dave Brown", ("+12025550178",), email="dbrown@contoso.com", employee=True,
           rows=(("+12025550178", "+1 202-555-0178", "dave.brown@contoso.com"),)),
    Person("erin", "Erin Walsh", ("+447700900777",), email=None, employee=True,
           rows=(("+447700900777", "+44 7700 900777", "erin@contoso.com"),)),
    Person("frank", "Frank Miller", ("+15551230006",), email=None, employee=True,
           rows=(("+15551230006", "+1 555.123.0006", "Frank.Miller@fabrikam.com"),)),
    Person("grace", "Grace Lee", ("+15551230007",), email="grace@contoso.com", employee=True,
           rows=(("+15551230007", "+15551230007", "grace@contoso.com"),)),
    Person("henry", "Henry Osei", ("+447700900321",), email="henry@contoso.com", employee=True),
    Person("ivan", "Ivan Petrov", (), user_id="wa-bsuid-ivan-7731", email="ivan@contoso.com", employee=True,
           rows=(("wa-bsuid-ivan-7731", "wa-bsuid-ivan-7731", "ivan@contoso.com"),)),
    # outsiders: never in the mapping file, never an email property
    Person("klaus", "Klaus Becker (Client GmbH)", ("+4915123456789",)),
    Person("priya", "Priya Raman", ("+447700900456",)),
    Person("ramon", "Ramón Ortiz", ("+13125550199",)),
    Person("yusuf", "يوسف الحربي", ("+447700900555",)),
    Person("mallory", "Mallory\r\nBcc: all@contoso.com", ("+447700900666",)),
    Person("sam", "Sam", (), user_id="wa-bsuid-5f2a9c31"),
]}

MAPPING_HEADER = "External User ID,Microsoft 365 User Mailbox"
# the file's row order: mixed on purpose (and not grouped by person)
_ROW_ORDER = ["bob", "alice", "carol", "dave", "frank", "erin", "grace", "ivan"]


def mapping_csv() -> bytes:
    lines = [MAPPING_HEADER]
    for key in _ROW_ORDER:
        for _k, written, mailbox in PEOPLE[key].rows:
            lines.append(f"{written},{mailbox}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _resolve(address: str | None) -> str | None:
    """The primary address of the valid user (exists, enabled, has a mailbox) an address names."""
    if not address:
        return None
    wanted = address.strip().lower()
    for user in USERS:
        names = {user["address"].lower(), *(a.lower() for a in user.get("aliases", ()))}
        if wanted in names:
            return user["address"].lower() if user["enabled"] and user["has_mailbox"] else None
    return None


def _mailbox_for(person: Person, key: str, email: str | None, *, use_file: bool) -> str | None:
    """The contract's rule for one participant: mapping file first, then the item's email property."""
    if use_file:
        for row_key, _written, mailbox in person.rows:
            if row_key == key:
                target = _resolve(mailbox)
                if target:
                    return target
                break
    return _resolve(email)


# --------------------------------------------------------------------------- file builders
def _png(width: int, height: int, pixel, *, alpha: bool = False) -> bytes:
    """A real PNG (8-bit RGB or RGBA), built with zlib and struct."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")


def photo_png(variant: int) -> bytes:
    """A 'whiteboard photo': a soft gradient with a few marker lines."""
    def pixel(x, y):
        base = 225 + (x + y + variant) % 25
        if y in (12, 24, 36) and 8 < x < 80 - (y // 3):
            return (30, 60 + variant % 40, 160)
        if x == 8 + variant % 5:
            return (180, 40, 40)
        return (base, base, base - 10)
    return _png(96, 64, pixel)


def sticker_png(variant: int) -> bytes:
    """A 48x48 smiley with a transparent background (stickers are images with alpha)."""
    def pixel(x, y):
        dx, dy = x - 23.5, y - 23.5
        r = math.hypot(dx, dy)
        if r > 22:
            return (0, 0, 0, 0)
        if (math.hypot(dx + 8, dy + 6) < 3 or math.hypot(dx - 8, dy + 6) < 3
                or (12 < r < 15 and dy > 4)):
            return (40, 30, 20, 255)
        return (255, 205 + variant % 30, 40, 255)
    return _png(48, 48, pixel, alpha=True)


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def minimal_pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid one-page PDF 1.4 (Helvetica text), with a correct xref table."""
    ops = [f"BT /F1 18 Tf 72 770 Td ({_pdf_escape(title)}) Tj ET"]
    y = 740
    for line in lines:
        ops.append(f"BT /F1 11 Tf 72 {y} Td ({_pdf_escape(line)}) Tj ET")
        y -= 16
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Title (" + _pdf_escape(title).encode("latin-1") + b") /Producer (devtools.sample_day) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def wav_tone(seconds: float, freqs: tuple[float, ...], *, rate: int = 8000) -> bytes:
    """A valid RIFF/WAVE file: 16-bit mono PCM, a few tones one after another (a 'voice' stand-in)."""
    n = int(seconds * rate)
    per = max(1, n // len(freqs))
    samples = bytearray()
    for i in range(n):
        f = freqs[min(i // per, len(freqs) - 1)]
        envelope = min(1.0, i / 400, (n - i) / 400)
        samples += struct.pack("<h", int(9000 * envelope * math.sin(2 * math.pi * f * i / rate)))
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + bytes(samples)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vcard(name: str, phone: str, uid: str) -> bytes:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{name}\r\nN:{name.split()[-1]};{name.split()[0]};;;\r\n"
            f"TEL;TYPE=CELL:{phone}\r\nUID:{uid}\r\nEND:VCARD\r\n").encode("utf-8")


# --------------------------------------------------------------------------- the day
@dataclass
class SampleDay:
    day: date
    items: list[dict]
    attachments: dict[str, bytes]
    users: list[dict]
    mapping_csv: bytes
    expected: dict[str, set[str]]
    expected_outcomes: dict[str, str]
    expected_email_only: dict[str, set[str]] = field(default_factory=dict)  # under a header-only mapping file
    people: list[dict] = field(default_factory=list)
    reject_ids: list[str] = field(default_factory=list)

    def expected_json(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "expected": {k: sorted(v) for k, v in sorted(self.expected.items())},
            "expected_outcomes": dict(sorted(self.expected_outcomes.items())),
            "expected_email_only": {k: sorted(v) for k, v in sorted(self.expected_email_only.items())},
            "people": self.people,
        }


def _ts(moment: datetime, *, millis: bool = False, offset_hours: int = 0) -> str:
    if offset_hours:
        local = moment.astimezone(timezone(timedelta(hours=offset_hours)))
        return local.isoformat(timespec="milliseconds" if millis else "seconds")
    moment = moment.astimezone(timezone.utc)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Builder:
    def __init__(self, day: date, rng: random.Random, copy: int):
        self.day, self.rng, self.copy = day, rng, copy
        self.midnight = datetime.combine(day, time(0), tzinfo=timezone.utc)
        self.items: list[dict] = []
        self.who: dict[str, list[tuple[str, str, str | None]]] = {}  # item id -> [(person, key, email)]
        self.attachments: dict[str, bytes] = {}
        self.rejects: list[str] = []
        self.seq = 0
        self.att_seq = 0
        self.tag = f"{day:%Y%m%d}-{copy:02d}"

    # ---------------------------------------------------------------- pieces
    def conv(self, base: str, kind: str, title: str | None = None) -> dict:
        cid = base if self.copy == 0 else f"{base}-{self.copy + 1}"
        return {"id": cid, "kind": kind, **({"title": title} if title else {})}

    def part(self, key: str, phone: str | None = None, *, number: int = 0) -> tuple[dict, tuple[str, str, str | None]]:
        """A participant as the provider shows it, and (person, mapping key, email) for the expectation."""
        person = PEOPLE[key]
        out: dict = {}
        if person.phones:
            e164 = person.phones[number]
            out["phone"] = phone or e164
            mkey = e164
        else:
            mkey = person.user_id
        if person.user_id:
            out["user_id"] = person.user_id
        out["name"] = person.name
        if person.email:
            out["email"] = person.email
        return out, (key, mkey, person.email)

    def file(self, data: bytes, *, file_name: str, content_type: str, kind: str, caption: str | None = None) -> dict:
        self.att_seq += 1
        att_id = f"att-{self.tag}-{self.att_seq:03d}"
        self.attachments[att_id] = data
        meta = {"id": att_id, "file_name": file_name, "content_type": content_type, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "kind": kind}
        if caption is not None:
            meta["caption"] = caption
        return meta

    def times(self, start_hour: float, end_hour: float, n: int) -> list[datetime]:
        lo, hi = int(start_hour * 3600), int(end_hour * 3600)
        return [self.midnight + timedelta(seconds=s) for s in sorted(self.rng.sample(range(lo, hi), n))]

    def item(self, conv: dict, sender: tuple, recipients: list[tuple], type_: str, sent: datetime,
             captured: datetime | None = None, *, call_parts: list[tuple] = (), sent_offset: int = 0, **fields) -> dict:
        self.seq += 1
        item_id = f"tm-{self.tag}-{self.seq:04d}"
        if captured is None:
            captured = sent + timedelta(seconds=self.rng.randint(1, 40), milliseconds=self.rng.randint(0, 999))
        sender_d, sender_w = sender
        sender_person = PEOPLE[sender_w[0]]
        item = {
            "id": item_id,
            "type": type_,
            "captured_at": _ts(captured, millis=self.seq % 3 == 0),
            "sent_at": _ts(sent, offset_hours=sent_offset),
            "conversation": dict(conv),
            "sender": sender_d,
            "recipients": [d for d, _w in recipients],
            "direction": "outbound" if sender_person.employee else "inbound",
            **fields,
        }
        if call_parts:
            item["call"]["participants"] = [d for d, _w in call_parts]
        if self.seq % 4 == 0:
            item["x_capture_agent"] = "mobile-agent/5.12 (Android)"  # an unknown field: ignored per the contract
        self.items.append(item)
        self.who[item_id] = [sender_w, *(w for _d, w in recipients), *(w for _d, w in call_parts)]
        return item

    # ---------------------------------------------------------------- the conversations
    def build(self) -> None:
        self.late_burst()
        self.alice_klaus()
        self.q4_group()
        self.carol_ramon()
        self.frank_priya()
        self.erin_klaus()
        self.grace_sam()
        self.ops_group()

    def late_burst(self) -> None:
        """Henry and Bob chatted last night while Henry's phone was offline: captured just after midnight."""
        conv = self.conv("dm-henry-bob", "direct")
        henry, bob = self.part("henry"), self.part("bob", "15551230002")  # digits without +
        lines = [
            (henry, "Bob, still up? The Fabrikam deal moved."),
            (bob, "Yes. What happened?"),
            (henry, "They want 60-day payment terms instead of 30."),
            (bob, "Hmm. Finance won't like that."),
            (henry, "I know. Can you ask Dana tomorrow first thing?"),
            (bob, "Will do. Anything else changed?"),
            (henry, "Volume up 15%, so maybe it's worth it."),
            (bob, "That changes the picture. Send me their email?"),
            (henry, "Forwarding now."),
            (bob, "Got it 👍"),
            (henry, "Good night!"),
        ]
        start = self.midnight - timedelta(hours=3) + timedelta(minutes=self.rng.randint(0, 20))
        sent = sorted(start + timedelta(seconds=s) for s in self.rng.sample(range(0, 8700), len(lines) + 1))
        # all captured in the first minutes of the day (so a window that starts minutes after midnight
        # still holds a dozen items: several pages at a small page size)
        base_capture = self.midnight + timedelta(seconds=30 + self.copy * 12 * 10)
        for i, (who, text) in enumerate(lines):
            other = bob if who is henry else henry
            self.item(conv, who, [other], "message", sent[i], base_capture + timedelta(seconds=10 * i), text=text)
        self.item(conv, henry, [bob], "call", sent[-1], base_capture + timedelta(seconds=10 * len(lines)),
                  call={"media": "video", "status": "declined", "started_at": _ts(sent[-1]), "duration_seconds": 0})

    def alice_klaus(self) -> None:
        conv = self.conv("dm-alice-klaus", "direct")
        alice, klaus = self.part("alice"), self.part("klaus")
        klaus_00 = self.part("klaus", "0049 151 23456789")
        t = self.times(7.6, 17.5, 16)
        k = self.copy
        m1 = self.item(conv, klaus, [alice], "message", t[0], sent_offset=1,
                       text="Guten Morgen Alice! Können wir die Preise heute finalisieren? 🙂")
        pdf = self.file(minimal_pdf(f"Q4 pricing draft v3{'' if k == 0 else f' ({k + 1})'}",
                                    ["Volume tier A: 18.40 EUR", "Volume tier B: 17.10 EUR", "Numbers on page 2 (c) Contoso"]),
                        file_name="pricing-v3.pdf", content_type="application/pdf", kind="document")
        m2 = self.item(conv, alice, [klaus], "message", t[1], text="Morning Klaus 👋 Draft attached, numbers on page 2.",
                       attachments=[pdf])
        photo = self.file(photo_png(k), file_name="IMG_20261122_101512.png", content_type="image/png", kind="image",
                          caption="Whiteboard from our meeting")
        m3 = self.item(conv, klaus_00, [alice], "message", t[2], text="", attachments=[photo])
        m4 = self.item(conv, alice, [klaus], "message", t[3], text="Thanks, that's the version we agreed 👍",
                       reply_to=m3["id"])
        self.item(conv, alice, [klaus], "edit", t[4], target_id=m4["id"], text="Thanks, that's the version we agreed on 👍")
        self.item(conv, klaus, [alice], "reaction", t[5], target_id=m2["id"], emoji="👍")
        self.item(conv, klaus, [alice], "reaction", t[6], target_id=m2["id"], emoji="")  # removed
        self.item(conv, klaus, [alice], "message", t[7], forwarded=True, sent_offset=1,
                  text="FYI from our legal team: the contract needs a countersignature by Friday.")
        self.item(conv, alice, [klaus], "message", t[8], text="Meet here?",
                  location={"latitude": 51.5138, "longitude": -0.0984, "name": "Contoso London office",
                            "address": "1 Example Street, London EC2V 0XX"})
        voice = self.file(wav_tone(0.8 + 0.1 * (k % 3), (220.0 + k, 330.0, 262.0)), file_name="PTT-20261122-WA0007.wav",
                          content_type="audio/wav", kind="voice")
        self.item(conv, klaus, [alice], "message", t[9], attachments=[voice])
        recording = self.file(wav_tone(1.2, (440.0 + k, 392.0)), file_name="call-recording.wav", content_type="audio/wav",
                              kind="audio")
        self.item(conv, alice, [klaus], "call", t[10],
                  call={"media": "voice", "status": "answered", "started_at": _ts(t[10]), "duration_seconds": 754,
                        "recording": recording})
        self.item(conv, klaus, [alice], "call", t[11], sent_offset=1,
                  call={"media": "video", "status": "missed", "started_at": _ts(t[11], offset_hours=1),
                        "duration_seconds": 0})
        m13 = self.item(conv, alice, [klaus], "message", t[12], text="Our floor is 42k, please don't go below.")
        self.item(conv, alice, [klaus], "deletion", t[13], target_id=m13["id"],
                  original_text="Our floor is 42k, please don't go below.")
        self.item(conv, klaus, [alice], "message", t[14], reply_to=m1["id"], text="Perfekt, danke! Bis Freitag.")
        # the deliberately malformed item: 'recipients' is a string, not a list -> rejected
        bad = self.item(conv, klaus, [alice], "message", t[15], text="(the provider garbled this one)")
        bad["recipients"] = alice[0]["phone"]
        self.rejects.append(bad["id"])

    def q4_group(self) -> None:
        conv = self.conv("grp-q4-pricing", "group", "Q4 pricing 💶")
        alice, bob, dave, klaus = self.part("alice"), self.part("bob"), self.part("dave"), self.part("klaus")
        yusuf, mallory, henry = self.part("yusuf", "447700900555"), self.part("mallory"), self.part("henry")
        before = [alice, bob, dave, klaus, yusuf, mallory]
        everyone = before + [henry]

        def others(who, members=everyone):
            return [p for p in members if p is not who]

        t = self.times(9.0, 16.5, 11)
        self.item(conv, alice, others(alice), "event", t[0],
                  event={"kind": "participant_added", "detail": "Alice Smith added Henry Osei"})
        self.item(conv, bob, others(bob), "message", t[1], text="Updated the sheet, margins look OK at 18%.")
        self.item(conv, yusuf, others(yusuf), "message", t[2],
                  text="مرحبا، هل يمكنكم إرسال العرض النهائي قبل يوم الخميس؟")
        self.item(conv, mallory, others(mallory), "message", t[3],
                  text='<script>alert("x")</script><img src=x onerror=alert(1)> Click <a href="http://evil.example/">here</a>'
                       "\r\nBcc: everyone@contoso.com\r\n\r\n=?utf-8?q?not_a_header?=")
        sticker = self.file(sticker_png(self.copy), file_name="STK-20261122-WA0001.png", content_type="image/png",
                            kind="sticker")
        m5 = self.item(conv, dave, others(dave), "message", t[4], attachments=[sticker])
        renamed = {**conv, "title": "Q4 pricing 💶 (final)"}
        self.item(renamed, bob, others(bob), "event", t[5],
                  event={"kind": "subject_changed", "detail": 'Bob Jones changed the subject to "Q4 pricing 💶 (final)"'})
        self.item(renamed, alice, others(alice), "call", t[6], call_parts=[bob, dave, klaus],
                  call={"media": "voice", "status": "answered", "started_at": _ts(t[6]), "duration_seconds": 1260})
        self.item(renamed, dave, others(dave), "deletion", t[7], target_id=m5["id"])  # no original_text captured
        self.item(renamed, henry, others(henry), "message", t[8], text="Thanks for adding me. שלום לכולם!")
        card = self.file(vcard("Priya Raman", "+44 7700 900456", f"sample-{self.tag}-priya"), file_name="Priya Raman.vcf", content_type="text/vcard",
                         kind="document")
        self.item(renamed, bob, others(bob), "message", t[9], contacts=[{"name": "Priya Raman", "phones": ["+44 7700 900456"]}],
                  attachments=[card])
        self.item(renamed, klaus, others(klaus), "message", t[10], text="Agreed from our side ✅", sent_offset=1)

    def carol_ramon(self) -> None:
        """Carol is known only through the mapping file (no email property), her client is an outsider."""
        conv = self.conv("dm-carol-ramon", "direct")
        carol, ramon = self.part("carol"), self.part("ramon", "(312) 555-0199")  # national format
        t = self.times(10.0, 15.0, 4)
        self.item(conv, ramon, [carol], "message", t[0], text="Hi Carol, is the shipment still on for Thursday?")
        m2 = self.item(conv, carol, [ramon], "message", t[1], text="Yes, the truck leaves at 6am.")
        self.item(conv, ramon, [carol], "call", t[2],
                  call={"media": "voice", "status": "declined", "started_at": _ts(t[2]), "duration_seconds": 0})
        self.item(conv, ramon, [carol], "message", t[3], text="¡Gracias! 🙏", reply_to=m2["id"])

    def frank_priya(self) -> None:
        """Frank is mapped only by the mapping file, through an alias address of his mailbox."""
        conv = self.conv("dm-frank-priya", "direct")
        frank, priya = self.part("frank", "+1 555 123 0006"), self.part("priya", "0044 7700 900456")
        t = self.times(11.0, 14.0, 3)
        invoice = self.file(minimal_pdf(f"Invoice INV-{2207 + self.copy}", ["Fabrikam consulting, November", "Total: 4,250.00 GBP"]),
                            file_name="..\\..\\Downloads/INV-2207\t.pdf", content_type="application/pdf", kind="document")
        self.item(conv, priya, [frank], "message", t[0], text="Frank, the invoice is attached.", attachments=[invoice])
        m2 = self.item(conv, frank, [priya], "message", t[1], text="Received, thanks.")
        self.item(conv, priya, [frank], "reaction", t[2], target_id=m2["id"], emoji="❤️")

    def erin_klaus(self) -> None:
        """Erin is disabled and has no email property: nobody gets a copy (unmapped)."""
        conv = self.conv("dm-erin-klaus", "direct")
        erin, klaus = self.part("erin"), self.part("klaus")
        t = self.times(8.0, 9.0, 2)
        self.item(conv, klaus, [erin], "message", t[0], text="Erin, are you still handling our account?", sent_offset=1)
        self.item(conv, erin, [klaus], "message", t[1], text="Not after Friday — Alice takes over.")

    def grace_sam(self) -> None:
        """Grace has no mailbox (mapping file and email property both name it): unmapped."""
        conv = self.conv("dm-grace-sam", "direct")
        grace, sam = self.part("grace"), self.part("sam")
        t = self.times(13.0, 14.0, 2)
        self.item(conv, sam, [grace], "message", t[0], text="Hey, got a minute?")
        self.item(conv, grace, [sam], "call", t[1],
                  call={"media": "video", "status": "answered", "started_at": _ts(t[1]), "duration_seconds": 95})

    def ops_group(self) -> None:
        """Alice is in this group with both her numbers: she still gets one copy."""
        conv = self.conv("grp-ops", "group", "Ops 🚚")
        alice_work, alice_personal = self.part("alice"), self.part("alice", "0044 7700 900124", number=1)
        bob, grace, erin, ivan = self.part("bob"), self.part("grace"), self.part("erin"), self.part("ivan")
        members = [alice_work, alice_personal, bob, grace, erin, ivan]

        def others(who, pool=members):
            return [p for p in pool if p is not who]

        t = self.times(12.0, 18.0, 5)
        self.item(conv, alice_personal, others(alice_personal), "message", t[0],
                  text="Posting from my personal phone, the work one is charging.")
        self.item(conv, ivan, others(ivan), "message", t[1], text="Forklift 3 is down again.")
        self.item(conv, erin, others(erin), "event", t[2], event={"kind": "participant_left", "detail": "Erin Walsh left"})
        after = [p for p in members if p is not erin]
        self.item(conv, grace, others(grace, after), "message", t[3], text="I'll call the vendor.")
        self.item(conv, bob, others(bob, after), "call", t[4], call_parts=[alice_work, ivan],
                  call={"media": "video", "status": "answered", "started_at": _ts(t[4]), "duration_seconds": 312})


def generate_day(day: date, *, seed: int = 7, scale: int = 1) -> SampleDay:
    """A captured day: ~52 items per unit of ``scale``, captured_at spread over ``day`` (UTC)."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    items: list[dict] = []
    attachments: dict[str, bytes] = {}
    who: dict[str, list] = {}
    rejects: list[str] = []
    for copy in range(scale):
        builder = _Builder(day, random.Random(f"{seed}:{day.isoformat()}:{copy}"), copy)
        builder.build()
        items.extend(builder.items)
        attachments.update(builder.attachments)
        who.update(builder.who)
        rejects.extend(builder.rejects)
    items.sort(key=lambda i: (datetime.fromisoformat(i["captured_at"].replace("Z", "+00:00")), i["id"]))
    expected: dict[str, set[str]] = {}
    email_only: dict[str, set[str]] = {}
    outcomes: dict[str, str] = {}
    for item in items:
        item_id = item["id"]
        if item_id in rejects:
            expected[item_id], email_only[item_id], outcomes[item_id] = set(), set(), "rejected"
            continue
        full = {m for person, key, email in who[item_id] if (m := _mailbox_for(PEOPLE[person], key, email, use_file=True))}
        bare = {m for person, key, email in who[item_id] if (m := _mailbox_for(PEOPLE[person], key, email, use_file=False))}
        expected[item_id], email_only[item_id] = full, bare
        outcomes[item_id] = "archived" if full else "unmapped"
    people = [{"key": p.key, "name": p.name, "phones": list(p.phones), "user_id": p.user_id, "email_property": p.email,
               "employee": p.employee, "mapping_rows": [{"written": w, "mailbox": m} for _k, w, m in p.rows],
               "mailbox": _mailbox_for(p, (p.phones or (p.user_id,))[0], p.email, use_file=True)}
              for p in PEOPLE.values()]
    return SampleDay(day=day, items=items, attachments=attachments, users=[dict(u, aliases=list(u["aliases"])) for u in USERS],
                     mapping_csv=mapping_csv(), expected=expected, expected_outcomes=outcomes,
                     expected_email_only=email_only, people=people, reject_ids=rejects)


def write_day(sample: SampleDay, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "items.ndjson", "w", encoding="utf-8") as fh:
        for item in sample.items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    (out / "attachments").mkdir(exist_ok=True)
    for att_id, data in sample.attachments.items():
        (out / "attachments" / att_id).write_bytes(data)
    (out / "mapping.csv").write_bytes(sample.mapping_csv)
    (out / "users.json").write_text(json.dumps(sample.users, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps(sample.expected_json(), indent=2, ensure_ascii=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sample_day", description="Write a generated captured day to disk.")
    parser.add_argument("--out", required=True, help="directory to write items.ndjson, attachments/, mapping.csv, expected.json")
    parser.add_argument("--day", type=date.fromisoformat, default=None, help="capture day (default: yesterday, UTC)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    day = args.day or (datetime.now(timezone.utc).date() - timedelta(days=1))
    sample = generate_day(day, seed=args.seed, scale=args.scale)
    write_day(sample, Path(args.out))
    counts = {o: sum(1 for v in sample.expected_outcomes.values() if v == o) for o in ("archived", "unmapped", "rejected")}
    print(f"{len(sample.items)} items ({counts}), {len(sample.attachments)} attachments, "
          f"{sum(len(v) for v in sample.expected.values())} copies expected -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
