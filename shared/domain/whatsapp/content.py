"""The content of one WhatsApp message, by type, as contract item fields.

``read_content(message, where)`` returns a ``Content``: the item fields (``text``, ``attachments``,
``location``, ``contacts``, ``event``), the media to download, and ``lost`` when part of the message
could not be carried (a placeholder without content, a type we do not know): the item then says so
in its text, and the caller also reports an ``Unknown`` entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.domain.whatsapp.reading import non_negative_int, obj, objects, plain_text, scalar_text, sha256_hex, text

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_OCTET = "application/octet-stream"


@dataclass(frozen=True)
class MediaPlan:
    """A file the message carries: the contract attachment (when its hash is declared) and what the downloader needs."""

    media_id: str
    kind: str
    mime_type: str | None
    sha256: str | None
    url: str | None
    filename: str | None
    attachment: dict[str, Any] | None


@dataclass
class Content:
    fields: dict[str, Any] = field(default_factory=dict)
    media: list[MediaPlan] = field(default_factory=list)
    lost: str | None = None
    item_type: str = "message"


def _bracket(note: str) -> str:
    return f"[{note}]"


def _join(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _media(message: dict, mtype: str) -> Content:
    body = obj(message.get(mtype))
    if body is None:
        return Content(fields={"text": _bracket(f"{mtype} message without its '{mtype}' object: the file was not delivered")},
                       lost=f"{mtype}: no '{mtype}' object")
    caption = plain_text(body.get("caption"))
    kind = mtype
    if mtype == "audio" and body.get("voice") is True:
        kind = "voice"
    media_id = text(body.get("id"))
    mime = text(body.get("mime_type"))
    filename = plain_text(body.get("filename"))
    digest = sha256_hex(body.get("sha256"))
    url = text(body.get("url"))
    if media_id is None:
        note = _bracket(f"{kind} not included: Meta sent no media id (history media arrive separately, "
                        "and only for the last 14 days)")
        return Content(fields={"text": _join(caption, note)})
    attachment = None
    if digest is not None:
        attachment = {"id": media_id, "file_name": filename or "", "content_type": mime or _OCTET,
                      "size": non_negative_int(body.get("file_size")) or 0, "sha256": digest, "kind": kind}
        if caption is not None:
            attachment["caption"] = caption
    plan = MediaPlan(media_id=media_id, kind=kind, mime_type=mime, sha256=digest, url=url, filename=filename,
                     attachment=attachment)
    fields: dict[str, Any] = {"text": caption or "", "attachments": [attachment] if attachment else []}
    return Content(fields=fields, media=[plan])


def _location(message: dict) -> Content:
    body = obj(message.get("location")) or {}
    lat, lon = body.get("latitude"), body.get("longitude")
    fields: dict[str, Any] = {}
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and not isinstance(lat, bool) and not isinstance(lon, bool) \
            and -90 <= lat <= 90 and -180 <= lon <= 180:
        location: dict[str, Any] = {"latitude": lat, "longitude": lon}
        for key in ("name", "address"):
            if text(body.get(key)):
                location[key] = text(body.get(key))
        fields["location"] = location
        fields["text"] = text(body.get("url")) or ""
        return Content(fields=fields)
    return Content(fields={"text": _bracket("shared location without usable coordinates")},
                   lost="location: latitude/longitude missing or out of range")


def _contacts(message: dict) -> Content:
    cards = []
    for _, card in objects(message.get("contacts")):
        name_obj = obj(card.get("name")) or {}
        name = text(name_obj.get("formatted_name")) or " ".join(
            p for p in (text(name_obj.get("first_name")), text(name_obj.get("last_name"))) if p) or ""
        phones = []
        for _, entry in objects(card.get("phones")):
            number = text(entry.get("phone")) or text(entry.get("wa_id"))
            if number:
                phones.append(number)
        cards.append({"name": name, "phones": phones})
    if not cards:
        return Content(fields={"text": _bracket("shared contact card without contacts")}, lost="contacts: empty or not a list")
    return Content(fields={"contacts": cards, "text": ""})


def _interactive(message: dict) -> Content:
    body = obj(message.get("interactive")) or {}
    kind = text(body.get("type")) or ""
    reply = obj(body.get(kind)) if kind else None
    if kind in ("button_reply", "list_reply") and reply is not None:
        title = plain_text(reply.get("title")) or ""
        extra = [f"id: {text(reply.get('id'))}"] if text(reply.get("id")) else []
        if text(reply.get("description")):
            extra.append(str(reply.get("description")))
        label = "button reply" if kind == "button_reply" else "list reply"
        return Content(fields={"text": _join(title, _bracket(f"{label}{'; ' if extra else ''}{'; '.join(extra)}"))})
    if kind == "nfm_reply" and reply is not None:
        answers = reply.get("response_json")
        if not isinstance(answers, str):
            answers = json.dumps(answers, ensure_ascii=False, sort_keys=True) if answers is not None else ""
        return Content(fields={"text": _join(plain_text(reply.get("body")), _bracket(f"flow reply {text(reply.get('name')) or ''}".strip()),
                                             answers)})
    return Content(fields={"text": _bracket(f"interactive reply of type '{kind or '?'}' not understood")},
                   lost=f"interactive: type '{kind or '?'}' not understood")


def _button(message: dict) -> Content:
    body = obj(message.get("button")) or {}
    label = plain_text(body.get("text")) or ""
    payload = text(body.get("payload"))
    return Content(fields={"text": _join(label, _bracket(f"quick-reply button{'; payload: ' + payload if payload else ''}"))})


def _order(message: dict) -> Content:
    body = obj(message.get("order")) or {}
    lines = [_bracket(f"order from catalog {text(body.get('catalog_id')) or '?'}")]
    for _, product in objects(body.get("product_items")):
        lines.append(f"- {text(product.get('product_retailer_id')) or '?'} x {scalar_text(product.get('quantity')) or '?'}"
                     f" @ {scalar_text(product.get('item_price')) or '?'} {text(product.get('currency')) or ''}".rstrip())
    return Content(fields={"text": _join(plain_text(body.get("text")), "\n".join(lines))})


_SYSTEM_EVENTS = {"user_changed_number": "number_changed", "customer_changed_number": "number_changed",
                  "customer_identity_changed": "security_code_changed", "user_identity_changed": "security_code_changed"}


def _system(message: dict) -> Content:
    body = obj(message.get("system")) or {}
    kind = text(body.get("type")) or ""
    detail = plain_text(body.get("body"))
    new_id = text(body.get("wa_id")) or text(body.get("new_wa_id"))
    if new_id:
        detail = _join(detail, f"new number: {new_id}")
    event_kind = _SYSTEM_EVENTS.get(kind)
    if event_kind is None:
        return Content(fields={"text": _join(detail, _bracket(f"system message of type '{kind or '?'}'"))},
                       lost=f"system: type '{kind or '?'}' has no contract event kind")
    event: dict[str, Any] = {"kind": event_kind}
    if detail:
        event["detail"] = detail
    return Content(fields={"event": event, "text": detail or ""}, item_type="event")


def _placeholder(message: dict, mtype: str) -> Content:
    inner = obj(message.get(mtype)) or {}
    what = text(inner.get("type"))
    codes = []
    for _, error in objects(message.get("errors")):
        code = text(error.get("code"))
        title = text(error.get("title")) or text(error.get("message"))
        if code or title:
            codes.append(" ".join(p for p in (code, f"({title})" if title else None) if p))
    detail = f"'{mtype}'" + (f", kind '{what}'" if what else "") + (f", Meta error {'; '.join(codes)}" if codes else "")
    note = _bracket(f"message not captured: WhatsApp delivered a placeholder without content ({detail})")
    return Content(fields={"text": note}, lost=f"{mtype} placeholder" + (f" ({what})" if what else ""))


def read_content(message: dict, mtype: str) -> Content:
    """Contract fields for a message of type ``mtype`` (not edit/revoke/reaction: see messages.py)."""
    if mtype == "text":
        body = obj(message.get("text")) or {}
        value = plain_text(body.get("body"))
        if value is None:
            return Content(fields={"text": _bracket("text message without a body")}, lost="text: no text.body")
        return Content(fields={"text": value})
    if mtype in MEDIA_TYPES:
        return _media(message, mtype)
    if mtype == "media_placeholder":
        return Content(fields={"text": _bracket("media not included in the history sync: Meta sends history media "
                                                "separately, only for the last 14 days")})
    if mtype == "location":
        return _location(message)
    if mtype == "contacts":
        return _contacts(message)
    if mtype == "interactive":
        return _interactive(message)
    if mtype == "button":
        return _button(message)
    if mtype == "order":
        return _order(message)
    if mtype == "system":
        return _system(message)
    if mtype in ("unsupported", "unknown"):
        return _placeholder(message, mtype)
    return Content(fields={"text": _bracket(f"message of type '{mtype}', which this archiver cannot read yet: its content is "
                                            "not in this record; the webhook body is kept as received")},
                   lost=f"message type '{mtype}' is not known to this version")


def referral_note(message: dict) -> str | None:
    """The ad a customer came from (``referral`` beside the content), as a line of text."""
    ref = obj(message.get("referral"))
    if ref is None:
        return None
    parts = [f"{k}: {text(ref.get(k))}" for k in ("source_type", "source_id", "source_url", "headline", "body", "ctwa_clid")
             if text(ref.get(k))]
    return _bracket("came from an ad" + ("; " + "; ".join(parts) if parts else ""))


def product_note(context: dict) -> str | None:
    """A question about a catalog product (``context.referred_product``), as a line of text."""
    product = obj(context.get("referred_product"))
    if product is None:
        return None
    return _bracket(f"about product {text(product.get('product_retailer_id')) or '?'} "
                    f"of catalog {text(product.get('catalog_id')) or '?'}")
