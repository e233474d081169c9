"""Write the record's MIME bytes directly: the same bytes as the stdlib reference (tests/domain/mime_reference.py).

Why: building an ``EmailMessage`` parses every header into the stdlib's header object model
(a new class per header, a parse tree, RFC 2231 parameter decoding) and the generator re-folds
each one on output; for a record of ~25 headers and 3-8 parts that was three quarters of the
render time. Here each header is written as the generator would write it:

- pre-folded X-WhatsApp-*, From and To values (``set_raw``): ``name: value`` with the value's
  lines joined by CRLF, as ``EmailPolicy._fold`` does with ``refold_source="none"``;
- standard headers: unstructured ones (Subject, Thread-Topic, References...) folded by
  ``header_fold`` (the stdlib's algorithm for the value shapes we make); Date and Message-ID in
  their fixed shapes as they are; any other value goes through the stdlib's own header object and
  folder, so the output is the same by construction (``_std``);
- MIME structure headers have fixed shapes (the boundaries have a fixed length); a file part's
  Content-Type and Content-Disposition take the stdlib path unless short, plain and quoted-safe;
- bodies: base64 in 76-character lines (57 bytes each), as ``contentmanager._encode_base64``.

``tests/domain/test_record_writer.py`` renders generated items both ways and compares the bytes;
the golden files pin the format.
"""

from __future__ import annotations

import base64
import re
from email.message import MIMEPart

from shared.domain.record.addresses import ResolvedAddress
from shared.domain.record.attachments import PlannedFile, inline_content_id
from shared.domain.record.header_fold import fold_unstructured
from shared.domain.record.headers import POLICY, fold_addresses, folded_x, x_value
from shared.domain.record.ids import boundary
from shared.domain.record.mime import omitted_name, omitted_text
from shared.domain.record.text import repair

_CRLF = "\r\n"
_MAX = POLICY.max_line_length  # 78
_DATE = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"[1-9][0-9]{3} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] \+0000")
_MSGID = re.compile(r"<[0-9a-f]{32}@whatsapp-archiver\.invalid>")
_UNSTRUCTURED = frozenset({"subject", "thread-topic", "thread-index", "in-reply-to", "references", "content-id"})
_TOKEN = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_QUOTABLE = re.compile(r"[ !#-\[\]-~]+")  # printable ASCII without '"' and '\\'
_CTE_B64 = "Content-Transfer-Encoding: base64\r\n"
_TEXT_PLAIN = "Content-Type: text/plain; charset=\"utf-8\"\r\n"
_TEXT_HTML = "Content-Type: text/html; charset=\"utf-8\"\r\n"


def _raw(name: str, value: str) -> str:
    """A pre-folded value as the generator writes a ``set_raw`` header (``EmailPolicy._fold``)."""
    return name + ": " + _CRLF.join(value.splitlines()) + _CRLF


def _stdlib(name: str, value: str) -> str:
    """``msg[name] = value`` then the generator: the stdlib's parse and fold."""
    return POLICY.header_store_parse(name, value)[1].fold(policy=POLICY)


def _std(name: str, value: str) -> str:
    """A standard (non X-) header, as the stdlib writes it."""
    key = name.lower()
    if key in _UNSTRUCTURED:
        folded = fold_unstructured(name, value)
        if folded is not None:
            return folded
    elif len(name) + 2 + len(value) <= _MAX:
        if key == "date":
            if _DATE.fullmatch(value):
                return f"{name}: {value}\r\n"
        elif key == "message-id":
            if _MSGID.fullmatch(value):
                return f"{name}: {value}\r\n"
    return _stdlib(name, value)


def _header(name: str, value: str) -> str:
    """As the stdlib reference sets them: X-WhatsApp-* values pre-folded here, the others through the stdlib."""
    if name.lower().startswith("x-whatsapp-"):
        return _raw(name, folded_x(name, value))
    return _std(name, value)


def _b64(data: bytes) -> bytes:
    """base64 in 76-character CRLF lines (57 bytes a line, as the stdlib's ``_encode_base64``)."""
    encoded = base64.b64encode(data)
    if not encoded:
        return b""
    return b"\r\n".join([encoded[i:i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def _content_type(maintype: str, subtype: str) -> str:
    value = f"{maintype}/{subtype}"
    if len(value) + 14 <= _MAX and _TOKEN.fullmatch(value):
        return f"Content-Type: {value}\r\n"
    return _stdlib("Content-Type", value)


def _disposition(file_name: str) -> str:
    """``set_content(disposition="attachment", filename=...)``: RFC 2231 and folding left to the stdlib."""
    if len(file_name) + 45 <= _MAX and _QUOTABLE.fullmatch(file_name) and "=?" not in file_name:
        return f'Content-Disposition: attachment; filename="{file_name}"\r\n'
    part = MIMEPart(policy=POLICY)
    part["Content-Disposition"] = "attachment"
    part.set_param("filename", file_name, header="Content-Disposition", replace=True)
    return part._headers[0][1].fold(policy=POLICY)  # the one header, as the generator writes it


def _file_headers(planned: PlannedFile) -> list[str]:
    att = planned.attachment
    out = [
        _raw("X-WhatsApp-Original-Filename", folded_x("X-WhatsApp-Original-Filename", x_value(att.file_name))),
        _raw("X-WhatsApp-Attachment-Id", folded_x("X-WhatsApp-Attachment-Id", x_value(att.id))),
        _raw("X-WhatsApp-Sha256", folded_x("X-WhatsApp-Sha256", att.sha256)),
        _raw("X-WhatsApp-Attachment-Kind", folded_x("X-WhatsApp-Attachment-Kind", att.kind)),
        _raw("X-WhatsApp-Declared-Content-Type", folded_x("X-WhatsApp-Declared-Content-Type", x_value(att.content_type))),
    ]
    if att.caption is not None:
        out.append(_raw("X-WhatsApp-Caption", folded_x("X-WhatsApp-Caption", x_value(att.caption))))
    return out


def _file_part(planned: PlannedFile, content_id: str | None) -> bytes:
    head = [_content_type(planned.maintype, planned.subtype), _CTE_B64, _disposition(planned.file_name)]
    if content_id:
        head.append(_std("Content-ID", f"<{content_id}>"))
    head += _file_headers(planned)
    head.append(_CRLF)
    return "".join(head).encode("ascii", "surrogateescape") + _b64(planned.data or b"")


def _omitted_part(planned: PlannedFile, location: str) -> bytes:
    head = [_CTE_B64, _disposition(omitted_name(planned)), _TEXT_PLAIN,
            _raw("X-WhatsApp-Omitted", folded_x("X-WhatsApp-Omitted",
                                                f"{planned.reason}; sha256={planned.attachment.sha256}"))]
    head += _file_headers(planned)
    head.append(_CRLF)
    data = repair(omitted_text(planned, location)).encode("utf-8")
    return "".join(head).encode("ascii", "surrogateescape") + _b64(data)


def _multipart(bound: str, parts: list[bytes]) -> bytes:
    """The generator's multipart body: no preamble or epilogue."""
    delimiter = f"\r\n--{bound}\r\n".encode("ascii")
    return (f"--{bound}\r\n".encode("ascii") + delimiter.join(parts) + f"\r\n--{bound}--\r\n".encode("ascii"))


def write_record(*, item_id: str, sender: ResolvedAddress, recipients: list[ResolvedAddress],
                 headers: list[tuple[str, str]], text: str, html: str, planned: list[PlannedFile],
                 locations: list[str]) -> bytes:
    top = [_raw("From", fold_addresses([sender]))]
    if recipients:
        top.append(_raw("To", fold_addresses(recipients)))
    top += [_header(name, value) for name, value in headers]
    top.append("MIME-Version: 1.0\r\n")
    alt = boundary(item_id, "alt")
    alternative = _multipart(alt, [
        (_CTE_B64 + _TEXT_PLAIN + _CRLF).encode("ascii") + _b64(repair(text).encode("utf-8")),
        (_CTE_B64 + _TEXT_HTML + _CRLF).encode("ascii") + _b64(repair(html).encode("utf-8")),
    ])
    alt_type = f'Content-Type: multipart/alternative;\r\n boundary="{alt}"\r\n'
    if not planned:
        top.append(alt_type)
        top.append(_CRLF)
        return "".join(top).encode("ascii", "surrogateescape") + alternative
    mixed = boundary(item_id, "mixed")
    top.append(f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n')
    top.append(_CRLF)
    parts = [(alt_type + _CRLF).encode("ascii") + alternative]
    for n, (p, location) in enumerate(zip(planned, locations), 1):
        parts.append(_file_part(p, inline_content_id(n, p)) if p.embedded else _omitted_part(p, location))
    return "".join(top).encode("ascii", "surrogateescape") + _multipart(mixed, parts)
