"""The message as WhatsApp showed it: the bubble a reviewer sees first, above the evidence facts.

Built for the clients reviewers use: Outlook for Windows (Word's HTML engine: nested tables for
layout, ``align`` attributes, inline styles, ``width``/``height`` on pictures, ``<br>`` for line
breaks), Outlook on the web and the Purview review set. No external resource, script, form or
event attribute; pictures come from the record's own parts (``cid:``); links are shown as their
address. Every colour is set with its background, so clients that recolour for dark mode keep the
contrast. Everything from the item goes through ``esc`` (or ``wa_format.whatsapp_html``, which
escapes too).

Pure string building: one pass per item, precompiled regexes, no templating engine.

``context`` maps item ids to already-archived items (the message a reply quotes, the message an
edit, deletion or reaction changes). Only an original of the same conversation is quoted: a quote
must never carry another chat's content into a mailbox.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo

from shared.domain.items import Item, Participant
from shared.domain.record.addresses import display_name, e164_of
from shared.domain.record.body_html import esc
from shared.domain.record.labels import EVENT_NAMES, call_label
from shared.domain.record.text import one_line, shorten
from shared.domain.record.times import duration_text
from shared.domain.record.view import FileRow, map_url
from shared.domain.record.wa_format import whatsapp_html

CHAT_BG = "#efeae2"
OUT_BG, OUT_BORDER = "#d9fdd3", "#b9dfb2"
IN_BG, IN_BORDER = "#ffffff", "#d1d7db"
TEXT = "#111b21"
META = "#667781"
NAME = "#1f7a4d"
WRAP = "overflow-wrap:anywhere;word-wrap:break-word;word-break:break-word;"
QUOTE_CHARS = 600

KIND_WORDS = {"image": "Photo", "video": "Video", "audio": "Audio", "voice": "Voice note", "document": "Document",
              "sticker": "Sticker", "other": "File"}
KIND_ICONS = {"image": "\U0001F4F7", "video": "\U0001F3A5", "audio": "\U0001F3B5", "voice": "\U0001F3A4",
              "document": "\U0001F4C4", "sticker": "\U0001F5BC", "other": "\U0001F4CE"}
_TABLE = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'


# --------------------------------------------------------------------------- small parts
def person(p: Participant, region: str) -> str:
    """Name and number (or user id) as one line of HTML: who it was on WhatsApp."""
    name = display_name(p)
    number = e164_of(p, region) or one_line(p.phone, 40) or (f"uid:{one_line(p.user_id, 60)}" if p.user_id else "")
    if number and number != name:
        return f'{esc(name)} <span style="font-weight:normal;color:{META};">{esc(number)}</span>'
    return esc(name)


def clock(moment: datetime, display_zone: ZoneInfo | None, *, with_date: bool = True) -> str:
    """``2026-11-22 10:15 CET · 09:15 UTC`` (display zone first, UTC always)."""
    utc = moment.astimezone(timezone.utc)
    if display_zone is None:
        return utc.strftime("%Y-%m-%d %H:%M UTC" if with_date else "%H:%M UTC")
    local = moment.astimezone(display_zone)
    day = "%Y-%m-%d " if with_date else ""
    name = local.tzname() or display_zone.key
    utc_day = "" if utc.date() == local.date() or not with_date else utc.strftime("%Y-%m-%d ")
    return f"{local.strftime(day + '%H:%M')} {name} · {utc_day}{utc.strftime('%H:%M')} UTC"


def size_text(n: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def _box(inner: str, *, bg: str = "#f7f8fa", border: str = "#d1d7db", accent: str | None = None) -> str:
    left = f"border-left:4px solid {accent};" if accent else ""
    return (f'<table {_TABLE} width="100%" style="border-collapse:separate;margin:4px 0;background-color:{bg};'
            f'border:1px solid {border};{left}border-radius:6px;"><tr><td style="padding:6px 8px;color:{TEXT};'
            f'font-size:13px;line-height:18px;{WRAP}">{inner}</td></tr></table>')


def _muted(text: str) -> str:
    return f'<div style="color:{META};font-size:12px;font-style:italic;">{esc(text)}</div>'


def _caption(text: str | None) -> str:
    return f'<div style="margin:2px 0 4px 0;">{whatsapp_html(text)}</div>' if text else ""


def picture(row: FileRow) -> str:
    alt = one_line(f"{KIND_WORDS.get(row.kind, 'Picture')}: {row.name}" + (f" ({row.caption})" if row.caption else ""), 300)
    size = f' width="{row.width}"' + (f' height="{row.height}"' if row.height else "")
    style = f"display:block;border:0;max-width:100%;{'height:auto;' if not row.height else ''}border-radius:4px;"
    return (f'<img src="cid:{esc(row.content_id or "")}" alt="{esc(alt)}"{size} style="{style}">'
            + _caption(row.caption))


def file_card(row: FileRow, *, duration: int | None = None) -> str:
    """Name, type, size, duration where known; a file that is not embedded says so, and where it is kept."""
    icon = KIND_ICONS.get(row.kind, KIND_ICONS["other"])
    kind = "Call recording" if row.role == "call recording" else KIND_WORDS.get(row.kind, "File")
    bits = [kind, row.content_type, size_text(row.size)]
    if duration is not None:
        bits.append(f"duration {duration_text(duration)}")
    status = ('<div style="color:#1f7a4d;font-size:12px;">Attached to this record (bytes verified)</div>' if row.embedded
              else f'<div style="color:#b00020;font-size:12px;font-weight:bold;">Not embedded in this record: {esc(row.reason)}. '
                   f'Original kept at {esc(row.location)}.</div>')
    inner = (f'<table {_TABLE}><tr><td valign="top" style="font-size:22px;padding-right:8px;color:{TEXT};">{icon}</td>'
             f'<td valign="top" style="color:{TEXT};font-size:13px;{WRAP}"><b>{esc(row.name)}</b>'
             f'<div style="color:{META};font-size:12px;">{esc(" · ".join(bits))}</div>{status}</td></tr></table>')
    return _box(inner) + _caption(row.caption)


def location_card(item: Item) -> str:
    loc = item.location
    if loc is None:
        return ""
    url = map_url(loc.latitude, loc.longitude)
    lines = [f"<b>\U0001F4CD {esc(loc.name)}</b>" if loc.name is not None else "<b>\U0001F4CD Shared location</b>"]
    if loc.address is not None:
        lines.append(esc(loc.address))
    lines.append(f'<span style="color:{META};">{loc.latitude!r}, {loc.longitude!r}</span>')
    lines.append(f'<a href="{esc(url)}" style="color:#027eb5;">{esc(url)}</a>')
    return _box("<br>".join(lines))


def contact_cards(item: Item) -> str:
    out = []
    for card in item.contacts or []:
        phones = "<br>".join(esc(p) for p in card.phones) or f'<span style="color:{META};">(no phone numbers)</span>'
        out.append(_box(f"<b>\U0001F464 {esc(card.name)}</b><br>{phones}"))
    return "".join(out)


def _summary(target: Item) -> str:
    """What a quoted message said: its text, else its captions and files, in a few lines."""
    bits = []
    if target.text:
        bits.append(whatsapp_html(shorten(target.text, QUOTE_CHARS)))
    for att in target.attachments:
        word = f"{KIND_ICONS.get(att.kind, '')} {KIND_WORDS.get(att.kind, 'File')}"
        bits.append(esc(f"{word}: {one_line(att.caption or att.file_name, 120)}"))
    if target.location is not None:
        bits.append(esc(f"\U0001F4CD {one_line(target.location.name, 80) or 'Location'}"))
    bits += [esc(f"\U0001F464 {one_line(c.name, 80)}") for c in target.contacts or []]
    if target.type == "reaction":
        bits.append(esc(f"reaction {target.emoji}" if target.emoji else "reaction removed"))
    if target.type == "call":
        bits.append(esc(call_label(target)))
    if not bits:
        bits.append(f'<span style="color:{META};">(empty message)</span>')
    return "<br>".join(bits)


def same_chat(item: Item, target: Item | None) -> Item | None:
    return target if target is not None and target.conversation.id == item.conversation.id else None


def quote(item: Item, target_id: str, context: Mapping[str, Item], region: str, display_zone: ZoneInfo | None,
          *, label: str, link: str | None = None) -> str:
    """The quoted original from the archive, or a line that says it is not there."""
    target = same_chat(item, context.get(target_id))
    go = f' <a href="{esc(link)}" style="color:#027eb5;">(see entry)</a>' if link else ""
    if target is None:
        return _box(f'<span style="color:{META};">{esc(label)}: the original message (item id {esc(target_id)}) '
                    f"is not in the archive yet</span>{go}", accent="#8696a0")
    head = (f'<div style="font-size:12px;font-weight:bold;color:{NAME};">{esc(label)}: {person(target.sender, region)}'
            f' <span style="font-weight:normal;color:{META};">{esc(clock(target.sent_at, display_zone))}</span>{go}</div>')
    return _box(head + _summary(target), accent="#25d366")


# --------------------------------------------------------------------------- per type
_SIDE = f"padding:4px 6px;font-size:13px;color:{TEXT};{WRAP}border:1px solid #d1d7db;"


def _side_by_side(before: str, after: str) -> str:
    """The previous and the new text next to each other (an edit)."""
    return (f'<table {_TABLE} width="100%" style="border-collapse:collapse;margin:4px 0;">'
            f'<tr><th align="left" width="50%" style="{_SIDE}background-color:#fdecea;">Before</th>'
            f'<th align="left" width="50%" style="{_SIDE}background-color:#e7f6e7;">After</th></tr>'
            f'<tr><td valign="top" style="{_SIDE}background-color:#fffafa;">{before}</td>'
            f'<td valign="top" style="{_SIDE}background-color:#f8fff8;">{after}</td></tr></table>')


def _previous_text(item: Item, context: Mapping[str, Item]) -> str:
    if item.original_text is not None:
        return whatsapp_html(item.original_text) or _muted("(empty)")
    target = same_chat(item, context.get(item.target_id or ""))
    if target is not None:
        return (_summary(target) + _muted("quoted from the archived original"))
    return _muted(f"Not known: the edit carries only the new text, and the original (item id {item.target_id}) "
                  "is not in the archive.")


def _files(rows: list[FileRow], duration: int | None = None) -> str:
    return "".join(picture(r) if r.content_id else file_card(r, duration=duration if r.role == "call recording" else None)
                   for r in rows)


def content(item: Item, files: list[FileRow], context: Mapping[str, Item], region: str,
            display_zone: ZoneInfo | None, links: Mapping[str, str] | None = None) -> str:
    """The inside of the bubble: what the item showed on the phone, by type."""
    links = links or {}
    out = []
    if item.forwarded:
        out.append(f'<div style="color:{META};font-size:12px;font-style:italic;">&#8618; Forwarded</div>')
    if item.reply_to is not None:
        out.append(quote(item, item.reply_to, context, region, display_zone, label="Reply to",
                         link=links.get(item.reply_to)))
    if item.type == "edit":
        out.append(f'<div style="font-size:12px;color:{META};">&#9999;&#65039; Edited a message</div>')
        out.append(_side_by_side(_previous_text(item, context), whatsapp_html(item.text or "") or _muted("(empty)")))
    elif item.type == "deletion":
        out.append(f'<div style="color:{META};font-style:italic;">&#128683; This message was deleted</div>')
        target = same_chat(item, context.get(item.target_id or ""))
        if item.original_text is not None:
            out.append(_box('<div style="font-size:12px;font-weight:bold;color:#b00020;">Deleted text (kept by the capture service)'
                            f"</div>{whatsapp_html(item.original_text) or _muted('(empty)')}", accent="#b00020"))
        elif target is not None:
            out.append(_box('<div style="font-size:12px;font-weight:bold;color:#b00020;">Deleted message (quoted from the archive)'
                            f"</div>{_summary(target)}", accent="#b00020"))
        else:
            out.append(_muted("The deleted content is not known: the capture service did not keep it and the "
                              f"original (item id {item.target_id}) is not in the archive."))
        if item.text:
            out.append(f"<div>{whatsapp_html(item.text)}</div>")
    elif item.type == "reaction":
        if item.emoji:
            out.append(f'<div style="font-size:30px;line-height:36px;">{esc(item.emoji)}</div>')
        else:
            out.append(_muted("Removed their reaction"))
        out.append(quote(item, item.target_id or "", context, region, display_zone, label="Reacted to",
                         link=links.get(item.target_id or "")))
    elif item.type == "call" and item.call is not None:
        out.append(call_card(item, region))
    if item.type in ("edit", "reaction", "call"):
        out.append(_files(files, item.call.duration_seconds if item.call else None))
    elif item.type != "deletion" or files:
        out.append(_files(files))
    out.append(location_card(item))
    out.append(contact_cards(item))
    if item.type in ("message", "event") and item.text:
        out.append(f"<div>{whatsapp_html(item.text)}</div>")
    elif item.type == "message" and not files and item.location is None and not item.contacts:
        out.append(_muted("(empty message)"))
    return "".join(out)


def call_card(item: Item, region: str) -> str:
    call = item.call
    assert call is not None
    icon = "\U0001F4F9" if call.media == "video" else "\U0001F4DE"
    colour = {"answered": "#1f7a4d", "missed": "#b00020", "declined": "#b00020"}[call.status]
    people = [item.sender, *(call.participants or [])] if call.participants else [item.sender, *item.recipients]
    who = ", ".join(dict.fromkeys(person(p, region) for p in people))
    length = duration_text(call.duration_seconds) if call.status == "answered" else "not connected"
    return _box(f'<table {_TABLE}><tr><td valign="top" style="font-size:26px;padding-right:10px;color:{TEXT};">{icon}</td>'
                f'<td valign="top" style="color:{TEXT};font-size:13px;{WRAP}"><b>{esc(call_label(item))}</b> '
                f'<span style="color:{colour};font-weight:bold;">{esc(call.status)}</span><br>'
                f'Duration: {esc(length)}<br><span style="color:{META};">Placed by {person(item.sender, region)}; '
                f"on the call: {who}</span></td></tr></table>")


# --------------------------------------------------------------------------- rows
def event_row(item: Item, region: str, display_zone: ZoneInfo | None, *, with_date: bool = True,
              link: str | None = None, files: Sequence[FileRow] = ()) -> str:
    """A group event, centred like WhatsApp's system messages (with its files, e.g. a new group picture)."""
    event = item.event
    what = EVENT_NAMES.get(event.kind, event.kind) if event else "event"
    detail = f": {esc(event.detail)}" if event and event.detail else ""
    go = f' <a href="{esc(link)}" style="color:#027eb5;">details</a>' if link else ""
    text = f"{whatsapp_html(item.text)}<br>" if item.text else ""
    return (f'<table {_TABLE} width="100%"><tr><td align="center" style="padding:6px 0;">'
            f'<table {_TABLE} align="center" style="border-collapse:separate;background-color:#fff5c4;border:1px solid #e8dca0;'
            f'border-radius:8px;"><tr><td align="center" style="padding:4px 10px;color:{TEXT};font-size:12px;{WRAP}">'
            f"{text}<b>{esc(what.capitalize())}</b>{detail}<br>"
            f'<span style="color:{META};">by {person(item.sender, region)} · {esc(clock(item.sent_at, display_zone, with_date=with_date))}'
            f"</span>{go}{_files(list(files))}</td></tr></table></td></tr></table>")


def bubble_row(item: Item, files: list[FileRow], context: Mapping[str, Item], region: str,
               display_zone: ZoneInfo | None, *, with_date: bool = True, anchor: str | None = None,
               links: Mapping[str, str] | None = None, below: Sequence[str] = (), link: str | None = None) -> str:
    """One item as a chat row: outbound on the right in green, inbound (or unknown) on the left in white."""
    if item.type == "event":
        return event_row(item, region, display_zone, with_date=with_date, link=link, files=files)
    out = item.direction == "outbound"
    bg, border, side = (OUT_BG, OUT_BORDER, "right") if out else (IN_BG, IN_BORDER, "left")
    go = f' · <a href="{esc(link)}" style="color:#027eb5;">details</a>' if link else ""
    meta = (f'<div style="font-size:11px;color:{META};text-align:right;margin-top:2px;">'
            f"{esc(clock(item.sent_at, display_zone, with_date=with_date))}{go}</div>")
    name = f'<div style="font-size:13px;font-weight:bold;color:{NAME};margin-bottom:2px;{WRAP}">{person(item.sender, region)}</div>'
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return (f'<table {_TABLE} width="100%"{ident}><tr><td align="{side}" style="padding:3px 0;">'
            f'<table {_TABLE} align="{side}" style="border-collapse:separate;max-width:460px;background-color:{bg};'
            f'border:1px solid {border};border-radius:8px;"><tr><td style="padding:6px 9px;color:{TEXT};font-size:14px;'
            f'line-height:19px;{WRAP}">{name}{content(item, files, context, region, display_zone, links)}{meta}</td></tr>'
            f"</table></td></tr>"
            + "".join(f'<tr><td align="{side}" style="padding:0 0 2px 0;">{note}</td></tr>' for note in below)
            + "</table>")


def panel(rows: list[str]) -> str:
    """The chat area: WhatsApp's background behind the rows."""
    return (f'<table {_TABLE} width="100%" style="border-collapse:collapse;background-color:{CHAT_BG};">'
            f'<tr><td style="padding:8px 10px;">{"".join(rows)}</td></tr></table>')


def day_header(text: str) -> str:
    return (f'<table {_TABLE} width="100%"><tr><td align="center" style="padding:6px 0;">'
            f'<table {_TABLE} align="center" style="border-collapse:separate;background-color:#ffffff;border:1px solid #d1d7db;'
            f'border-radius:8px;"><tr><td style="padding:3px 10px;color:{META};font-size:12px;font-weight:bold;">{esc(text)}'
            "</td></tr></table></td></tr></table>")


def annotation(item: Item, context: Mapping[str, Item], region: str, display_zone: ZoneInfo | None, *, link: str) -> str:
    """An edit, deletion or reaction shown right under the message it changes (transcript mode)."""
    when = esc(clock(item.sent_at, display_zone, with_date=False))
    who = person(item.sender, region)
    go = f' <a href="{esc(link)}" style="color:#027eb5;">details</a>'
    if item.type == "reaction":
        what = f'{esc(item.emoji)} reaction' if item.emoji else "removed a reaction"
        inner = f"{who} · {what} · {when}{go}"
    elif item.type == "edit":
        inner = (f"&#9999;&#65039; Edited by {who} · {when}{go}"
                 + _side_by_side(_previous_text(item, context), whatsapp_html(item.text or "") or _muted("(empty)")))
    else:
        deleted = (_box(whatsapp_html(item.original_text) or _muted("(empty)"), accent="#b00020")
                   if item.original_text is not None else "")
        inner = f"&#128683; Deleted by {who} · {when}{go}{deleted}"
    return (f'<table {_TABLE} style="border-collapse:separate;max-width:460px;margin:0;background-color:#ffffff;'
            f'border:1px dashed #b0b8bd;border-radius:6px;"><tr><td style="padding:3px 8px;color:{TEXT};font-size:12px;{WRAP}">'
            f"{inner}</td></tr></table>")
