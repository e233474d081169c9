"""A long, realistic-shaped WhatsApp export (written from the documented shapes) for tests and the benchmark."""

from __future__ import annotations

import random
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

_ANDROID = ["{t:%d/%m/%Y, %H:%M} - {a}: {b}"]
_IOS = ["[{t:%d/%m/%Y, %H:%M:%S}] {a}: {b}"]
_AUTHORS = ["Alice Smith", "+44 7700 900123", "Bob: Jr", "~ Kim", "Zoë 😀", "Dr. Ana-Lena"]
_BODIES = ["ok", "see you at 10: room 4", "<Media omitted>", "IMG-20230101-WA{n:04d}.jpg (file attached)",
           "This message was deleted", "Missed voice call", "location: https://maps.google.com/?q=51.5,-0.12",
           "first line\nsecond line: more\n12/12/2012 looks like a date", "POLL:\nLunch?\nOPTION: Yes (2 votes)",
           "Grüße aus München, ça va? 👍", "fixed <This message was edited>"]


def export_text(messages: int, *, platform: str = "android", seed: int = 3) -> str:
    rnd = random.Random(seed)
    fmt = (_ANDROID if platform == "android" else _IOS)[0]
    t = datetime(2021, 1, 1, 8, 0)
    lines = ["01/01/2021, 08:00 - Messages and calls are end-to-end encrypted."]
    for n in range(messages):
        t += timedelta(seconds=rnd.choice([0, 20, 60, 600, 3600]))
        lines.append(fmt.format(t=t, a=rnd.choice(_AUTHORS), b=rnd.choice(_BODIES).format(n=n)))
    eol = "\n" if platform == "android" else "\r\n"
    return eol.join(lines) + eol


def write_export_zip(path: Path, messages: int, *, platform: str = "android") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        name = "_chat.txt" if platform == "ios" else "WhatsApp Chat with Sample.txt"
        zf.writestr(name, export_text(messages, platform=platform).encode("utf-8"))
    return path
