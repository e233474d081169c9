"""Items that mapped to nobody are kept, and land once the mapping file names their people."""

from __future__ import annotations

from shared import names
from shared.cli.run import drain_all, run_cycle
from shared.pipeline.reprocess import reprocess_unmapped
from tests.e2e.conftest import quiet
from tests.e2e.oracle import landed


def test_after_the_mapping_blob_changes_reprocess_lands_the_once_unmapped_items(world):
    header_only = world.day.mapping_csv.splitlines(keepends=True)[0]
    world.upload_mapping(header_only)  # the admin forgot the rows: only the items' email property maps
    app = world.archiver()
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    kept = {b.rsplit("/", 1)[-1] for b in app.blobs.list(names.UNMAPPED)}
    assert summary.unmapped == len(kept) > 0
    before = landed(world)

    world.upload_mapping()  # the full file
    app = world.archiver()
    result = reprocess_unmapped(blobs=app.blobs, queues=app.queues, tracking=app.tracking, mapping=app.mapping,
                                directory=app.directory, region=app.settings.default_phone_region,
                                options=app.render_options)
    assert result.examined == len(kept)
    drain_all(app, retry_delay_seconds=0.2)

    after = landed(world)
    assert max(after.values()) == 1  # nothing twice
    now_mapped = {item for item, mailboxes in world.day.expected.items() if mailboxes} - {i for (i, _m) in before}
    # every once-unmapped item the full mapping maps has landed in each of its mailboxes
    for item in now_mapped:
        for mailbox in world.day.expected[item]:
            assert after.get((item, mailbox)) == 1, (item, mailbox)
    assert now_mapped and set(result.item_ids) == now_mapped
    still = {b.rsplit("/", 1)[-1] for b in app.blobs.list(names.UNMAPPED)}
    assert len(still) == result.still_unmapped  # the rest stay, for the next mapping change
    app.close()
