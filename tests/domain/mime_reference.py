"""The record's MIME tree built with the stdlib ``email`` package: the oracle ``mime_writer`` is held to.

``shared.domain.record.mime.assemble`` writes the record's bytes directly (``mime_writer``, about
ten times faster); this is the same tree built with ``EmailMessage`` and flattened by the
generator, and stays the definition of the format: tests/domain/test_record_writer.py renders
items both ways and the bytes must be equal. Production never builds a record this way.
"""

from __future__ import annotations

from email.message import EmailMessage, MIMEPart

from shared.domain.record.addresses import ResolvedAddress
from shared.domain.record.attachments import PlannedFile, inline_content_id
from shared.domain.record.headers import POLICY, fold_addresses, folded_x, x_value
from shared.domain.record.ids import boundary
from shared.domain.record.mime import omitted_name, omitted_text
from shared.domain.record.text import repair

_UTF8 = {"charset": "utf-8"}


def _utf8(text: str) -> bytes:
    return repair(text).encode("utf-8")


def file_part(planned: PlannedFile, content_id: str | None = None) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part.set_content(planned.data or b"", maintype=planned.maintype, subtype=planned.subtype, cte="base64",
                     disposition="attachment", filename=planned.file_name)
    if content_id:  # the HTML shows this picture inline with src="cid:<content_id>"
        part["Content-ID"] = f"<{content_id}>"
    _file_headers(part, planned)
    return part


def _file_headers(part: MIMEPart, planned: PlannedFile) -> None:
    att = planned.attachment
    _set(part, "X-WhatsApp-Original-Filename", x_value(att.file_name))
    _set(part, "X-WhatsApp-Attachment-Id", x_value(att.id))
    _set(part, "X-WhatsApp-Sha256", att.sha256)
    _set(part, "X-WhatsApp-Attachment-Kind", att.kind)
    _set(part, "X-WhatsApp-Declared-Content-Type", x_value(att.content_type))
    if att.caption is not None:
        _set(part, "X-WhatsApp-Caption", x_value(att.caption))


def omitted_part(planned: PlannedFile, location: str) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part.set_content(_utf8(omitted_text(planned, location)), maintype="text", subtype="plain", cte="base64",
                     disposition="attachment", filename=omitted_name(planned), params=dict(_UTF8))
    _set(part, "X-WhatsApp-Omitted", f"{planned.reason}; sha256={planned.attachment.sha256}")
    _file_headers(part, planned)
    return part


def _set(msg: MIMEPart, name: str, value: str) -> None:
    """X-WhatsApp-* values are folded here (exact round trip, fast on huge lists); the standard
    headers go through the stdlib, which validates and encodes them."""
    if name.lower().startswith("x-whatsapp-"):
        msg.set_raw(name, folded_x(name, value))
    else:
        msg[name] = value


def assemble_with_stdlib(*, item_id: str, sender: ResolvedAddress, recipients: list[ResolvedAddress],
                         headers: list[tuple[str, str]], text: str, html: str, planned: list[PlannedFile],
                         locations: list[str]) -> bytes:
    """The reference: the record built with ``EmailMessage`` and flattened by the generator.

    ``assemble`` (``mime_writer``) writes the same bytes about ten times faster; the tests prove
    the two equal on generated items, and this stays the definition of the format.
    """
    msg = EmailMessage(policy=POLICY)
    msg.set_raw("From", fold_addresses([sender]))
    if recipients:
        msg.set_raw("To", fold_addresses(recipients))
    for name, value in headers:
        _set(msg, name, value)
    msg.set_content(_utf8(text), maintype="text", subtype="plain", cte="base64", params=dict(_UTF8))
    msg.add_alternative(_utf8(html), maintype="text", subtype="html", cte="base64", params=dict(_UTF8))
    for sub in msg.iter_parts():
        del sub["MIME-Version"]
    if planned:
        msg.make_mixed()
        for n, (p, location) in enumerate(zip(planned, locations), 1):
            msg.attach(file_part(p, inline_content_id(n, p)) if p.embedded else omitted_part(p, location))
        msg.set_boundary(boundary(item_id, "mixed"))
        msg.get_payload(0).set_boundary(boundary(item_id, "alt"))
    else:
        msg.set_boundary(boundary(item_id, "alt"))
    return msg.as_bytes(policy=POLICY)


