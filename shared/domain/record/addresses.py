"""From/To addresses: the participant's Microsoft 365 mailbox, else a stable never-routable one.

A participant nobody maps to (an outsider, an unmapped colleague) still needs an address so that
eDiscovery can search for them. It is derived from who they are on WhatsApp, in the reserved
domain ``whatsapp.invalid`` (RFC 2606: ``.invalid`` never resolves, so nothing can be delivered
there by mistake):

- a usable phone number: its E.164 digits, ``447700900123@whatsapp.invalid``;
- a phone that libphonenumber cannot read: its digits as written;
- else the WhatsApp user id: ``uid.<id>@whatsapp.invalid`` when the id is lower-case letters and
  digits, else ``uid.<first 20 hex of its sha256>@whatsapp.invalid`` (ids are opaque and
  case-sensitive; Exchange addresses are not).

The same participant always gets the same address, whatever notation the feed used that day.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from shared.domain.items import Participant
from shared.domain.phones import normalise_phone
from shared.domain.record.text import one_line, repair

RESERVED_DOMAIN = "whatsapp.invalid"

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
# dot-atom local part: written without quoting, read back by every parser
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
_SIMPLE_ADDRESS = re.compile(r"^(?=.{1,64}@)" + _ATEXT + r"+(?:\." + _ATEXT + r"+)*@" + _LABEL + r"(?:\." + _LABEL + r")+$")
_SIMPLE_UID = re.compile(r"^[a-z0-9]{1,48}$")


@dataclass(frozen=True)
class ResolvedAddress:
    display_name: str
    username: str
    domain: str
    mapped: bool  # True when the address is the participant's mapped Microsoft 365 mailbox

    @property
    def addr_spec(self) -> str:
        return f"{self.username}@{self.domain}"


@lru_cache(maxsize=4096)
def _e164(phone: str, region: str) -> str | None:
    return normalise_phone(repair(phone), region)


def e164_of(participant: Participant, region: str) -> str | None:
    """The participant's number in E.164, or None when there is none usable."""
    if not participant.phone:
        return None
    return _e164(participant.phone, region)


def participant_key(participant: Participant, region: str) -> str:
    """One short label for X- headers: E.164, else ``uid:<id>``, else the phone as written."""
    e164 = e164_of(participant, region)
    if e164:
        return e164
    if participant.user_id and participant.user_id.strip():
        return "uid:" + participant.user_id.strip()
    return (participant.phone or "").strip()


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isascii() and ch.isdigit())[:32]


def derived_local_part(participant: Participant, region: str) -> str:
    """The local part of a participant's reserved address (see the module docstring)."""
    e164 = e164_of(participant, region)
    if e164:
        return e164.lstrip("+")
    digits = _digits(participant.phone)
    if digits:
        return digits
    uid = (participant.user_id or "").strip()
    if uid:
        if _SIMPLE_UID.match(uid):
            return f"uid.{uid}"
        return "uid." + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    seed = (participant.phone or "") + "\0" + (participant.name or "")
    return "unknown." + hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def display_name(participant: Participant) -> str:
    """What a reviewer reads: the name, else the phone as written, else the user id."""
    for candidate in (participant.name, participant.phone, participant.user_id):
        name = one_line(candidate, 120)
        if name:
            return name
    return "WhatsApp user"


def resolve(participant: Participant, mailbox_of: Callable[[Participant], str | None], region: str) -> ResolvedAddress:
    """The address a participant appears under in From/To."""
    name = display_name(participant)
    mailbox = mailbox_of(participant)
    if isinstance(mailbox, str) and _SIMPLE_ADDRESS.match(mailbox.strip()):
        local, _, domain = mailbox.strip().rpartition("@")
        return ResolvedAddress(name, local, domain.lower(), mapped=True)
    return ResolvedAddress(name, derived_local_part(participant, region), RESERVED_DOMAIN, mapped=False)
