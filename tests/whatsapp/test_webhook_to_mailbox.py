"""Every kind of notification Meta sends, POSTed signed to the served webhook, lands as the right record in
the business number's mailbox exactly once (the domain's own fixtures, media served by Meta's stand-in)."""

from __future__ import annotations

from devtools import meta_sender
from shared.cli.run import run_cycle
from shared.domain.whatsapp import normalise_payload
from tests.e2e.oracle import fact
from tests.whatsapp.conftest import by_item, fixture, quiet, records, with_media

CLASS = {"message": "Message", "edit": "Edit", "deletion": "Deletion", "reaction": "Reaction", "call": "Call",
         "event": "Event"}
ORIGINALS = ["text", "image", "image_presigned_url", "audio", "voice", "video", "document", "sticker", "location",
             "contacts", "reaction", "interactive", "button", "order", "referral", "system", "unsupported",
             "new_message_type", "group", "echoes", "bsuid_only", "bsuid_only_echo", "history_phase1_chunk1",
             "history_phase1_chunk2", "history_media", "mixed_batch", "calls_connect", "calls_terminate", "statuses",
             "app_state_sync", "account_update_partner_removed"]
LATER = ["edit", "edit_caption", "revoke", "text", "history_phase1_chunk1"]  # changes to what came first, and repeats


def expected_items(bodies: list[bytes]) -> dict[str, str]:
    """item id -> type, as the domain reads the very bytes we send (calls paired by id)."""
    from datetime import datetime, timezone

    out = {}
    for body in bodies:
        result = normalise_payload(body, received_at=datetime.now(timezone.utc))
        out.update({i["id"]: i["type"] for i in result.items})
        out.update({e.call_id: "call" for e in result.call_events})
    return out


def test_each_kind_lands_once_as_the_right_record_in_the_business_mailbox(wa_world, webhook):
    app, _url, post = webhook
    meta = wa_world.side.meta
    first = [meta_sender.meta_bytes(with_media(fixture(name), meta)) for name in ORIGINALS]
    for body in first:
        assert post(body).status_code == 200
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert summary.failed == 0 and summary.partial == 0, summary.lines()

    later = [meta_sender.meta_bytes(with_media(fixture(name), meta)) for name in LATER]
    for body in later:
        assert post(body).status_code == 200
    again = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert again.failed == 0

    want = expected_items(first + later)
    assert len(want) > 40
    landed = by_item(wa_world)
    assert set(landed) == set(want), (set(want) - set(landed), set(landed) - set(want))
    for item_id, copies in landed.items():
        assert len(copies) == 1, item_id
        assert copies[0]["itemClass"] == f"IPM.ExternalData.WhatsAppArchiver.{CLASS[want[item_id]]}", item_id
        assert copies[0]["isDraft"] is False and copies[0]["isRead"] is True
    for user in wa_world.day.users:  # the customer is nobody's mapped number: no copy anywhere else
        assert not wa_world.graph.mailbox(user["address"]), user["address"]
    assert again.skipped == 0  # repeats (history re-sending live messages, the same text again) never reached delivery

    # files arrived whole, by hash, inside the records
    assert [a["name"] for a in landed["wamid.IMAGE1"][0]["attachments"]]
    assert [a["name"] for a in landed["wamid.IMAGE2"][0]["attachments"]]  # through the pre-signed url
    # an edit and a revoke whose originals were archived first carry the original content
    edit = landed["wamid.EDIT1"][0]["body"]["content"]
    assert "finalisieren? 🙂" in edit  # the original's text; the edit's own new text dropped the emoji
    revoke = landed["wamid.REVOKE1"][0]["body"]["content"]
    assert "See https://contoso.example/q4" in revoke and "Deleted text" in revoke
    # the call's two events became one answered call record
    assert "COMPLETED" in landed["wacid.CALL1"][0]["body"]["content"]


def test_an_edit_before_its_original_is_still_linked_and_the_original_still_lands(wa_world, webhook):
    app, _url, post = webhook
    assert post(fixture("edit")).status_code == 200
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert post(fixture("text")).status_code == 200
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    landed = by_item(wa_world)
    target = "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhggQTFBMkEzQTQ="
    assert len(landed["wamid.EDIT1"]) == 1 and len(landed[target]) == 1
    edit = landed["wamid.EDIT1"][0]["body"]["content"]
    assert target in edit and "🙂" not in edit  # linked by id; the original's text was not there to carry


def test_address_book_names_become_display_names_and_statuses_and_gaps_reach_the_report(wa_world, webhook):
    app, _url, post = webhook
    sync = fixture("app_state_sync")
    sync["entry"][0]["changes"][0]["value"]["state_sync"][0]["contact"]["full_name"] = "Kerry Fisher (Contoso Legal)"
    echo = fixture("bsuid_only_echo")
    for payload in (sync, fixture("statuses"), fixture("account_update_partner_removed")):
        assert post(payload).status_code == 200
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert post(fixture("echoes")).status_code == 200
    assert post(echo).status_code == 200
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)

    echo1 = by_item(wa_world)["wamid.ECHO1"][0]
    assert "Kerry Fisher (Contoso Legal)" in echo1["body"]["content"]

    report = app.report(summary.report_date, write=True)
    wa = report.whatsapp
    assert wa["statuses"].get("failed") == 1 and wa["failed_statuses"][0]["message_id"] == "wamid.ECHO9"
    (gap,) = wa["capture_gaps"]
    assert gap["stopped"] and gap["event"] == "PARTNER_REMOVED" and "PRIMARY_INACTIVITY" in gap["reason"]
    assert gap["number"].endswith("3881") and "1555078" not in gap["number"]  # masked per the report's rule
    assert gap["since"].startswith("2026-11-23")
    html = app.blobs.get("reports", f"{summary.report_date}.html").decode()
    assert "Capture gaps" in html and "PRIMARY_INACTIVITY" in html
    assert "CAPTURE STOPPED" in report.to_json()["summary"]
    assert records(wa_world)  # the echoes landed beside it


def test_a_call_left_open_is_archived_by_the_upkeep_and_its_late_end_becomes_a_record_of_its_own(wa_world, webhook):
    from datetime import datetime, timedelta, timezone

    from shared.pipeline import normalise_webhook

    app, _url, post = webhook
    assert post(fixture("calls_connect_only")).status_code == 200  # a connect, no terminate
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert not by_item(wa_world) and len(app.whatsapp_state.open_calls()) == 1  # waiting for its end

    later = datetime.now(timezone.utc) + normalise_webhook.CALL_CLOSE_AFTER + timedelta(minutes=1)
    assert normalise_webhook.upkeep(app.whatsapp_ports, now=later).calls_closed == 1  # the timer, hours later
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    (unfinished,) = by_item(wa_world)["wacid.CALL2#unfinished"]
    assert "not captured" in unfinished["body"]["content"]
    assert app.whatsapp_state.open_calls() == []

    late = fixture("calls_connect_only")
    call = late["entry"][0]["changes"][0]["value"]["calls"][0]
    call.update(event="terminate", timestamp="1795426502", status="COMPLETED", start_time="1795426305",
                end_time="1795426485", duration=180)
    assert post(late).status_code == 200
    run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    landed = by_item(wa_world)
    assert len(landed["wacid.CALL2#unfinished"]) == 1  # the first record stays as it was
    (ended,) = landed["wacid.CALL2"]
    assert "COMPLETED" in ended["body"]["content"] and ended["itemClass"].endswith(".Call")


def test_a_webhook_record_says_it_came_from_the_cloud_api_also_after_waiting_unmapped(wa_world, webhook):
    from devtools.whatsapp_world import BUSINESS_NUMBER
    from shared.cli.run import drain_all
    from shared.pipeline.reprocess import reprocess_unmapped

    app, _url, post = webhook
    header = b"External User ID,Microsoft 365 User Mailbox\n"
    wa_world.upload_mapping(header)  # the business number's row is missing: the item waits under unmapped/
    assert post(fixture("text")).status_code == 200
    first = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert first.unmapped > 0 and not records(wa_world)
    wa_world.upload_mapping(header + f"{BUSINESS_NUMBER},{wa_world.side.mailbox}\n".encode())
    result = reprocess_unmapped(blobs=app.blobs, queues=app.queues, tracking=app.tracking, mapping=app.mapping,
                                directory=app.directory, region=app.settings.default_phone_region,
                                options=app.render_options)
    drain_all(app, retry_delay_seconds=0.2)
    bodies = [m["body"]["content"] for m in records(wa_world)]
    assert result.now_mapped == first.unmapped == len(bodies)
    assert all(fact(body, "Source") == "whatsapp_cloud_api" for body in bodies)  # kept in the unmapped/ entry
