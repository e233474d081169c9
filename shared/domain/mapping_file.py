"""The user-mapping CSV: which phone number (or WhatsApp user id) belongs to which mailbox.

An admin writes this file in a spreadsheet, so it arrives in every shape a spreadsheet can
produce: with or without a header, comma or semicolon separated, UTF-8 with a BOM or Windows-1252,
CRLF, quoted cells, trailing empty columns, blank and ``#`` comment lines. Parsing is lenient
about shape and strict about content: every row that cannot be read, and every number mapped to
two mailboxes, is reported with its line number and left out; the valid rows still apply.
Compliance depends on this file, so when two rows disagree nothing is guessed: the key is
dropped and both lines are reported.

Rules (also in the template and ``python -m shared mapping check``):

* Line numbers are physical, 1-based lines of the file; 0 means the file as a whole.
* Column 1 is a phone number or a WhatsApp user id:
  - written like a phone number (digits, an optional leading ``+``, spaces, dots, dashes,
    slashes, brackets): normalised to E.164 with the default region (``shared.domain.phones``);
    an unusable number is an error, never a user id;
  - ``uid:<id>``: a user id, taken as written (any characters but spaces);
  - otherwise a user id when it looks like one: starts with a letter, then letters, digits,
    ``.``, ``_`` or ``-``, and holds at least one digit (``US.13491208655302741918``). Anything
    else (``n/a``, ``+44 77OO 900123`` with letter O) is an error.
* Column 2 is a mailbox address (``name@domain.tld``), compared lower-case.
* Columns after the second are ignored (a warning names the first such line).
* A header is recognised only as the first non-blank, non-comment row, when its first cell is
  not a phone number or user id, its second is not an address, and it names a column
  (``phone``, ``number``, ``mobile``, ``whatsapp``, ``external``, ``id``, ``user``, ``mailbox``,
  ``mail``, ``upn``, ``address`` ...), e.g. ``External User ID,Microsoft 365 User Mailbox``.
* The delimiter is the one of ``,`` ``;`` and tab that splits the most rows into two or more
  non-empty cells (ties go to the comma); Excel's ``sep=;`` first line is honoured.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import Iterable, Literal

from shared.domain.masking import mask_number
from shared.domain.phones import UID_PREFIX, is_phone_like, normalise_phone

Severity = Literal["error", "warning"]

_DELIMITERS = (",", ";", "\t")
_HEADER_WORDS = ("phone", "number", "mobile", "cell", "tel", "telephone", "msisdn", "whatsapp", "external", "id", "uid",
                 "user", "mailbox", "mail", "email", "upn", "address", "account", "microsoft", "m365", "o365", "office",
                 "telefon", "handy", "nummer", "correo", "courriel")
_USER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{1,127}$")
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_EXCEL_SCIENTIFIC = re.compile(r"^[+-]?\d([.,]\d+)?e\+?\d+$", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEY_HELP = ("expected a phone number (e.g. +44 7700 900123, 0044 7700 900123, or national like "
             "(555) 123-0002) or a WhatsApp user id (e.g. US.13491208655302741918, or 'uid:' before any id)")


@dataclass(frozen=True)
class MappingProblem:
    """One thing wrong with the file. ``value`` is the offending cell (or row) as written."""

    line: int  # 1-based physical line; 0 = the file as a whole
    severity: Severity
    reason: str  # what is wrong and what was expected; phone numbers in it are masked
    value: str = ""
    raw: str = ""  # the whole line as read

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass
class MappingFile:
    """The usable entries of a mapping file and everything found wrong with it."""

    entries: dict[str, str] = field(default_factory=dict)  # key (E.164 or "uid:...") -> mailbox, lower-case
    problems: list[MappingProblem] = field(default_factory=list)
    rows_read: int = 0  # data rows (not blank, comment or header lines)
    header_line: int | None = None
    delimiter: str = ","
    encoding: str = "utf-8"

    def mailbox_for(self, keys: Iterable[str]) -> str | None:
        """The mailbox the file names for the first of ``keys`` it knows (keys come best first)."""
        for key in keys:
            mailbox = self.entries.get(key)
            if mailbox:
                return mailbox
        return None

    @property
    def errors(self) -> list[MappingProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[MappingProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


# --------------------------------------------------------------------------- cells
def normalise_address(text: str) -> str | None:
    """``text`` as a lower-case mailbox address, or None when it is not ``local@domain.tld``.

    Deliberately plain ASCII addresses only: that is what a Microsoft 365 mailbox's UPN or primary
    SMTP address is, and anything looser would be looked up in the directory and fail later,
    further from the line that caused it.
    """
    if not isinstance(text, str):
        return None
    value = text.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:].strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    value = value.lower()
    if not value or len(value) > 254 or not value.isascii() or value.count("@") != 1:
        return None
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    tld = labels[-1]
    if not (tld.isalpha() and len(tld) >= 2) and not tld.startswith("xn--"):
        return None
    return value


def read_key(text: str, region: str) -> tuple[str | None, str]:
    """The lookup key of a first-column cell, or (None, why not). See the module's rules."""
    value = text.strip()
    if not value:
        return None, f"the first column is empty: {_KEY_HELP}"
    if value[: len(UID_PREFIX)].lower() == UID_PREFIX:
        uid = value[len(UID_PREFIX):].strip()
        if not uid or any(ch.isspace() for ch in uid):
            return None, "'uid:' must be followed by the WhatsApp user id, without spaces"
        return UID_PREFIX + uid, ""
    if is_phone_like(value):
        e164 = normalise_phone(value, region)
        if e164 is None:
            return None, (f"'{mask_number(value)}' is not a possible phone number (wrong number of digits for its "
                          f"country, or no country code; national numbers are read in region {region}): {_KEY_HELP}")
        return e164, ""
    if _EXCEL_SCIENTIFIC.match(value):
        return None, ("the number was turned into scientific notation by a spreadsheet (like 4.47701E+11) and its "
                      "digits are lost: format the column as Text, retype the numbers and export again")
    if _USER_ID.match(value) and any(ch.isdigit() for ch in value):
        return UID_PREFIX + value, ""
    return None, f"'{mask_number(value)}' is neither a phone number nor a WhatsApp user id: {_KEY_HELP}"


# --------------------------------------------------------------------------- file
def _decode(data: bytes) -> tuple[str, str, list[MappingProblem]]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16", []
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError:
        warning = MappingProblem(0, "warning", "the file is not UTF-8; it was read as Windows-1252 (cp1252). "
                                 "Save it as 'CSV UTF-8' to be sure names and addresses are read as written")
        return data.decode("cp1252", errors="replace"), "cp1252", [warning]


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        cells = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True, strict=False), [])
    except csv.Error:
        cells = line.split(delimiter)
    cells = [c.strip().strip("\ufeff").strip() for c in cells]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _sniff(lines: list[tuple[int, str]]) -> str:
    best, best_score = ",", -1
    for delimiter in _DELIMITERS:
        score = sum(1 for _, line in lines[:50] if sum(1 for c in _cells(line, delimiter) if c) >= 2)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _looks_like_header(cells: list[str], region: str) -> bool:
    first = cells[0] if cells else ""
    second = cells[1] if len(cells) > 1 else ""
    if read_key(first, region)[0] is not None or normalise_address(second) is not None:
        return False
    words = re.findall(r"[a-z0-9]+", " ".join(cells).lower())
    return any(word in _HEADER_WORDS or word.startswith(("phone", "mail", "user", "number")) for word in words) \
        or any(w in " ".join(cells).lower() for w in ("e-mail", "365"))


def parse_mapping_csv(data: bytes, default_region: str) -> MappingFile:
    """Read a mapping file; never raises on content. Problems are collected, valid rows apply."""
    region = (default_region or "US").upper()
    result = MappingFile()
    if data.startswith(b"PK\x03\x04"):
        result.problems.append(MappingProblem(0, "error", "this is a spreadsheet workbook (.xlsx), not a CSV file: "
                                              "use File > Save As > 'CSV UTF-8 (comma delimited)' and check that"))
        return result
    text, result.encoding, decode_problems = _decode(data)
    result.problems.extend(decode_problems)
    if "\x00" in text:
        result.problems.append(MappingProblem(0, "error", "the file holds binary data (NUL bytes), not CSV text: "
                                              "export the sheet as 'CSV UTF-8'"))
        return result

    content: list[tuple[int, str]] = []
    explicit_delimiter: str | None = None
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        stripped = line.strip().strip("\ufeff").strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not content and explicit_delimiter is None and re.fullmatch(r"(?i)sep=.", stripped):
            explicit_delimiter = stripped[-1]
            continue
        content.append((number, line))
    result.delimiter = explicit_delimiter or _sniff(content)

    rows: list[tuple[int, str, str, str]] = []  # line, key, mailbox, raw
    extra_lines: list[int] = []
    for index, (number, line) in enumerate(content):
        cells = _cells(line, result.delimiter)
        if not any(cells):
            continue
        if index == 0 and _looks_like_header(cells, region):
            result.header_line = number
            continue
        result.rows_read += 1
        raw = line.strip()
        if len(cells) < 2:
            result.problems.append(MappingProblem(
                number, "error", f"missing column: expected '<phone number or user id>{result.delimiter}<mailbox address>'"
                f", found only one value", cells[0] if cells else "", raw))
            continue
        if len(cells) > 2 and any(cells[2:]):
            extra_lines.append(number)
        key, key_reason = read_key(cells[0], region)
        mailbox = normalise_address(cells[1])
        reasons = [key_reason] if key is None else []
        if mailbox is None:
            shown = cells[1] if len(cells[1]) <= 80 else cells[1][:77] + "..."
            hint = " (it holds non-ASCII characters)" if not cells[1].isascii() else ""
            reasons.append(f"'{mask_number(shown)}' in the second column is not a mailbox address{hint} "
                           "(expected name@domain, e.g. alice@contoso.com)" if cells[1] else
                           "the second column is empty: expected the mailbox address, e.g. alice@contoso.com")
        if reasons:
            value = cells[0] if key is None else cells[1]
            result.problems.append(MappingProblem(number, "error", "; ".join(reasons), value, raw))
            continue
        rows.append((number, key, mailbox, raw))

    if extra_lines:
        more = f" (and {len(extra_lines) - 1} more line(s))" if len(extra_lines) > 1 else ""
        result.problems.append(MappingProblem(extra_lines[0], "warning",
                                              f"columns after the second are ignored{more}"))

    by_key: dict[str, list[tuple[int, str, str, str]]] = {}
    for row in rows:
        by_key.setdefault(row[1], []).append(row)
    for key, group in by_key.items():
        mailboxes = sorted({mailbox for _, _, mailbox, _ in group})
        if len(mailboxes) > 1:
            where = ", ".join(f"{mailbox} (line {', '.join(str(n) for n, _, m, _ in group if m == mailbox)})"
                              for mailbox in mailboxes)
            for number, _, _mailbox, raw in group:
                result.problems.append(MappingProblem(
                    number, "error", f"conflict: {mask_number(key)} is mapped to more than one mailbox: {where}. "
                    "The key is ignored until the file names one mailbox for it", key, raw))
            continue
        result.entries[key] = mailboxes[0]
        first = group[0][0]
        for number, _, _, raw in group[1:]:
            result.problems.append(MappingProblem(
                number, "warning", f"duplicate of line {first} (same {'user id' if key.startswith(UID_PREFIX) else 'number'}"
                f", same mailbox): harmless, the row can be removed", key, raw))

    result.problems.sort(key=lambda p: (p.line, p.severity != "error"))
    return result
