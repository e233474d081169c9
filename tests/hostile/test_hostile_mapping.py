"""Who gets a copy when the source lies or the directory balks at one address.

- MAPPING_EMAIL_PROPERTY: a compromised feed can name any archived mailbox in a participant's
  ``email``; ``off`` or ``domains:...`` stops that, and every record says where each of its
  mappings came from (X-WhatsApp-Mapped-Via).
- A directory look-up Graph refuses (400) for one address costs only that participant's copy.
- unmapped/ entries keep their raw item: raw/ expiring does not lose them, and an old entry whose
  raw item is gone is reported while the others are reprocessed.
"""

from __future__ import annotations

import json

import pytest

from devtools.graph_server import Fault
from devtools.local_world import start_world
from shared import names
from shared.cli.run import drain_all, run_cycle
from shared.pipeline.messages import item_key
from shared.pipeline.reprocess import reprocess_unmapped
from tests.e2e.conftest import FAST, quiet
from tests.e2e.oracle import verdict
from tests.hostile.helpers import mime_of, template, variant

EMAIL_ONLY = {"henry@contoso.com", "dbrown@contoso.com"}  # the generated day's people mapped by their email property


def planted(world) -> dict:
    """An outsider's number claiming Carol's address, in a chat with Alice: the feed plants a copy for Carol."""
    tpl = template(world)
    return variant(tpl, id="planted-for-carol", attachments=[], text="planted",
                   recipients=[{"phone": "+447700900999", "name": "Mallory", "email": "carol@contoso.com"}])


@pytest.mark.parametrize("policy", ["off", "domains:fabrikam.com"])
def test_an_untrusted_email_property_maps_nobody_and_every_other_copy_lands_once(storage_connection, policy):
    with start_world(storage_connection=storage_connection, overrides={**FAST, "MAPPING_EMAIL_PROPERTY": policy}) as world:
        world.feed.add_items([planted(world)])
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        expected = {i: set(m) - EMAIL_ONLY for i, m in world.day.expected.items()}
        expected["planted-for-carol"] = set(world.day.expected[template(world)["id"]])  # Alice's copy only
        v = verdict(world, expected)
        assert v.exact, str(v)
        report = app.report(summary.report_date, write=False)
        assert report.invariant_holds and report.failed == 0 and report.pending == 0
        unmapped = [p.reason for p in report.problems if p.stage == "mapping"]
        assert any("MAPPING_EMAIL_PROPERTY" in r for r in unmapped), unmapped
        app.close()


def test_with_the_email_property_trusted_the_record_says_where_each_mapping_came_from(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        app = world.archiver()
        run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert verdict(world).exact
        henry_bob = next(i for i, m in world.day.expected.items() if m == {"bob@contoso.com", "henry@contoso.com"})
        head = mime_of(app, item_key(henry_bob)).split(b"\r\n\r\n", 1)[0].decode()
        field = head.split("X-WhatsApp-Mapped-Via:", 1)[1].split("\r\n")
        value = field[0] + "".join(line for line in field[1:] if line[:1] in (" ", "\t"))  # unfolded
        assert "bob@contoso.com: mapping file" in value and "henry@contoso.com: email property" in value, value
        app.close()


def test_a_directory_refusal_for_one_address_costs_only_that_participants_copy(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        world.graph.inject(Fault(kind="400", method="GET", path_contains="mail eq 'henry@contoso.com'", times=None))
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        assert any("mail eq 'henry@contoso.com'" in r["path"] for r in world.graph.requests)
        expected = {i: set(m) - {"henry@contoso.com"} for i, m in world.day.expected.items()}
        v = verdict(world, expected)
        assert v.exact, str(v)
        assert summary.poisoned == 0
        report = app.report(summary.report_date, write=False)
        assert report.invariant_holds and report.failed == 0 and report.pending == 0
        refused = [p for p in report.problems if "refused to look up henry@contoso.com" in p.reason]
        assert refused and len(refused) == sum(1 for m in world.day.expected.values() if "henry@contoso.com" in m)
        app.close()


def test_unmapped_items_outlive_raw_expiry_and_a_lost_one_does_not_stop_the_rest(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        world.upload_mapping(world.day.mapping_csv.splitlines(keepends=True)[0])  # header only: email property alone
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        entries = sorted(app.blobs.list(names.UNMAPPED))
        assert summary.unmapped == len(entries) > 2
        # an entry written before entries carried their raw item, whose raw item has since expired
        old_name = entries[0]
        old = json.loads(app.blobs.get(names.UNMAPPED, old_name))
        old.pop("raw")
        app.blobs.put(names.UNMAPPED, old_name, json.dumps(old).encode())
        for name in list(app.blobs.list(names.RAW)):  # the lifecycle rule expires raw/
            app.blobs.delete(names.RAW, name)

        world.upload_mapping()
        app = world.archiver()
        result = reprocess_unmapped(blobs=app.blobs, queues=app.queues, tracking=app.tracking, mapping=app.mapping,
                                    directory=app.directory, region=app.settings.default_phone_region,
                                    options=app.render_options)
        drain_all(app, retry_delay_seconds=0.2)
        assert result.examined == len(entries)
        assert len(result.missing) == 1 and result.missing[0].startswith(old_name) and "gone" in result.missing[0]
        assert app.blobs.exists(names.UNMAPPED, old_name), "the lost one stays, for someone to look at"
        expected = {i: set(m) for i, m in world.day.expected.items() if i != old["item_id"]}
        v = verdict(world, expected)
        assert v.exact, str(v)
        assert result.now_mapped == len(entries) - 1 - result.still_unmapped
        app.close()


def test_an_entry_whose_conversion_fails_is_reported_as_such_and_the_rest_go_on(storage_connection):
    from shared.pipeline.ports import DirectoryUnavailable

    with start_world(storage_connection=storage_connection, overrides=FAST) as world:
        world.upload_mapping(world.day.mapping_csv.splitlines(keepends=True)[0])  # header only: email property alone
        app = world.archiver()
        summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
        entries = sorted(app.blobs.list(names.UNMAPPED))
        assert summary.unmapped == len(entries) > 2
        world.upload_mapping()
        app = world.archiver()

        class OutageOnce:  # the directory fails once, transiently: one entry's conversion fails
            failed = False

            def lookup(self, address):
                if not self.failed:
                    self.failed = True
                    raise DirectoryUnavailable("directory look-up timed out")
                return app.directory.lookup(address)

        result = reprocess_unmapped(blobs=app.blobs, queues=app.queues, tracking=app.tracking, mapping=app.mapping,
                                    directory=OutageOnce(), region=app.settings.default_phone_region,
                                    options=app.render_options)
        assert result.examined == len(entries)
        assert len(result.missing) == 1 and "converting it failed (DirectoryUnavailable)" in result.missing[0]
        assert "gone" not in result.missing[0]
        left = result.missing[0].split(":", 1)[0]
        assert app.blobs.exists(names.UNMAPPED, left), "the failed one stays, for the next run"
        assert result.now_mapped + result.still_unmapped == len(entries) - 1
        # the rest went on: every other entry's copies land, once; the failed one is the only extra entry left
        failed_id = json.loads(app.blobs.get(names.UNMAPPED, left))["item_id"]
        drain_all(app, retry_delay_seconds=0.2)
        v = verdict(world, {i: set(m) for i, m in world.day.expected.items() if i != failed_id})
        assert v.exact, str(v)
        assert len(list(app.blobs.list(names.UNMAPPED))) == result.still_unmapped + 1
        app.close()


def test_the_lifecycle_rule_never_expires_unmapped_entries():
    """unmapped/ entries outlive raw/: no lifecycle rule may delete a current unmapped/ blob (expiring the
    previous versions of an overwritten entry is fine: the current one holds the raw item)."""
    from tests.infra import bicep

    rules = bicep.module("storage")["resources"]["lifecycle"]["config"]["properties"]["policy"]["rules"]
    assert rules, "the lifecycle rules were not found"
    for rule in rules:
        deletes_current = "delete" in (rule["definition"]["actions"].get("baseBlob") or {})
        prefixes = rule["definition"]["filters"].get("prefixMatch") or [""]
        assert not (deletes_current and any("unmapped/".startswith(p) or p.startswith("unmapped") for p in prefixes)), (
            f"lifecycle rule {rule['name']} deletes unmapped/ entries")
