"""The chat's name from an export's file names (localised, ``_`` for spaces on some phones)."""

from __future__ import annotations

import re

_PREFIXES = re.compile(
    r"^(?:WhatsApp Chat - |WhatsApp Chat with |WhatsApp Chat mit |Chat de WhatsApp con |Discussion WhatsApp avec "
    r"|Conversa do WhatsApp com |Chat WhatsApp con |Chat WhatsApp com |WhatsApp-chat met |WhatsApp-Chat mit )",
    re.IGNORECASE)


def chat_name_from(file_name: str) -> str | None:
    """'WhatsApp Chat with Alice.txt' -> 'Alice'; None when the name says nothing."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"\.(?:zip|txt)$", "", base, flags=re.IGNORECASE)
    base = re.sub(r"\s*\(\d+\)$", "", base)  # "... (1).zip" from a second download
    spaced = base.replace("_", " ")
    m = _PREFIXES.match(spaced)
    if m:
        name = spaced[m.end():].strip()
        return name or None
    return None
