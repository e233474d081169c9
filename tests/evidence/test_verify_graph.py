"""verify --graph over a fake mailbox: each copy asked once, the folder once per mailbox, and an
unanswered request is a finding (never a clean verdict) that says to run it again."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime, timezone

from shared.domain import evidence as ev
from shared.pipeline.evidence import verdict_lines, verify
from shared.pipeline.ports import MailboxError, StoredCopy

DAY = "2026-11-26"
SENT = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)


def entry(item_id: str, *copies: tuple[str, str]) -> ev.ItemEntry:
    return ev.ItemEntry(item_id=item_id, source="feed", stage="converted", sent_at="2026-11-26T09:30:00Z",
                        copies=tuple(ev.CopyEntry(mailbox, "imported", message_id, DAY) for mailbox, message_id in copies))


class Store:
    def __init__(self, entries: list[ev.ItemEntry]):
        self.files = {ev.manifest_name(DAY, 0): ev.render_manifest(DAY, entries, supplement=0, seq=0, previous=None)}

    def manifests(self):
        return {name: 0 for name in self.files}

    def read(self, name):
        return self.files.get(name)

    def writing(self):
        return nullcontext()


class NoBlobs:
    def sha256(self, container, name):
        return None


class Mailboxes:
    def __init__(self, copies: dict[str, StoredCopy], failing: set[str] = frozenset()):
        self.copies, self.failing = copies, failing
        self.folder_asks: list[str] = []
        self.copy_asks: list[tuple[str, str]] = []

    def find_folder(self, mailbox, folder_name):
        self.folder_asks.append(mailbox)
        return "archive-folder"

    def get_copy(self, mailbox, message_id):
        self.copy_asks.append((mailbox, message_id))
        if message_id in self.failing:
            raise MailboxError("503 Service Unavailable")
        return self.copies.get(message_id)


def stored(message_id: str, item_id: str, folder: str = "archive-folder") -> StoredCopy:
    return StoredCopy(message_id=message_id, folder_id=folder, archive_id=item_id, sent_at=SENT)


def run(entries, mailboxes):
    return verify(store=Store(entries), hasher=NoBlobs(), copies=mailboxes, first=DAY, last=DAY, today=date(2026, 11, 27))


def test_each_copy_is_asked_once_and_each_mailbox_folder_once():
    entries = [entry("item-1", ("a@contoso.com", "m1"), ("b@contoso.com", "m2")), entry("item-2", ("A@contoso.com", "m3"))]
    mailboxes = Mailboxes({"m1": stored("m1", "item-1"), "m2": stored("m2", "item-1"), "m3": stored("m3", "item-2")})
    result = run(entries, mailboxes)
    assert result.ok, verdict_lines(result)
    assert sorted(mailboxes.copy_asks) == [("A@contoso.com", "m3"), ("a@contoso.com", "m1"), ("b@contoso.com", "m2")]
    assert sorted(mailboxes.folder_asks) == ["a@contoso.com", "b@contoso.com"]  # a mailbox's case does not matter
    assert result.days[0].copies_checked == 3


def test_an_unanswered_request_is_not_a_clean_verdict():
    entries = [entry("item-1", ("a@contoso.com", "m1")), entry("item-2", ("a@contoso.com", "m2"))]
    result = run(entries, Mailboxes({"m1": stored("m1", "item-1"), "m2": stored("m2", "item-2")}, failing={"m2"}))
    assert not result.ok
    (finding,) = result.findings
    assert (finding.kind, finding.subject) == (ev.UNCHECKED, "item-2")
    assert "Graph did not answer (503 Service Unavailable); run verify --graph again" in finding.detail
    assert verdict_lines(result)[-1].startswith("verdict: FAILED")


def test_a_copy_elsewhere_with_another_archive_id_and_sent_time_names_each():
    other = StoredCopy(message_id="m1", folder_id="inbox", archive_id="item-9", sent_at=None)
    result = run([entry("item-1", ("a@contoso.com", "m1"))], Mailboxes({"m1": other}))
    kinds = sorted(f.kind for f in result.findings)
    assert kinds == sorted([ev.MOVED_COPY, ev.ALTERED_COPY, ev.ALTERED_COPY])
    details = " ".join(f.detail for f in result.findings)
    assert "now in folder inbox" in details and "'item-9', expected 'item-1'" in details
    assert "shows sent time none, the item was sent 2026-11-26T09:30:00Z" in details
    missing = run([entry("item-1", ("a@contoso.com", "m1"))], Mailboxes({}))
    assert [(f.kind, f.subject) for f in missing.findings] == [(ev.MISSING_COPY, "item-1")]
