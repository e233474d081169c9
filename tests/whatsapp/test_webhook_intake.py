"""Meta's callback URL over real HTTP: the handshake, and what is (and is never) stored from a POST."""

from __future__ import annotations

import hashlib

import httpx

from devtools import meta_sender
from devtools.whatsapp_world import serve_webhook
from shared import names
from shared.cli.run import run_cycle
from tests.whatsapp.conftest import by_item, fixture, fixture_bytes, quiet


def stored_bodies(app) -> list[str]:
    return list(app.blobs.list(names.WEBHOOKS))


def test_the_handshake_echoes_the_challenge_only_for_our_verify_token(wa_world, webhook):
    _app, url, _post = webhook
    ok = meta_sender.verify(url, wa_world.side.verify_token, challenge="8472910")
    assert (ok.status_code, ok.text) == (200, "8472910")
    assert meta_sender.verify(url, "someone-elses-token").status_code == 403
    assert httpx.get(url, params={"hub.mode": "subscribe", "hub.challenge": "1"}).status_code == 403
    assert httpx.get(url, params={"hub.mode": "unsubscribe", "hub.challenge": "1",
                                  "hub.verify_token": wa_world.side.verify_token}).status_code == 403


def test_unsigned_and_wrongly_signed_posts_are_refused_and_nothing_is_stored(wa_world, webhook):
    app, url, post = webhook
    body = meta_sender.meta_bytes(fixture("text"))
    assert post(body, app_secret=None).status_code == 401
    assert post(body, app_secret="not-the-app-secret").status_code == 401
    assert post(body, header="sha256=" + "0" * 64).status_code == 401
    assert post(body, header=meta_sender.signature(body, wa_world.side.app_secret).replace("sha256=", "sha1=")).status_code == 401
    # signed over other bytes (Meta's signature of the re-serialised JSON is not a signature of these bytes)
    assert post(body + b" ", header=meta_sender.signature(body, wa_world.side.app_secret)).status_code == 401
    assert stored_bodies(app) == []
    assert app.queues.depth(names.WEBHOOKS_QUEUE) == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read(storage_connection):
    from devtools.local_world import start_world
    from devtools.whatsapp_world import add_whatsapp

    with start_world(storage_connection=storage_connection, overrides={"WHATSAPP_MAX_BODY_BYTES": "65536"}) as world:
        side = add_whatsapp(world, with_day_mapping=False, feed=False)
        world.overrides["WHATSAPP_MAX_BODY_BYTES"] = "65536"
        app = world.archiver()
        with serve_webhook(app) as url:
            big = b'{"object":"whatsapp_business_account","pad":"' + b"x" * 70000 + b'"}'
            response = meta_sender.post(url, big, app_secret=side.app_secret)
            assert response.status_code == 413
            small = meta_sender.meta_bytes(fixture("text"))
            assert meta_sender.post(url, small, app_secret=side.app_secret).status_code == 200  # the server still serves
        assert [n.rsplit("/", 1)[1] for n in stored_bodies(app)] == [hashlib.sha256(small).hexdigest() + ".json"]
        app.close()


def test_meta_escaped_bytes_verify_as_received_and_the_body_is_stored_byte_for_byte(wa_world, webhook):
    app, _url, post = webhook
    body = fixture_bytes("meta_escaped_text.body")
    assert b"\\u" in body and b"\\/" in body
    assert post(body).status_code == 200
    (name,) = stored_bodies(app)
    assert app.blobs.get(names.WEBHOOKS, name) == body
    assert name.endswith(hashlib.sha256(body).hexdigest() + ".json")


def test_signed_bodies_that_are_not_json_or_not_metas_shape_are_kept_counted_and_harm_nothing(wa_world, webhook):
    app, _url, post = webhook
    for bad in (fixture_bytes("malformed.body"), meta_sender.meta_bytes(fixture("wrong_object")),
                meta_sender.meta_bytes(fixture("wrong_shape_entry")), b"[1, 2, 3]"):
        assert post(bad).status_code == 200
    assert post(fixture("text")).status_code == 200
    assert len(stored_bodies(app)) == 5

    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert summary.failed == 0 and summary.webhook_bodies == 5
    report = app.report(summary.report_date, write=False)
    assert report.whatsapp["unknown_changes"] >= 4
    assert all(u["body"].startswith("webhooks/") for u in report.whatsapp["unknown"])
    landed = by_item(wa_world)
    assert len(landed) == 4 and all(len(copies) == 1 for copies in landed.values())  # text.json's four messages


def test_a_replayed_signed_body_is_stored_once_and_lands_once(wa_world, webhook):
    app, _url, post = webhook
    payload = fixture("text")
    for _ in range(3):
        assert post(payload).status_code == 200
    assert len(stored_bodies(app)) == 1
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert summary.failed == 0
    landed = by_item(wa_world)
    assert len(landed) == 4 and all(len(copies) == 1 for copies in landed.values())
    assert summary.skipped == 0  # the replays never reached delivery: the wamid was already queued


def test_with_the_webhook_settings_unset_the_endpoint_is_off(storage_connection):
    from devtools.local_world import start_world

    with start_world(storage_connection=storage_connection) as world:
        app = world.archiver()
        with serve_webhook(app) as url:
            assert meta_sender.verify(url, "anything").status_code == 404
            assert meta_sender.send(url, fixture("text"), "anything").status_code == 404
        assert stored_bodies(app) == []
        app.close()


def test_when_the_body_cannot_be_stored_meta_gets_a_500_and_retries(wa_world, webhook):
    app, _url, post = webhook
    app.clients.blobs.delete_container(names.WEBHOOKS)  # storage refusing the write
    assert post(fixture("text")).status_code == 500  # never a 200 for what we do not hold
    assert app.queues.depth(names.WEBHOOKS_QUEUE) == 0
    app.clients.blobs.create_container(names.WEBHOOKS)
    assert post(fixture("text")).status_code == 200  # Meta's retry
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert summary.webhook_bodies == 1 and len(by_item(wa_world)) == 4
