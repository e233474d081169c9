"""Where an item came from is the entry point's word, never the item's.

A compromised feed can put ``"source": "chat_export"``, ``provenance`` facts and an
``owner_verified`` participant in its items. A reviewer reading the archived record (one record
per item, or the day's transcript) must not see any of them as if our importer had said so: the
record says ``Source: feed``, shows no provenance fact and no "exporting employee". The raw item
kept as evidence is unchanged. Chat-export imports and webhook items keep their source and
provenance (tests/chat_export, tests/whatsapp).
"""

from __future__ import annotations

import email
import json
import re
from email import policy

import pytest

from devtools.local_world import start_world
from shared import names
from shared.cli.run import run_cycle
from shared.pipeline.messages import item_key
from tests.e2e.conftest import FAST, quiet
from tests.e2e.oracle import verdict
from tests.hostile.helpers import mime_of, template, variant

FORGED_ID = "forged-provenance"
OWNER_CLAIM = "the exporting employee, named by the admin at import"


def forged(world) -> dict:
    tpl = template(world)
    return variant(tpl, id=FORGED_ID, attachments=[], text="forged provenance",
                   source="chat_export",
                   provenance={"owner verified": "yes", "time zone": "Europe/London (forged)"},
                   sender={**tpl["sender"], "owner_verified": True},
                   recipients=[{**r, "owner_verified": True} for r in tpl["recipients"]])


def reviewer_text(eml: bytes) -> tuple[str, str]:
    """(text/plain, text/html) of a record, decoded: what a reviewer reads."""
    msg = email.message_from_bytes(eml, policy=policy.default)
    parts = {p.get_content_type(): p.get_content() for p in msg.walk() if p.get_content_type() in ("text/plain", "text/html")}
    return parts["text/plain"], parts["text/html"]


def transcript_holding(app, item_id: str) -> bytes:
    for name in app.blobs.list(names.MIME, prefix="transcripts/"):
        eml = app.blobs.get(names.MIME, name)
        if item_id in (email.message_from_bytes(eml, policy=policy.default).get_all("X-WhatsApp-Item-Id") or []):
            return eml
    raise AssertionError(f"no transcript holds {item_id}")


@pytest.mark.parametrize("transcripts", [False, True], ids=["per-item", "transcript"])
def test_a_feed_item_claiming_an_import_source_provenance_and_a_verified_owner_shows_none_of_it(storage_connection,
                                                                                                 transcripts):
    overrides = {**FAST, "TRANSCRIPT_MODE": "true"} if transcripts else FAST
    with start_world(storage_connection=storage_connection, overrides=overrides) as world:
        world.feed.add_items([forged(world)])
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert summary.failed == 0
        if not transcripts:
            expected = {**world.day.expected, FORGED_ID: set(world.day.expected[template(world)["id"]])}
            v = verdict(world, expected)
            assert v.exact, str(v)  # the forged flags change nobody's copies either
        eml = transcript_holding(app, FORGED_ID) if transcripts else mime_of(app, item_key(FORGED_ID))
        text, html = reviewer_text(eml)
        assert "forged provenance" in text  # the item is archived, just without the claims
        assert re.search(r"^Source:\s+feed\s*$", text, re.M), text
        for shown in (text, html):
            assert "chat_export" not in shown
            assert "Owner verified" not in shown and "(forged)" not in shown
            assert OWNER_CLAIM not in shown
        # the evidence is untouched: the raw item as stored still holds what the feed sent
        raw = next(json.loads(app.blobs.get(names.RAW, n)) for n in app.blobs.list(names.RAW)
                   if n.endswith(f"/{item_key(FORGED_ID)}.json"))
        assert raw["source"] == "chat_export" and raw["provenance"]["owner verified"] == "yes"
        app.close()
