"""render_record: one feed item in, one RFC 5322 record out. Pure: the only input is the item,
the participant-to-mailbox function, the attachment bytes and the options.

Never raises on a valid ``Item`` whatever its content (hostile strings, 10,000 recipients, empty
fields): a record that cannot be archived is a compliance gap, so every oddity is rendered and,
where it had to be changed, said so in the record. Exceptions from the AttachmentSource are the
one exception: they mean "try again later", not "the file is missing".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from pydantic import ValidationError

from shared.domain.items import Attachment, Item, Participant
from shared.domain.record.addresses import resolve
from shared.domain.record.attachments import PART_OVERHEAD, OmittedAttachment, PlannedFile, plan_files
from shared.domain.record.body_html import render_html
from shared.domain.record.body_text import render_text
from shared.domain.record.chat_html import bubble_row, panel
from shared.domain.record.headers import human, record_headers
from shared.domain.record.ids import message_id_for
from shared.domain.record.labels import item_class_for
from shared.domain.record.mime import assemble
from shared.domain.record.options import AttachmentSource, NoAttachments, RenderOptions
from shared.domain.record.subject import subject as make_subject, thread_topic
from shared.domain.record.text import has_surrogates, repair
from shared.domain.record.times import zone
from shared.domain.record.view import build_view, file_row

_MAX_ATTEMPTS = 8  # size re-checks; each drops the largest embedded file


@dataclass(frozen=True)
class Record:
    """A rendered record. ``eml`` is what gets archived; the rest describes it for the pipeline."""

    eml: bytes = field(repr=False)  # never in a repr: records hold message content, logs must not
    item_class: str
    message_id: str
    subject: str = field(repr=False)
    partial: bool
    embedded: tuple[str, ...]  # sha256 of each embedded file, in order
    omitted: tuple[OmittedAttachment, ...]
    repaired_fields: tuple[str, ...]  # fields whose lone surrogates were replaced by U+FFFD
    html: str = field(repr=False)  # the text/html body alone (CLI --html, previews)
    text: str = field(repr=False)  # the text/plain body alone

    @property
    def size(self) -> int:
        return len(self.eml)


def _repair_tree(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, str):
        if has_surrogates(value):
            found.append(path or "item")
            return repair(value)
        return value
    if isinstance(value, dict):
        return {k: _repair_tree(v, f"{path}.{k}" if path else str(k), found) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair_tree(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def repair_item(item: Item) -> tuple[Item, list[str]]:
    """The item with every lone surrogate replaced by U+FFFD, and where that happened."""
    found: list[str] = []
    data = _repair_tree(item.model_dump(mode="python"), "", found)
    if not found:
        return item, []
    try:
        return Item.model_validate(data), found
    except ValidationError:  # cannot happen for a valid item (repair keeps lengths); keep the original
        return item, found


Built = TypeVar("Built", bound=tuple)


def fit(files: list[Attachment], source: AttachmentSource, max_bytes: int,
        build: Callable[[list[PlannedFile]], Built]) -> tuple[list[PlannedFile], Built]:
    """Plan ``files`` so that ``build(planned)[0]`` (the .eml) stays within ``max_bytes``.

    The size of everything but the files' bytes first, then the files in order within what is
    left; if the built record is still too large, the largest embedded file is dropped, and again.
    """
    if files:
        skeleton = [PlannedFile(f, "", "application", "octet-stream", None, "too-large") for f in files]
        base = len(build(skeleton)[0]) + PART_OVERHEAD * len(files)
        planned = plan_files(files, source, budget=max_bytes - base)
    else:
        planned = []
    built = build(planned)
    for _ in range(_MAX_ATTEMPTS):
        embedded = [p for p in planned if p.embedded]
        if len(built[0]) <= max_bytes or not embedded:
            break
        largest = max(embedded, key=lambda p: len(p.data or b""))
        planned = [PlannedFile(p.attachment, p.file_name, p.maintype, p.subtype, None, "too-large")
                   if p is largest else p for p in planned]
        built = build(planned)
    return planned, built


def repaired_context(context: Mapping[str, Item] | None) -> dict[str, Item]:
    """Quoted originals, repaired like the item (they are shown, never the subject of the record)."""
    return {key: repair_item(value)[0] for key, value in sorted((context or {}).items())}


def render_record(item: Item, *, mailbox_of: Callable[[Participant], str | None],
                  attachments: AttachmentSource | None = None, options: RenderOptions | None = None,
                  context: Mapping[str, Item] | None = None) -> Record:
    """Render ``item`` as an RFC 5322 record (see the package docstring for the format).

    ``context``: already-archived items by id (the message this one replies to, edits, deletes or
    reacts to), quoted in the record; only those of the same conversation are used. The same item
    with the same context gives the same bytes.
    """
    options = options or RenderOptions()
    source = attachments or NoAttachments()
    original = item
    item, repaired = repair_item(item)
    quoted = repaired_context(context)
    region = options.default_region
    sender = resolve(original.sender, mailbox_of, region)
    recipients = [resolve(p, mailbox_of, region) for p in original.recipients]
    call_people = [resolve(p, mailbox_of, region) for p in (original.call.participants or [])] if original.call else []
    display_zone = zone(options.display_timezone)
    subject = human(make_subject(item), 200)
    topic = human(thread_topic(item), 200)
    item_class = item_class_for(item.type)
    files = item.all_attachments

    def build(planned: list[PlannedFile]) -> tuple[bytes, str, str]:
        locations = [options.attachment_location(p.attachment) for p in planned]
        recording = item.call.recording if item.call is not None else None
        roles = ["call recording" if recording is not None and p.attachment is recording else "attachment"
                 for p in planned]
        rows = [file_row(n, p, loc, role) for n, (p, loc, role) in enumerate(zip(planned, locations, roles), 1)]
        view = build_view(item, sender=sender, recipients=recipients, call_people=call_people, files=rows,
                          region=region, display_zone=display_zone, repaired=repaired, context=quoted)
        chat = panel([bubble_row(item, rows, quoted, region, display_zone)])
        text, html = render_text(view), render_html(view, subject, chat)
        headers = record_headers(item, original_item_id=original.id, original_target_id=original.target_id,
                                 original_reply_to=original.reply_to, original_conversation_id=original.conversation.id,
                                 subject=subject, topic=topic, item_class=item_class, planned=planned,
                                 repaired=repaired, region=region)
        eml = assemble(item_id=original.id, sender=sender, recipients=recipients, headers=headers, text=text,
                       html=html, planned=planned, locations=locations)
        return eml, text, html

    planned, (eml, text, html) = fit(files, source, options.max_item_bytes, build)
    omitted = tuple(OmittedAttachment(p.attachment, p.reason or "unavailable", options.attachment_location(p.attachment))
                    for p in planned if not p.embedded)
    return Record(eml=eml, item_class=item_class, message_id=message_id_for(original.id), subject=subject,
                  partial=bool(omitted), embedded=tuple(p.attachment.sha256 for p in planned if p.embedded),
                  omitted=omitted, repaired_fields=tuple(repaired), html=html, text=text)

