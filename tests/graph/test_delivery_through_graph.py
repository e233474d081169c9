"""The deliverer (shared/pipeline/deliver.py) over the real Graph adapter and the local server, with the
fault mixes of tests/faults: every copy lands exactly once. Storage is replaced by small in-memory
stand-ins here (the full-stack version with Azurite is tests/faults); this isolates the Graph side.
"""

from __future__ import annotations

import dataclasses
import hashlib
from contextlib import contextmanager

import pytest

from devtools.graph_server import Fault
from shared.adapters.graph import build_graph_mailbox
from shared.adapters.storage.tables import Claim
from shared.pipeline.deliver import Delivered, Requeue, deliver_copy
from shared.pipeline.messages import DeliveryMessage
from tests.faults.graph_mixes import GRAPH_MIXES
from tests.graph.conftest import ALICE, FOLDER, ITEM_CLASS, make_eml, make_settings


class Blobs:
    def __init__(self):
        self.data = {}

    def get(self, container, path):
        return self.data[(container, path)]


class Ledger:
    def __init__(self):
        self.rows = {}

    def begin(self, mailbox, key, owner):
        row = self.rows.setdefault((mailbox, key), {"status": "new"})
        if row["status"] == "delivered":
            return Claim("delivered", row=row)
        uncertain = row["status"] == "creating"
        row["status"] = "creating"
        return Claim("claimed", uncertain=uncertain, row=row)

    def mark_delivered(self, mailbox, key, **kw):
        self.rows[(mailbox, key)].update(status="delivered", **kw)

    def mark_failed(self, mailbox, key, reason):
        self.rows[(mailbox, key)].update(status="failed", reason=reason)

    def confirm(self, mailbox, key, owner, claim):
        return claim  # taking a run-down claim again is covered against Azurite (tests/faults/test_claim_outlived_by_its_wait.py)

    def release(self, mailbox, key, *, etag, settle_seconds=0, nothing_created=False):
        pass  # the settling time and 'claimed' again are covered against Azurite (tests/faults/test_transient_*)


class Tracking:
    def __init__(self):
        self.outcomes = {}

    def copy_outcome(self, report_date, key, mailbox, outcome, reason, **kw):
        self.outcomes[key] = (outcome, reason)


class Slots:
    @contextmanager
    def hold(self, mailbox):
        yield True


MIXES = {
    **GRAPH_MIXES,
    "import faults": [Fault(kind="commit_then_drop", method="POST", path_contains="/importMime", times=2),
                      Fault(kind="drop", method="PATCH", times=2),
                      Fault(kind="commit_then_503", method="POST", path_contains="/importMime", times=2, retry_after=1)],
    "upload faults": [Fault(kind="drop", method="PUT", path_contains="/upload/", times=2),
                      Fault(kind="commit_then_drop", method="PATCH", times=1),
                      Fault(kind="drop", method="POST", path_contains="/permanentDelete", times=1)],
}


@pytest.mark.parametrize("mix", list(MIXES))
def test_the_deliverer_lands_every_copy_exactly_once_through_graph_faults(server, mode, mix):
    big = hashlib.sha256(b"big").digest() * (4 * 1024 * 1024 // 32)
    blobs, ledger, tracking = Blobs(), Ledger(), Tracking()
    messages = []
    for n in range(8):
        attachments = [("big.bin", "application/octet-stream", big)] if n in (2, 5) and mode == "json" else None
        blobs.data[("mime", f"m{n}.eml")] = make_eml(n, attachments=attachments)
        messages.append(DeliveryMessage(item_id=f"item-{n}", item_type="message", mailbox=ALICE,
                                        mime_blob=f"m{n}.eml", item_class=ITEM_CLASS, report_date="2026-11-24"))
    faults = MIXES[mix]
    if mode == "import_mime":  # the same faults on the import mode's create
        faults = [dataclasses.replace(f, path_contains="/importMime") if (f.method, f.path_contains) == ("POST", "/messages")
                  else f for f in faults]
    for fault in faults:
        server.inject(fault)
    mailbox = build_graph_mailbox(make_settings(server, GRAPH_CREATE_MODE=mode))
    pending, outcomes = list(messages), {}
    for _ in range(40):
        if not pending:
            break
        retry = []
        for message in pending:
            try:
                result = deliver_copy(message, blobs=blobs, ledger=ledger, tracking=tracking, mailbox=mailbox,
                                      slots=Slots(), folder_name=FOLDER)
            except Exception:  # noqa: BLE001 - the queue would redeliver it
                retry.append(message)
                continue
            if isinstance(result, Requeue):
                retry.append(message)
            else:
                assert isinstance(result, Delivered)
                outcomes[message.item_id] = result.outcome
        pending = retry
    mailbox.close()
    assert any(f.times == 0 for f in server.armed_faults()), "no fault of the mix was hit"
    assert not pending
    assert set(outcomes.values()) == {"imported"}, outcomes
    landed = server.mailbox(ALICE)[FOLDER]
    # an incomplete copy never stays anywhere the user looks (a soft DELETE would leave it in Deleted Items)
    assert {name: len(ms) for name, ms in server.mailbox(ALICE).items() if name != FOLDER and ms} == {}
    assert sorted(m["archiveItemId"] for m in landed) == sorted(m.item_id for m in messages)
    assert all(m["isDraft"] is False and m["isRead"] is True for m in landed)
    for m in landed:
        if m["archiveItemId"] in ("item-2", "item-5") and mode == "json":
            assert [a["sha256"] for a in m["attachments"]] == [hashlib.sha256(big).hexdigest()]
