"""Reading an uploaded WhatsApp export (.zip with media, or the bare .txt) safely and in streams.

Refused with a reason (``ExportRejected``): more entries, bytes, bytes per file or a higher
compression ratio than the limits allow (zip bombs), entries with ``..``, absolute paths, drive
letters or symbolic links, a zip with no chat text. Nothing is extracted to disk; the chat
text is decoded as it is read (UTF-8, UTF-8 with BOM, UTF-16 with or without BOM, else cp1252)
and can be read twice (the parser's two passes) without holding it in memory.
"""

from __future__ import annotations

import codecs
import io
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

from shared.domain.chat_export.names import chat_name_from

CHUNK = 1024 * 1024


class ExportRejected(ValueError):
    """The upload is not an export we can read safely; ``reason`` says why and what to do."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 20_000
    max_total_bytes: int = 8 * 1024**3
    max_file_bytes: int = 2 * 1024**3
    max_ratio: int = 200


class _Bounded(io.RawIOBase):
    """A stream that refuses to give more than ``limit`` bytes (a lying zip header cannot inflate further)."""

    def __init__(self, inner: BinaryIO, limit: int, what: str):
        self.inner, self.left, self.what = inner, limit, what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(min(len(buffer), self.left + 1))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ExportRejected(f"{self.what} is corrupt ({exc}); export the chat again") from None
        if len(data) > self.left:
            raise ExportRejected(f"{self.what} inflates beyond the per-file limit; not a genuine export")
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in its path"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return None


def _is_chat_text(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base == "_chat.txt" or (base.lower().endswith(".txt") and chat_name_from(base) is not None)


class ExportArchive:
    """One uploaded export. ``lines()`` may be called more than once; ``open_media`` streams a file."""

    def __init__(self, path: str | Path, limits: ZipLimits = ZipLimits(), upload_name: str | None = None):
        self.path = Path(path)
        self.upload_name = upload_name or self.path.name
        self.limits = limits
        self._zip: zipfile.ZipFile | None = None
        self._media: dict[str, zipfile.ZipInfo] = {}
        self.text_name = self.path.name
        if zipfile.is_zipfile(self.path):
            self._open_zip()
        elif self.path.stat().st_size > limits.max_file_bytes:
            raise ExportRejected(f"{self.upload_name} is larger than IMPORT_MAX_FILE_BYTES ({limits.max_file_bytes})")
        self.encoding = self._detect_encoding()

    # ------------------------------------------------------------------ zip
    def _open_zip(self) -> None:
        try:
            zf = zipfile.ZipFile(self.path)
            infos = zf.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise ExportRejected(f"{self.upload_name} is not a readable zip ({exc})") from None
        lim = self.limits
        if len(infos) > lim.max_entries:
            raise ExportRejected(f"{self.upload_name} has {len(infos)} entries; IMPORT_MAX_ENTRIES allows {lim.max_entries}")
        total = 0
        texts = []
        for info in infos:
            why = _unsafe(info)
            if why:
                raise ExportRejected(f"entry {info.filename!r} has {why}; WhatsApp never writes that. Refused as hostile")
            if info.is_dir() or info.filename.startswith("__MACOSX/") or "/__MACOSX/" in info.filename:
                continue
            if info.file_size > lim.max_file_bytes:
                raise ExportRejected(f"entry {info.filename!r} inflates to {info.file_size} bytes; "
                                     f"IMPORT_MAX_FILE_BYTES allows {lim.max_file_bytes}")
            if info.compress_size and info.file_size / info.compress_size > lim.max_ratio and info.file_size > CHUNK:
                raise ExportRejected(f"entry {info.filename!r} is compressed {info.file_size // info.compress_size}:1; "
                                     f"IMPORT_MAX_RATIO allows {lim.max_ratio}:1 (zip bomb?)")
            total += info.file_size
            if total > lim.max_total_bytes:
                raise ExportRejected(f"{self.upload_name} inflates to more than IMPORT_MAX_TOTAL_BYTES ({lim.max_total_bytes})")
            if _is_chat_text(info.filename):
                texts.append(info)
            else:
                self._media.setdefault(info.filename.rsplit("/", 1)[-1], info)
        if not texts:  # a file name in a language we do not know: the largest .txt at the top level
            loose = [i for i in self._media.values() if i.filename.lower().endswith(".txt") and "/" not in i.filename]
            if loose:
                texts = [max(loose, key=lambda i: i.file_size)]
                self._media.pop(texts[0].filename, None)
        if not texts:
            raise ExportRejected(f"{self.upload_name} holds no chat text (_chat.txt or 'WhatsApp Chat with ....txt'); "
                                 "is it a WhatsApp 'Export chat' zip?")
        texts.sort(key=lambda i: (i.filename.count("/"), i.filename))
        self._zip, self._text = zf, texts[0]
        self.text_name = texts[0].filename

    def _raw_text(self) -> BinaryIO:
        if self._zip is None:
            return open(self.path, "rb")
        return io.BufferedReader(_Bounded(self._zip.open(self._text), self.limits.max_file_bytes, self._text.filename),
                                 CHUNK)

    # ------------------------------------------------------------------ text
    def _detect_encoding(self) -> str:
        with self._raw_text() as f:
            head = f.read(4096)
            if head.startswith(codecs.BOM_UTF8):
                enc = "utf-8-sig"
            elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return "utf-16"
            elif head and head.count(b"\0") > len(head) // 4:
                return "utf-16-le" if head[1:2] == b"\0" else "utf-16-be"
            else:
                enc = "utf-8"
            decoder = codecs.getincrementaldecoder(enc)()
            try:
                decoder.decode(head)
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return "cp1252"
            return enc

    def lines(self) -> Iterator[str]:
        """The chat text's lines, each with its line end (CRLF kept: the parser uses it as a hint)."""
        errors = "replace" if self.encoding == "cp1252" else "strict"
        with self._raw_text() as f:
            text = io.TextIOWrapper(f, encoding=self.encoding, errors=errors, newline="")
            pending = ""
            for line in text:
                # newline="" splits on a lone CR too; iOS ends records with CRLF, so rejoin CR-only pieces
                if line.endswith("\r") and not line.endswith("\r\n"):
                    pending += line
                    continue
                yield pending + line
                pending = ""
            if pending:
                yield pending

    # ------------------------------------------------------------------ media
    def media_names(self) -> set[str]:
        return set(self._media)

    def open_media(self, name: str) -> BinaryIO | None:
        info = self._media.get(name)
        if info is None or self._zip is None:
            return None
        return io.BufferedReader(_Bounded(self._zip.open(info), self.limits.max_file_bytes, info.filename), CHUNK)

    def chat_name(self) -> str | None:
        return chat_name_from(self.upload_name) or chat_name_from(self.text_name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "ExportArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
