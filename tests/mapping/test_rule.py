"""The mapping rule, table-driven: mapping file first, then the email property, else no copy."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from shared.domain.items import Item, Participant
from shared.domain.mapping_file import parse_mapping_csv
from shared.domain.mapping_rule import addresses_to_check, map_item
from shared.pipeline.ports import UserStatus

MAPPING = parse_mapping_csv("\n".join([
    "External User ID,Microsoft 365 User Mailbox",
    "+447700900123,alice@contoso.com",
    "+447700900124,alice@contoso.com",        # Alice's second phone
    "+447700900125,alice.smith@contoso.com",  # Alice's alias
    "+15551230002,bob@contoso.com",
    "+15551230003,gone@contoso.com",          # disabled user
    "+15551230004,nobox@contoso.com",         # user without a mailbox
    "+15551230005,ghost@contoso.com",         # not a user at all
    "+15551230006,unlooked@contoso.com",      # never looked up
    "US.13491208655302741918,carol@contoso.com",
]).encode(), "US")

DIRECTORY = {
    "alice@contoso.com": UserStatus("alice@contoso.com", True, True, True, "id-a", "alice@contoso.com"),
    "alice.smith@contoso.com": UserStatus("alice.smith@contoso.com", True, True, True, "id-a", "Alice@Contoso.com"),
    "bob@contoso.com": UserStatus("bob@contoso.com", True, True, True, "id-b", None),
    "carol@contoso.com": UserStatus("carol@contoso.com", True, True, True, "id-c", "carol@contoso.com"),
    "dave@contoso.com": UserStatus("dave@contoso.com", True, True, True, "id-d", "dave@contoso.com"),
    "gone@contoso.com": UserStatus("gone@contoso.com", True, False, True, reason="account disabled"),
    "nobox@contoso.com": UserStatus("nobox@contoso.com", True, True, False),
    "ghost@contoso.com": UserStatus("ghost@contoso.com", False),
    "outsider@gmail.com": UserStatus("outsider@gmail.com", False),
}


def P(phone=None, email=None, user_id=None, name=None) -> Participant:
    return Participant(phone=phone, email=email, user_id=user_id, name=name)


def item(sender: Participant, *recipients: Participant, call_participants: list[Participant] | None = None) -> Item:
    data = {
        "id": "tm-1", "type": "call" if call_participants is not None else "message",
        "captured_at": "2026-11-22T09:15:04Z", "sent_at": "2026-11-22T09:15:02Z",
        "conversation": {"id": "c-1", "kind": "group"},
        "sender": sender.model_dump(exclude_none=True),
        "recipients": [r.model_dump(exclude_none=True) for r in recipients],
    }
    if call_participants is not None:
        data["call"] = {"media": "voice", "status": "answered", "started_at": "2026-11-22T09:15:02Z",
                        "duration_seconds": 3,
                        "participants": [p.model_dump(exclude_none=True) for p in call_participants]}
    return Item.model_validate(data)


def run(it: Item, directory: dict[str, UserStatus] = DIRECTORY):
    wanted = addresses_to_check(it, MAPPING, "US")
    valid = {a: directory[a] for a in wanted if a in directory}
    return wanted, map_item(it, MAPPING, valid, "US")


@dataclass
class Case:
    name: str
    participant: Participant
    mailbox: str | None
    via: str | None
    reason_has: list[str] = field(default_factory=list)


CASES = [
    Case("file only", P("+447700900123"), "alice@contoso.com", "mapping_file"),
    Case("file in national notation", P("(555) 123-0002"), "bob@contoso.com", "mapping_file"),
    Case("file wins over a different email", P("+15551230002", email="dave@contoso.com"), "bob@contoso.com",
         "mapping_file"),
    Case("email only", P("+15551239999", email="Dave@Contoso.com"), "dave@contoso.com", "email"),
    Case("disabled in file -> email", P("+15551230003", email="dave@contoso.com"), "dave@contoso.com", "email"),
    Case("no mailbox in file -> email", P("+15551230004", email="dave@contoso.com"), "dave@contoso.com", "email"),
    Case("nonexistent in file -> email", P("+15551230005", email="dave@contoso.com"), "dave@contoso.com", "email"),
    Case("not looked up in file -> email", P("+15551230006", email="dave@contoso.com"), "dave@contoso.com", "email"),
    Case("disabled, no email", P("+15551230003"), None, None,
         ["mapping file names gone@contoso.com which is disabled (account disabled)", "email property absent"]),
    Case("no mailbox, email nonexistent", P("+15551230004", email="outsider@gmail.com"), None, None,
         ["nobox@contoso.com which has no mailbox", "email property outsider@gmail.com is not a Microsoft 365 user"]),
    Case("nonexistent, no email", P("+15551230005"), None, None, ["ghost@contoso.com which is not a Microsoft 365 user"]),
    Case("not looked up", P("+15551230006"), None, None, ["unlooked@contoso.com which was not looked up"]),
    Case("neither", P("+4915112345678", name="Client GmbH"), None, None,
         ["not in the mapping file", "email property absent"]),
    Case("email not an address", P("+4915112345678", email="n/a"), None, None,
         ["email property is not a mailbox address"]),
    Case("no usable number, email maps", P("123", email="dave@contoso.com"), "dave@contoso.com", "email"),
    Case("no usable number, nothing", P("123"), None, None, ["no usable phone number or user id"]),
    Case("user id key", P(user_id="US.13491208655302741918"), "carol@contoso.com", "mapping_file"),
    Case("unknown number, user id known", P("+15551239999", user_id="US.13491208655302741918"),
         "carol@contoso.com", "mapping_file"),
    Case("alias maps to primary", P("+447700900125"), "alice@contoso.com", "mapping_file"),
    Case("no primary address: the looked-up one", P("+15551230002"), "bob@contoso.com", "mapping_file"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_precedence(case: Case):
    _, mapping = run(item(case.participant))
    (pm,) = mapping.participants
    assert (pm.mailbox, pm.via) == (case.mailbox, case.via), pm.reason
    assert mapping.unmapped == (case.mailbox is None)
    assert mapping.mailboxes == ([case.mailbox] if case.mailbox else [])
    if case.mailbox:
        assert pm.reason == ""
    else:
        assert pm.reason
        for fragment in case.reason_has:
            assert fragment in pm.reason
        assert "555" not in pm.reason and "7700" not in pm.reason  # reasons never carry numbers


@pytest.mark.parametrize("name,people,mailboxes", [
    ("file and email the same mailbox: one copy",
     [P("+447700900123", email="alice@contoso.com"), P("+15551230002")], ["alice@contoso.com", "bob@contoso.com"]),
    ("two numbers of one person: one copy",
     [P("+447700900123"), P("+447700900124")], ["alice@contoso.com"]),
    ("alias and primary: one copy",
     [P("+447700900123"), P("+447700900125"), P("+15551239999", email="ALICE.SMITH@contoso.com")], ["alice@contoso.com"]),
    ("outsider and employee: the employee's copy only",
     [P("+4915112345678"), P("+15551230002")], ["bob@contoso.com"]),
    ("nobody maps", [P("+4915112345678"), P("+15551230005")], []),
])
def test_copies(name, people, mailboxes):
    _, mapping = run(item(*people))
    assert mapping.mailboxes == mailboxes
    assert mapping.unmapped == (not mailboxes)
    assert len(mapping.participants) == len(people)


def test_call_participants_are_mapped():
    it = item(P("+4915112345678"), P("+15551239999"), call_participants=[P("+447700900123"), P("+15551230002")])
    wanted, mapping = run(it)
    assert [pm.participant for pm in mapping.participants] == it.participants
    assert len(mapping.participants) == 4
    assert mapping.mailboxes == ["alice@contoso.com", "bob@contoso.com"]
    assert {"alice@contoso.com", "bob@contoso.com"} <= wanted


def test_addresses_to_check_names_both_sources_lower_case():
    it = item(P("+15551230003", email="Dave@Contoso.COM"), P("+447700900123"), P("+4915112345678", email="junk"),
              P(user_id="US.13491208655302741918"))
    wanted, _ = run(it)
    assert wanted == {"gone@contoso.com", "dave@contoso.com", "alice@contoso.com", "carol@contoso.com"}


def test_mailbox_of_for_the_renderer():
    alice, outsider = P("+447700900123", name="Alice"), P("+4915112345678", name="Client")
    _, mapping = run(item(alice, outsider))
    assert mapping.mailbox_of(alice) == "alice@contoso.com"
    assert mapping.mailbox_of(outsider) is None
    # a participant object rebuilt with another notation of the same number still matches
    assert mapping.mailbox_of(P("0044 7700 900123", name="A. Smith")) == "alice@contoso.com"
    assert mapping.mailbox_of(P("+15551239998")) is None


def test_empty_mapping_file_leaves_the_email_property():
    empty = parse_mapping_csv(b"", "US")
    it = item(P("+447700900123", email="alice@contoso.com"), P("+15551230002"))
    wanted = addresses_to_check(it, empty, "US")
    assert wanted == {"alice@contoso.com"}
    mapping = map_item(it, empty, {a: DIRECTORY[a] for a in wanted}, "US")
    assert mapping.mailboxes == ["alice@contoso.com"]
    assert [pm.via for pm in mapping.participants] == ["email", None]
