"""Which embedded files are shown inline as pictures, and at what size.

Outlook for Windows (Word's engine) ignores CSS ``max-width`` and draws a picture at its natural
size unless the ``<img>`` has ``width``/``height`` attributes: a phone photo would be 4,000 px wide.
So the size is read from the file's own header (PNG, GIF, JPEG, WebP: a few bytes, no decoding)
and scaled to ``MAX_WIDTH``. Only raster types every reviewer's client can draw are inline; the
rest (SVG, TIFF, HEIC...) are file cards. A file whose size cannot be read gets ``width`` only.
"""

from __future__ import annotations

import struct

INLINE_SUBTYPES = frozenset({"jpeg", "png", "gif", "webp", "bmp"})
MAX_WIDTH = 400
STICKER_WIDTH = 160


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, JPEG or WebP header, else None. Never raises."""
    try:
        return _dimensions(data)
    except (struct.error, IndexError, ValueError):
        return None


def _dimensions(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8X":
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        return None
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return w, h
            i += 2 + length
    return None


def display_size(data: bytes | None, *, sticker: bool = False) -> tuple[int, int | None]:
    """The width (and height, when known) to draw a picture at: natural size, at most the bubble's width."""
    limit = STICKER_WIDTH if sticker else MAX_WIDTH
    size = dimensions(data) if data else None
    if not size or size[0] <= 0 or size[1] <= 0:
        return limit if not sticker else STICKER_WIDTH, None
    w, h = size
    if w <= limit:
        return w, h
    return limit, max(1, round(h * limit / w))
