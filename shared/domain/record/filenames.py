"""Safe attachment file names: what Outlook shows and what lands on a reviewer's disk when saved.

The feed's ``file_name`` is whatever the sender's phone called the file: it can hold path
separators (``../../x``), control characters, bidi overrides that disguise an extension
(``invoice\u202efdp.exe``), Windows-reserved names, or nothing. The safe name is the last path
component with all of that removed, bounded to ``MAX_NAME`` characters with its extension kept,
never empty. The original name is kept, exactly, in the part's X-WhatsApp-Original-Filename.
"""

from __future__ import annotations

import mimetypes
import re

from shared.domain.record.text import BIDI_CONTROLS, is_control, repair

MAX_NAME = 150
_MAX_EXT = 16
_WINDOWS_FORBIDDEN = set('<>:"|?*')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_EXT = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9_+-]{0,%d}$" % (_MAX_EXT - 2))
_KIND_WORD = {"image": "photo", "video": "video", "audio": "audio", "voice": "voice-note",
              "document": "document", "sticker": "sticker", "other": "file"}
_FALLBACK_EXT = {"voice": ".ogg", "sticker": ".webp"}


def _guess_ext(content_type: str, kind: str) -> str:
    ext = mimetypes.guess_extension(content_type, strict=False) if content_type else None
    return ext or _FALLBACK_EXT.get(kind, ".bin")


def safe_file_name(file_name: str | None, *, content_type: str, kind: str, sha256: str) -> str:
    """A file name with no path, no control or bidi characters, at most MAX_NAME chars, never empty."""
    text = repair(file_name or "")
    base = re.split(r"[/\\]", text)[-1]
    chars = []
    for ch in base:
        if is_control(ch) or ch in BIDI_CONTROLS:
            continue
        chars.append("_" if ch in _WINDOWS_FORBIDDEN else (" " if ch.isspace() else ch))
    name = re.sub(r" {2,}", " ", "".join(chars)).strip(" .")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not _EXT.match("." + ext):
        stem, ext = name, ""
    else:
        ext = "." + ext
    if not stem.strip(" ._-"):
        stem = f"{_KIND_WORD.get(kind, 'file')}-{sha256[:12]}"
        ext = ext or _guess_ext(content_type, kind)
    stem = stem[: MAX_NAME - len(ext)].rstrip(" .")
    return stem + ext
