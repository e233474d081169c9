"""Who is who in a webhook: the business number (the archived employee) and the customer.

The business number is ``metadata.display_phone_number`` (its ``phone_number_id`` is Meta's id for
it). Customers carry their phone (``wa_id``/``from``/``to``, digits without '+') and/or their
business-scoped user id (BSUID, ``user_id``/``from_user_id``/``to_user_id``); the phone is absent for
users who adopted a username, so a participant may be a user id alone.

Conversation ids: ``wa:{phone_number_id}:+{customer digits}`` when the customer's phone is known,
else ``wa:{phone_number_id}:uid:{bsuid}``; groups ``wa:group:{group_id}``. The phone comes first
because history threads and echoes name customers by phone only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.domain.whatsapp.reading import Problem, obj, objects, text

_PHONE_CHARS = set("0123456789")


def phone(value: Any) -> str | None:
    """'+' and the digits of a WhatsApp number written as digits (with optional '+' and separators)."""
    raw = text(value)
    if raw is None or len(raw) > 40:
        return None
    digits = "".join(ch for ch in raw if ch in _PHONE_CHARS)
    rest = {ch for ch in raw if ch not in _PHONE_CHARS}
    if not digits or not rest <= set("+ -().") or len(digits) < 5 or len(digits) > 17:
        return None
    return "+" + digits


def user_id(value: Any) -> str | None:
    raw = text(value)
    if raw is None or len(raw) > 200 or not raw.strip():
        return None
    return raw


@dataclass(frozen=True)
class Business:
    phone: str
    phone_number_id: str | None
    waba_id: str | None

    def participant(self) -> dict[str, Any]:
        return {"phone": self.phone}

    @property
    def key(self) -> str:
        return self.phone_number_id or self.phone


def business_from(value: dict, waba_id: str | None, where: str) -> Business:
    metadata = obj(value.get("metadata")) or {}
    number = phone(metadata.get("display_phone_number"))
    if number is None:
        raise Problem(f"{where}.metadata.display_phone_number: missing or not a phone number; "
                      "cannot tell which business number (employee) this belongs to")
    return Business(phone=number, phone_number_id=text(metadata.get("phone_number_id")), waba_id=waba_id)


def business_meta(value: dict) -> tuple[str | None, str | None]:
    """(business phone, phone_number_id) when present, for records that do not need both."""
    metadata = obj(value.get("metadata")) or {}
    return phone(metadata.get("display_phone_number")), text(metadata.get("phone_number_id"))


class Names:
    """``value.contacts[]``: profile names by phone and by user id."""

    def __init__(self, value: dict):
        self.by_phone: dict[str, str] = {}
        self.by_user: dict[str, str] = {}
        self.user_by_phone: dict[str, str] = {}
        self.phone_by_user: dict[str, str] = {}
        for _, contact in objects(value.get("contacts")):
            name = text((obj(contact.get("profile")) or {}).get("name"))
            number = phone(contact.get("wa_id"))
            uid = user_id(contact.get("user_id"))
            if name and number:
                self.by_phone.setdefault(number, name)
            if name and uid:
                self.by_user.setdefault(uid, name)
            if number and uid:
                self.user_by_phone.setdefault(number, uid)
                self.phone_by_user.setdefault(uid, number)

    def customer(self, number: str | None, uid: str | None) -> dict[str, Any]:
        if uid is None and number is not None:
            uid = self.user_by_phone.get(number)
        if number is None and uid is not None:
            number = self.phone_by_user.get(uid)
        name = (self.by_phone.get(number) if number else None) or (self.by_user.get(uid) if uid else None)
        return customer(number, uid, name)


def customer(number: str | None, uid: str | None, name: str | None = None) -> dict[str, Any]:
    person: dict[str, Any] = {}
    if number:
        person["phone"] = number
    if uid:
        person["user_id"] = uid
    if name:
        person["name"] = name
    return person


def conversation_id(business: Business, person: dict[str, Any], group_id: str | None = None) -> str:
    if group_id:
        return f"wa:group:{group_id}"
    if person.get("phone"):
        return f"wa:{business.key}:{person['phone']}"
    return f"wa:{business.key}:uid:{person['user_id']}"
