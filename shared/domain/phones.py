"""Phone numbers and user ids as lookup keys: one person, one key, whatever the notation.

The capture feed and the admin's mapping file write the same number in many ways
(``+447700900123``, ``447700900123``, ``0044 7700 900123``, ``(555) 123-0002``). Both sides are
reduced here to one key, E.164, so that a match does not depend on formatting.

A number is usable when libphonenumber finds it *possible* (right length for its country),
not when it is *valid* (assigned): ranges kept for fiction and testing (+44 7700 900xxx,
+1 555 123 xxxx) and newly opened ranges fail the validity test and are still real keys.
Numbers that are possible only for local dialling (no area code) are refused: their E.164 form
would not be the person's full number, so the key could never match the other side.

Pure functions, no I/O, no logging: callers mask what they log (``shared.domain.masking``).
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from shared.domain.items import Participant

UID_PREFIX = "uid:"

# Characters people put between digits. Anything else (letters, '#', '*', ',') means the text is
# not a phone number: we would rather say "not a number" than guess (e.g. vanity letters, 'ext.').
_SEPARATORS = frozenset(" .-/()[]\u00a0\u2010\u2011\u2012\u2013\u2014\u2212\u2007\u202f\u3000")
_MAX_INPUT = 64  # no real number needs more; keeps hostile input cheap


def _digits_only(text: str) -> tuple[bool, str] | None:
    """(had a leading '+', ASCII digits) of a phone-like text, or None if it holds anything else."""
    body = text.strip()
    plus = False
    if body[:1] in ("+", "\uff0b"):
        plus, body = True, body[1:]
    digits: list[str] = []
    for ch in body:
        if ch.isdecimal():
            try:
                digits.append(str(unicodedata.decimal(ch)))
            except (TypeError, ValueError):
                return None
        elif ch in _SEPARATORS or ch.isspace():
            continue
        else:
            return None
    return plus, "".join(digits)


def is_phone_like(text: str) -> bool:
    """True when ``text`` is written like a phone number: digits, an optional leading '+', separators.

    Used by the mapping file to tell a phone number from a WhatsApp user id; it says nothing about
    whether the number is usable (see ``normalise_phone``).
    """
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_INPUT:
        return False
    parsed = _digits_only(text)
    return parsed is not None and bool(parsed[1])


def _possible(candidate: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException:
        return None
    if number.extension:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return None
    return number


def _e164(number: phonenumbers.PhoneNumber | None) -> str | None:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164) if number is not None else None


def _possible_e164(candidate: str, region: str | None) -> str | None:
    return _e164(_possible(candidate, region))


def _bare_digits(digits: str, region: str | None) -> str | None:
    """Digits with neither '+' nor '00': national first, international when national is not possible.

    One tie-break: when the digits start with the region's own country code and both readings are
    possible (regions with variable-length numbers, e.g. DE ``4915112345678``), the international
    reading wins if it is a valid number: providers write E.164 without its ``+`` far more often than
    people write a national number that happens to begin with their own country code.
    """
    national = _possible(digits, region) if region else None
    international = _possible("+" + digits, None)
    if national is None or international is None:
        return _e164(national or international)
    if _e164(national) != _e164(international) and region:
        own_code = str(phonenumbers.country_code_for_region(region))
        if digits.startswith(own_code) and phonenumbers.is_valid_number(international):
            return _e164(international)
    return _e164(national)


def normalise_phone(text: str, region: str) -> str | None:
    """The E.164 form of ``text`` (``+447700900123``), or None when it is not a usable number.

    Reading order, so that each common notation lands on one key:

    1. ``+`` then digits: international.
    2. ``00`` then digits: the international prefix used by most of the world (``0044 ...``).
    3. bare digits: national in ``region`` first (``(555) 123-0002``, ``07700 900123`` and
       ``1 555 123 0002`` all read as a person of that region would), and, if that is not a
       possible number there, international without its ``+`` (``447700900123``). National comes
       first because a national number with a ``+`` in front often *is* possible elsewhere
       (``5551230002`` reads as a Brazilian number), while E.164 digits rarely fit the national
       length of the tenant's region. In regions with variable-length numbers (DE, AT, IT) a
       foreign number without ``+`` can still read as national: write those with ``+`` or ``00``.

    Never raises: arbitrary text gives None.
    """
    try:
        if not isinstance(text, str) or len(text) > _MAX_INPUT:
            return None
        parsed = _digits_only(text)
        if parsed is None:
            return None
        plus, digits = parsed
        if not digits or len(digits) > 17:
            return None
        region = (region or "").upper() or None
        if plus:
            return _possible_e164("+" + digits, None)
        if digits.startswith("00"):
            international = _possible_e164("+" + digits[2:], None)
            if international:
                return international
        return _bare_digits(digits, region if region in phonenumbers.SUPPORTED_REGIONS else None)
    except Exception:  # noqa: BLE001 - a bad phone must never break a run; None is the answer
        return None


def user_id_key(user_id: str) -> str | None:
    """The lookup key of a WhatsApp user id: ``uid:<id>``, compared exactly (ids are opaque)."""
    if not isinstance(user_id, str):
        return None
    value = user_id.strip()
    if value[: len(UID_PREFIX)].lower() == UID_PREFIX:
        value = value[len(UID_PREFIX):].strip()
    return UID_PREFIX + value if value else None


def participant_keys(participant: Participant, region: str) -> list[str]:
    """The participant's lookup keys, best first: its E.164 number, then ``uid:<user_id>``.

    Empty when the phone is not a usable number and there is no user id: such a participant can
    only be mapped through its ``email`` property.
    """
    keys: list[str] = []
    if participant.phone:
        e164 = normalise_phone(participant.phone, region)
        if e164:
            keys.append(e164)
    if participant.user_id:
        key = user_id_key(participant.user_id)
        if key and key not in keys:
            keys.append(key)
    return keys
