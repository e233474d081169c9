"""The mapping rule: which mailbox gets a copy of an item, for each of its participants.

Contract (feed-contract.md, "User mapping file"), for each participant: the mapping file first;
if it names no *valid* Microsoft 365 user (exists, enabled, has a mailbox), the item's ``email``
property; if neither gives a valid user, that participant gets no copy. An item no participant
maps to is not imported and is reported as unmapped.

The rule is pure: the caller first asks ``addresses_to_check`` which addresses it needs, looks
them up in the directory, and passes the answers in ``valid``. An address missing from ``valid``
was not looked up and is treated as not valid, with that reason, never silently as valid.

A copy goes to the user's canonical address, ``(primary_address or address).lower()``: an alias
and the primary address of one user, or two numbers of one person, give one copy, not two.

How far the ``email`` property is trusted is the operator's choice (``EmailPolicy``, setting
MAPPING_EMAIL_PROPERTY): ``on`` (any valid user, as the contract says), ``off`` (the mapping file
alone), or ``domains:contoso.com,...`` (only addresses in those domains). A compromised feed could
otherwise name any archived mailbox in an item and plant a record there.

Reasons never hold phone numbers (they reach the report and the tracking table); mailbox
addresses, which are the tenant's own, are named so the admin can act.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from shared.domain.items import Item, Participant
from shared.domain.mapping_file import MappingFile, normalise_address
from shared.domain.phones import participant_keys
from shared.domain.directory import UserStatus

Via = Literal["mapping_file", "email", "import_owner"]
VIA_TEXT = {"mapping_file": "mapping file", "email": "email property", "import_owner": "export owner named at import"}

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class EmailPolicy:
    """Which ``email`` properties the rule may map by: all (``on``), none (``off``), or those in ``domains``."""

    mode: Literal["on", "off", "domains"] = "on"
    domains: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> "EmailPolicy":
        value = (text or "on").strip()
        low = value.lower()
        if low == "on":
            return cls("on")
        if low == "off":
            return cls("off")
        if low.startswith("domains:"):
            domains = [d.strip().lower().lstrip("@") for d in value[len("domains:"):].split(",") if d.strip()]
            bad = [d for d in domains if not _DOMAIN.match(d)]
            if not domains or bad:
                raise ValueError(f"expected 'domains:' and a comma-separated list of domains, e.g. "
                                 f"'domains:contoso.com,fabrikam.com'; not domains: {bad or 'none given'}")
            return cls("domains", frozenset(domains))
        raise ValueError(f"expected 'on', 'off' or 'domains:contoso.com,...', got {value[:80]!r}")

    def refuses(self, address: str) -> str:
        """'' when the rule may map by this address, else why not."""
        if self.mode == "on":
            return ""
        if self.mode == "off":
            return "email property not trusted (MAPPING_EMAIL_PROPERTY=off)"
        if address.rpartition("@")[2] in self.domains:
            return ""
        return "email property's domain is not one MAPPING_EMAIL_PROPERTY trusts"


TRUST_EMAIL_PROPERTY = EmailPolicy()  # the contract's rule, MAPPING_EMAIL_PROPERTY=on


@dataclass(frozen=True)
class ParticipantMapping:
    participant: Participant
    keys: list[str]  # lookup keys, best first (E.164, "uid:...")
    mailbox: str | None  # canonical lower-case address of the target user, None = no copy
    via: Via | None  # which source gave the mailbox
    reason: str = ""  # '' when mapped; otherwise why not, each source in turn


@dataclass(frozen=True)
class ItemMapping:
    participants: list[ParticipantMapping]
    region: str = "US"
    mailboxes: list[str] = field(default_factory=list)  # distinct target mailboxes, sorted
    unresolved: list[str] = field(default_factory=list)  # "address: reason" the directory refused to look up (4xx)

    @property
    def unmapped(self) -> bool:
        """No participant maps: the item is not imported and is reported."""
        return not self.mailboxes

    def mailbox_of(self, participant: Participant) -> str | None:
        """The mailbox a participant maps to (for the record's From/To), None if it maps to none.

        Matched by equality first; a participant object the item does not hold (e.g. rebuilt by
        the renderer) is matched by its lookup keys.
        """
        for pm in self.participants:
            if pm.participant == participant:
                return pm.mailbox
        keys = participant_keys(participant, self.region)
        for pm in self.participants:
            if pm.mailbox and keys and set(keys) & set(pm.keys):
                return pm.mailbox
        return None


def _email_property(participant: Participant, policy: EmailPolicy = TRUST_EMAIL_PROPERTY) -> tuple[str | None, str]:
    """The participant's ``email`` property as an address the policy trusts, or (None, why not)."""
    if participant.email is None or not participant.email.strip():
        return None, "email property absent"
    address = normalise_address(participant.email)
    if address is None:
        return None, "email property is not a mailbox address"
    refused = policy.refuses(address)
    if refused:
        return None, refused
    return address, ""


def addresses_to_check(item: Item, mapping: MappingFile, region: str, policy: EmailPolicy = TRUST_EMAIL_PROPERTY) -> set[str]:
    """Every lower-case address the rule may need to know about, for one directory look-up each.

    Both sources of every participant are included, even when the mapping file's user will turn
    out valid: the rule needs the fallback's answer only when the first fails, but asking for both
    keeps the rule a pure function of (item, file, answers).
    """
    wanted: set[str] = set()
    for participant in item.participants:
        from_file = mapping.mailbox_for(participant_keys(participant, region))
        if from_file:
            wanted.add(from_file.lower())
        address, _ = _email_property(participant, policy)
        if address:
            wanted.add(address)
        owner, _ = _email_property(participant) if participant.owner_verified else (None, "")
        if owner:
            wanted.add(owner)  # the import's owner: looked up whatever the email-property policy says
    return wanted


def _why_not(status: UserStatus | None) -> str:
    if status is None:
        return "was not looked up in the directory"
    if not status.exists:
        why = "is not a Microsoft 365 user"
    elif not status.enabled:
        why = "is disabled"
    elif not status.has_mailbox:
        why = "has no mailbox"
    else:  # pragma: no cover - only called for invalid targets
        why = "is not a valid archive target"
    return f"{why} ({status.reason})" if status.reason and status.reason not in why else why


def _target(address: str, valid: dict[str, UserStatus]) -> tuple[str | None, str]:
    status = valid.get(address.lower())
    if status is not None and status.is_valid_target:
        return (status.primary_address or status.address or address).lower(), ""
    return None, _why_not(status)


def map_participant(participant: Participant, mapping: MappingFile, valid: dict[str, UserStatus],
                    region: str, policy: EmailPolicy = TRUST_EMAIL_PROPERTY,
                    trust_owner: bool = False) -> ParticipantMapping:
    """Apply the rule to one participant: mapping file, then the email property (as far as ``policy``
    trusts it, MAPPING_EMAIL_PROPERTY), then no copy.

    ``trust_owner`` (chat-export imports only, decided by the caller from where the item was
    stored): a participant marked ``owner_verified`` maps to its ``email``, the mailbox the admin
    named with ``--owner``, whatever the mapping file or the email-property policy say.
    """
    keys = participant_keys(participant, region)
    if trust_owner and participant.owner_verified:
        address, absent = _email_property(participant)
        if address:
            mailbox, why = _target(address, valid)
            if mailbox:
                return ParticipantMapping(participant, keys, mailbox, "import_owner")
            return ParticipantMapping(participant, keys, None, None, f"import owner {address} {why}")
        return ParticipantMapping(participant, keys, None, None, f"import owner: {absent}")
    reasons: list[str] = []
    from_file = mapping.mailbox_for(keys)
    if from_file:
        mailbox, why = _target(from_file, valid)
        if mailbox:
            return ParticipantMapping(participant, keys, mailbox, "mapping_file")
        reasons.append(f"mapping file names {from_file.lower()} which {why}")
    elif keys:
        reasons.append("not in the mapping file")
    else:
        reasons.append("no usable phone number or user id for the mapping file")
    address, absent = _email_property(participant, policy)
    if address:
        mailbox, why = _target(address, valid)
        if mailbox:
            return ParticipantMapping(participant, keys, mailbox, "email")
        reasons.append(f"email property {address} {why}")
    else:
        reasons.append(absent)
    return ParticipantMapping(participant, keys, None, None, "; ".join(reasons))


def map_item(item: Item, mapping: MappingFile, valid: dict[str, UserStatus], region: str,
             policy: EmailPolicy = TRUST_EMAIL_PROPERTY, trust_owner: bool = False) -> ItemMapping:
    """One ``ParticipantMapping`` per participant (sender, recipients, call participants)."""
    people = [map_participant(p, mapping, valid, region, policy, trust_owner) for p in item.participants]
    mailboxes = sorted({pm.mailbox for pm in people if pm.mailbox})
    unresolved = [f"{address}: {status.reason}" for address, status in sorted(valid.items()) if status.not_resolvable]
    return ItemMapping(participants=people, region=region, mailboxes=mailboxes, unresolved=unresolved)


def mapped_via(item_mapping: ItemMapping) -> str:
    """Where each mailbox's mapping came from, e.g. 'a@contoso.com: mapping file; b@contoso.com: email property'."""
    seen: dict[str, str] = {}
    for pm in item_mapping.participants:
        if pm.mailbox and pm.via and pm.mailbox not in seen:
            seen[pm.mailbox] = VIA_TEXT[pm.via]
    return "; ".join(f"{mailbox}: {via}" for mailbox, via in sorted(seen.items()))
