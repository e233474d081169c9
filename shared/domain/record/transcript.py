"""render_transcript: one conversation's items of one day in, one RFC 5322 record out (transcript mode).

Pure and deterministic like ``render_record`` (same items, same bytes, whatever order they are
given in), and built from the same parts, so an item reads the same in a transcript as in its own
record:

- Items in order of ``sent_at`` (UTC), then ``id``. Each is one numbered entry whose content is
  exactly the per-item view (``view.build_view`` rendered by ``body_text.text_block`` and
  ``body_html.html_block``), plus one fact, "In transcript", that links an edit, deletion,
  reaction or reply to its target's entry (``#item-<n>`` in HTML) when the target is in the same
  transcript, or says it is not (an earlier day's record). Deletions and edits are therefore
  shown inline where they happened, with the deleted or new text, and linked by item id.
- Files: every file of every item, in item order, numbered across the transcript, embedded
  under the same rules as a per-item record (sha256-verified bytes only, the whole record within
  ``max_item_bytes``, else named in a text part and the record is *partial*; ``render.fit``).
- From: the conversation itself, ``chat.<hash of the conversation id>@whatsapp.invalid``, named
  "WhatsApp: <chat>". A transcript has many authors; attributing it to its first sender would make
  a "from:" search find words that person never wrote. Each entry names its sender, and every
  participant of the day is in To (their mailbox when mapped, else their ``whatsapp.invalid``
  address), so a participant search finds the transcript.
- Date: the last item's ``sent_at``: when the day's conversation, as archived, ended.
- Subject: ``WhatsApp transcript: <chat> — <day> (<n> items)``.
- Message-ID: ``<transcript.<sha256(conversation id, day, sorted item ids)[:32]>@whatsapp-archiver.invalid>``;
  In-Reply-To/References the conversation's root id and Thread-Index the conversation's, so
  transcripts and per-item records of a chat thread together.
- Item class ``IPM.ExternalData.WhatsAppArchiver.Transcript``. X-WhatsApp-Transcript-Day,
  X-WhatsApp-Conversation-*, X-WhatsApp-Item-Count, one X-WhatsApp-Item-Id per item in order,
  X-WhatsApp-Participants, X-WhatsApp-First-Sent-At / Last-Sent-At, X-WhatsApp-Attachment per file
  (as per-item records), X-WhatsApp-Partial, X-WhatsApp-Repaired, X-WhatsApp-Renderer.

``transcript_archive_id`` is the id the pipeline files the transcript under (its dedupe key in
the mailbox and the ledger): a plain, storage-safe string derived from the same three inputs.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from datetime import date, timezone
from email.utils import format_datetime
from typing import Callable

from shared.domain.items import Conversation, Item, Participant
from shared.domain.record.addresses import RESERVED_DOMAIN, ResolvedAddress, participant_key, resolve
from shared.domain.record.attachments import OmittedAttachment, PlannedFile
from shared.domain.record.body_html import BODY, HEAD, esc, fact_table, html_block
from shared.domain.record.chat_html import annotation, bubble_row, day_header, panel
from shared.domain.record.body_text import text_block
from shared.domain.record.headers import attachment_x, human, key_list, x_value
from shared.domain.record.ids import ID_DOMAIN, conversation_root_id, thread_index
from shared.domain.record.labels import ITEM_CLASS_PREFIX, chat_label
from shared.domain.record.mime import assemble
from shared.domain.record.options import AttachmentSource, NoAttachments, RenderOptions
from shared.domain.record.render import Record, fit, repair_item
from shared.domain.record.text import one_line
from shared.domain.record.times import both, utc_text, zone
from shared.domain.record.view import Fact, build_view, file_row, participant_text, repair_and_partial_notes

TRANSCRIPT_CLASS = f"{ITEM_CLASS_PREFIX}.Transcript"
RENDERER = "whatsapp-archiver transcript/2"  # 2: the day as a chat above the entries
TITLE = "WhatsApp transcript"


def _digest(*parts: str) -> str:
    data = b"\0".join(p.encode("utf-8", "surrogatepass") for p in parts)
    return hashlib.sha256(data).hexdigest()


def transcript_message_id(conversation_id: str, day: str, item_ids: list[str]) -> str:
    return f"<transcript.{_digest('transcript', conversation_id, day, *sorted(item_ids))[:32]}@{ID_DOMAIN}>"


def transcript_archive_id(conversation_id: str, day: str, item_ids: list[str]) -> str:
    """``transcript.<day>.<conversation hash>.<item set hash>``: the same items give the same id, a
    different set (another mailbox's share, or items that arrived after the day was built) another."""
    conv = _digest("conversation", conversation_id)[:16]
    return f"transcript.{day}.{conv}.{_digest('items', *sorted(item_ids))[:16]}"


def order_items(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (i.sent_at.astimezone(timezone.utc), i.id))


def conversation_address(conversation: Conversation, label: str) -> ResolvedAddress:
    name = one_line(f"WhatsApp: {label}", 120)
    return ResolvedAddress(name, f"chat.{_digest('chat', conversation.id)[:20]}", RESERVED_DOMAIN, mapped=False)


def _link(label: str, target_id: str, position: dict[str, int], times: dict[str, str]) -> Fact:
    n = position.get(target_id)
    if n is None:
        return Fact("In transcript", f"{label} item id {target_id}: not in this transcript (an earlier record)")
    return Fact("In transcript", f"{label} entry #{n} (item id {target_id}, sent {times[target_id]})", f"#item-{n}")


def chat_view(day: str, items: list[Item], rows: list[list], position: dict[str, int], region: str,
              display_zone) -> str:
    """The day as the chat showed it: a day header, then each item as a bubble (outbound right, inbound
    left), group events centred; an edit, deletion or reaction whose message is in the transcript is
    shown right under that message, else as its own bubble quoting what it can. Each links to its entry."""
    by_id = {i.id: i for i in items}
    below: dict[str, list[str]] = {}
    for n, item in enumerate(items, 1):
        if item.type in ("edit", "deletion", "reaction") and item.target_id in position and item.target_id != item.id:
            below.setdefault(item.target_id, []).append(annotation(item, by_id, region, display_zone, link=f"#item-{n}"))
    links = {i: f"#item-{n}" for i, n in position.items()}
    try:
        header = date.fromisoformat(day).strftime("%A, %d %B %Y")
    except ValueError:
        header = day
    out = [day_header(header)]
    for n, (item, files) in enumerate(zip(items, rows), 1):
        if item.type in ("edit", "deletion", "reaction") and item.target_id in position and item.target_id != item.id:
            if not files:
                continue  # shown under its target
        out.append(bubble_row(item, files, by_id, region, display_zone, with_date=False, links=links,
                              below=below.get(item.id, ()), link=f"#item-{n}"))
    return panel(out)


def render_transcript(conversation: Conversation, day: str, items: list[Item], *,
                      mailbox_of: Callable[[Participant], str | None], attachments: AttachmentSource | None = None,
                      options: RenderOptions | None = None) -> Record:
    """The transcript of ``items`` (one conversation, one capture day) as one record."""
    if not items:
        raise ValueError("a transcript needs at least one item")
    options = options or RenderOptions()
    source = attachments or NoAttachments()
    region = options.default_region
    display_zone = zone(options.display_timezone)
    originals = order_items(items)
    ids = [i.id for i in originals]
    entries: list[tuple[Item, Item, list[str]]] = []  # (original, repaired, repaired fields)
    repaired_all: list[str] = []
    for n, original in enumerate(originals, 1):
        fixed, found = repair_item(original)
        entries.append((original, fixed, found))
        repaired_all += [f"entry #{n} ({path})" for path in found]
    position = {i: n for n, i in enumerate(ids, 1)}
    sent = {i.id: utc_text(i.sent_at) for i in originals}

    label = chat_label(entries[-1][1].model_copy(update={"conversation": conversation}), 80)
    sender = conversation_address(conversation, label)
    people: dict[str, tuple[Participant, ResolvedAddress]] = {}
    resolved: list[tuple[ResolvedAddress, list[ResolvedAddress], list[ResolvedAddress]]] = []
    for original, _fixed, _found in entries:
        who = resolve(original.sender, mailbox_of, region)
        to = [resolve(p, mailbox_of, region) for p in original.recipients]
        calls = [resolve(p, mailbox_of, region) for p in (original.call.participants or [])] if original.call else []
        resolved.append((who, to, calls))
        for p, r in zip(original.participants, [who, *to, *calls]):
            people.setdefault(r.addr_spec.lower(), (p, r))
    recipients = [r for _p, r in people.values()]
    keys = list(dict.fromkeys(participant_key(p, region) for p, _r in people.values()))
    counts = Counter(i.type for i in originals)
    n_items = len(originals)
    subject = human(f"WhatsApp transcript: {label} — {day} ({n_items} item{'s' if n_items != 1 else ''})", 200)
    files = [(n, f) for n, (_o, fixed, _f) in enumerate(entries) for f in fixed.all_attachments]

    def build(planned: list[PlannedFile]) -> tuple[bytes, str, str]:
        locations = [options.attachment_location(p.attachment) for p in planned]
        text_out: list[str] = []
        html_out: list[str] = []
        cursor = 0
        all_rows: list[list] = []
        for n, ((original, fixed, found), (who, to, calls)) in enumerate(zip(entries, resolved), 1):
            mine = [i for i, (owner, _f) in enumerate(files) if owner == n - 1]
            recording = fixed.call.recording if fixed.call is not None else None
            rows = [file_row(cursor + k, planned[i], locations[i],
                             "call recording" if recording is not None and planned[i].attachment is recording else "attachment")
                    for k, i in enumerate(mine, 1)]
            all_rows.append(rows)
            cursor += len(mine)
            view = build_view(fixed, sender=who, recipients=to, call_people=calls, files=rows, region=region,
                              display_zone=display_zone, repaired=found)
            extra = []
            if original.target_id is not None:
                extra.append(_link({"edit": "edits", "deletion": "deletes", "reaction": "reacts to"}.get(original.type, "refers to"),
                                   original.target_id, position, sent))
            if original.reply_to is not None:
                extra.append(_link("replies to", original.reply_to, position, sent))
            blocks = view.blocks
            if original.type == "edit" and original.target_id is not None and original.original_text is None:
                # the per-item note points at the target's own record; in transcript mode that is an entry
                n_target = position.get(original.target_id)
                where = (f"entry #{n_target} of this transcript" if n_target is not None
                         else f"an earlier record (item id {original.target_id})")
                blocks = [replace(b, note=f"An edit carries only the new text; the original is {where}.")
                          if b.label == "Original text" and not b.text else b for b in blocks]
            view = replace(view, facts=view.facts + extra, blocks=blocks)
            heading = f"#{n} of {n_items} · {both(original.sent_at, display_zone)}"
            text_out += ["", "#" * 72, heading, ""] + text_block(view)
            html_out += [f'<div id="item-{n}" style="border-top:2px solid #25d366;margin-top:20px;padding-top:8px;">',
                         f'<p style="color:#555;margin:0 0 4px 0;">{esc(heading)}</p>'] + html_block(view) + ["</div>"]
        chat = chat_view(day, [fixed for _o, fixed, _f in entries], all_rows, position, region, display_zone)

        facts = [Fact("Chat", f"{label} ({conversation.kind} chat, conversation id {conversation.id})"
                      + (f"; title: {conversation.title}" if conversation.title is not None else "")),
                 Fact("Day", f"{day} (capture day, UTC)"),
                 Fact("Items", f"{n_items}: " + ", ".join(f"{counts[t]} {t}" for t in sorted(counts))),
                 Fact("First sent", both(originals[0].sent_at, display_zone)),
                 Fact("Last sent", both(originals[-1].sent_at, display_zone)),
                 Fact("Item ids", ", ".join(ids))]
        notes = repair_and_partial_notes(repaired_all, planned, what="transcript", named="named in its entry")
        people_facts = [Fact(f"Participant {k}", participant_text(p, r, region))
                        for k, (p, r) in enumerate(people.values(), 1)]
        headline = f"{label}: {n_items} item{'s' if n_items != 1 else ''} on {day}, in the order they were sent."

        text = "\n".join([TITLE, "=" * len(TITLE), headline, ""] + [f"NOTE: {x}" for x in notes] + ([""] if notes else [])
                         + [f"{(f.label + ':').ljust(18)}{f.value}" for f in facts]
                         + ["", "People", "------"] + [f"{(f.label + ':').ljust(18)}{f.value}" for f in people_facts]
                         + text_out + [""])
        html = "\n".join(
            [HEAD, f"<title>{esc(subject)}</title></head>", BODY,
             f'<h1 style="margin:0 0 4px 0;font-size:20px;">{esc(TITLE)}</h1>', f'<p style="margin:0 0 12px 0;">{esc(headline)}</p>']
            + [f'<p style="color:#a00;border:1px solid #a00;padding:4px;"><b>Note:</b> {esc(x)}</p>' for x in notes]
            + [chat, '<h2 style="margin:20px 0 4px 0;font-size:18px;border-bottom:1px solid #d1d7db;">Evidence</h2>',
               fact_table(facts), '<h3 style="margin:16px 0 4px 0;">People</h3>', fact_table(people_facts)]
            + html_out + ["</body></html>"]) + "\n"
        headers = _headers(conversation, day, originals, entries, subject=subject, label=label, keys=keys,
                           planned=planned, repaired=repaired_all)
        eml = assemble(item_id=transcript_archive_id(conversation.id, day, ids), sender=sender, recipients=recipients,
                       headers=headers, text=text, html=html, planned=planned, locations=locations)
        return eml, text, html

    planned, (eml, text, html) = fit([f for _n, f in files], source, options.max_item_bytes, build)
    omitted = tuple(OmittedAttachment(p.attachment, p.reason or "unavailable", options.attachment_location(p.attachment))
                    for p in planned if not p.embedded)
    return Record(eml=eml, item_class=TRANSCRIPT_CLASS, message_id=transcript_message_id(conversation.id, day, ids),
                  subject=subject, partial=bool(omitted), embedded=tuple(p.attachment.sha256 for p in planned if p.embedded),
                  omitted=omitted, repaired_fields=tuple(repaired_all), html=html, text=text)


def _headers(conversation: Conversation, day: str, originals: list[Item], entries, *, subject: str, label: str,
             keys: list[str], planned: list[PlannedFile], repaired: list[str]) -> list[tuple[str, str]]:
    root = conversation_root_id(conversation.id)
    ids = [i.id for i in originals]
    h: list[tuple[str, str]] = [
        ("Date", format_datetime(originals[-1].sent_at.astimezone(timezone.utc))),
        ("Message-ID", transcript_message_id(conversation.id, day, ids)),
        ("In-Reply-To", root),
        ("References", root),
        ("Subject", subject),
        ("Thread-Topic", human("WhatsApp · " + label, 200)),
        ("Thread-Index", thread_index(conversation.id)),
        ("X-WhatsApp-Item-Class", TRANSCRIPT_CLASS),
        ("X-WhatsApp-Transcript-Day", day),
        ("X-WhatsApp-Conversation-Id", x_value(conversation.id)),
        ("X-WhatsApp-Conversation-Kind", conversation.kind),
    ]
    if conversation.title is not None:
        h.append(("X-WhatsApp-Conversation-Title", x_value(conversation.title)))
    h.append(("X-WhatsApp-Item-Count", str(len(originals))))
    h += [("X-WhatsApp-Item-Id", x_value(fixed.id)) for _o, fixed, _f in entries]
    h.append(("X-WhatsApp-Participants", key_list(keys)))
    h.append(("X-WhatsApp-First-Sent-At", originals[0].sent_at.isoformat()))
    h.append(("X-WhatsApp-Last-Sent-At", originals[-1].sent_at.isoformat()))
    h += [("X-WhatsApp-Attachment", attachment_x(p)) for p in planned]
    if any(not p.embedded for p in planned):
        h.append(("X-WhatsApp-Partial", "true"))
    if repaired:
        h.append(("X-WhatsApp-Repaired", x_value("lone surrogates replaced by U+FFFD in: " + ", ".join(repaired))))
    h.append(("X-WhatsApp-Renderer", RENDERER))
    return h


__all__ = ["RENDERER", "TRANSCRIPT_CLASS", "order_items", "render_transcript", "transcript_archive_id",
           "transcript_message_id"]
