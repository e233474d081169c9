"""Faults on the WhatsApp side: Meta's media endpoints misbehaving, a crash between storing a body and queueing
it, and the CLI server stopped by a signal. Nothing acknowledged is lost; a file that cannot be had leaves the
record partial, naming it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from devtools import meta_sender
from devtools.whatsapp_world import serve_webhook
from shared import names
from shared.cli.run import run_cycle
from tests.whatsapp.conftest import by_item, fixture, quiet, with_media

REPO = Path(__file__).resolve().parents[2]
DOC_MEDIA = "6603383421387257"  # document.json's media id


def media_id(payload: dict) -> str:
    (message,) = payload["entry"][0]["changes"][0]["value"]["messages"]
    return message[message["type"]]["id"]


def test_media_failing_then_succeeding_and_slow_media_still_land_whole(wa_world, webhook):
    app, _url, post = webhook
    meta = wa_world.side.meta
    image, document = with_media(fixture("image"), meta), with_media(fixture("document"), meta)
    meta.fail(media_id(image), times=2, status=503)
    meta.slow(media_id(document), 1.5)
    assert post(image).status_code == 200 and post(document).status_code == 200
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert summary.partial == 0 and summary.failed == 0
    landed = by_item(wa_world)
    assert len(landed["wamid.IMAGE1"][0]["attachments"]) == 1
    (doc,) = landed["wamid.DOC1"][0]["attachments"]
    assert doc["name"].endswith(".pdf")
    assert sum(1 for r in meta.requests if r["status"] == 503) == 2


def test_wrong_bytes_or_expired_media_leave_a_partial_record_naming_the_file(wa_world, webhook):
    app, _url, post = webhook
    meta = wa_world.side.meta
    document = with_media(fixture("document"), meta)
    meta.wrong_bytes(media_id(document))  # every download: same length, other bytes
    voice = with_media(fixture("voice"), meta, declare_hash=False)  # no declared hash and gone: no attachment entry
    meta.expire(media_id(voice))
    assert post(document).status_code == 200 and post(voice).status_code == 200
    summary = run_cycle(app, retry_delay_seconds=0.2, progress=quiet)
    assert summary.failed == 0

    landed = by_item(wa_world)
    (doc_record,) = landed["wamid.DOC1"]
    filename = document["entry"][0]["changes"][0]["value"]["messages"][0]["document"]["filename"]
    # never archived with bytes that fail their hash: a note in its place names the file
    assert [a["name"] for a in doc_record["attachments"]] == [f"{filename}.omitted.txt"]
    assert filename in doc_record["body"]["content"]
    (voice_record,) = landed["wamid.VOICE1"]
    assert "could not be downloaded" in voice_record["body"]["content"] and media_id(voice) in voice_record["body"]["content"]
    assert "7 days" in voice_record["body"]["content"]  # why: Meta no longer had it
    assert "never matched the sha256" in doc_record["body"]["content"]

    report = app.report(summary.report_date, write=False)
    assert report.partial >= 1 and report.attachments_corrupt == 2
    assert any("could not be fetched" in p.reason for p in report.problems)
    downloads = [r for r in meta.requests if r["path"] == f"/download/{media_id(document)}"]
    assert len(downloads) == 3  # re-fetched, then given up


def test_a_crash_between_storing_a_body_and_queueing_it_loses_nothing(wa_world):
    crashed = wa_world.archiver()
    crashed.clients.queues.delete_queue(names.WEBHOOKS_QUEUE)  # the queue service failing after the store
    with serve_webhook(crashed) as url:
        response = meta_sender.send(url, fixture("text"), wa_world.side.app_secret)
    assert response.status_code == 200  # the body is stored: acknowledged, so Meta need not resend
    assert len(list(crashed.blobs.list(names.WEBHOOKS))) == 1
    crashed.close()

    later = wa_world.archiver()  # the next `python -m shared run` (it creates what is missing)
    assert later.queues.depth(names.WEBHOOKS_QUEUE) == 0  # nothing was queued
    summary = run_cycle(later, retry_delay_seconds=0.2, progress=quiet)
    assert summary.webhook_bodies == 1 and summary.failed == 0
    landed = by_item(wa_world)
    assert len(landed) == 4 and all(len(c) == 1 for c in landed.values())
    again = run_cycle(later, retry_delay_seconds=0.2, progress=quiet)  # the sweep does not bring it back twice
    assert again.webhook_bodies == 0 and len(by_item(wa_world)) == 4
    later.close()


def test_the_cli_server_receives_stops_on_sigterm_and_run_archives_what_it_took(wa_world):
    env = {**os.environ, **wa_world.env(), "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "shared", "webhook", "serve", "--host", "127.0.0.1", "--port", "0"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line + server.stderr.read()
        url = line.split("listening on ", 1)[1]
        assert meta_sender.verify(url, wa_world.side.verify_token, challenge="42").text == "42"
        assert meta_sender.send(url, fixture("echoes"), wa_world.side.app_secret).status_code == 200
        assert meta_sender.send(url, fixture("echoes"), "wrong-secret").status_code == 401
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
        assert "stopped" in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    run = subprocess.run([sys.executable, "-m", "shared", "run", "--retry-delay", "0.2"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "webhook bodies    1" in run.stdout and "capture feed      not configured" in run.stdout
    landed = by_item(wa_world)
    assert {"wamid.ECHO1", "wamid.ECHO2", "wamid.ECHO3"} <= set(landed)
    assert all(len(c) == 1 for c in landed.values())


def test_a_body_that_keeps_failing_ends_in_the_poison_queue_and_the_run_says_so(wa_world, webhook):
    app, _url, post = webhook
    assert post(fixture("text")).status_code == 200
    (name,) = list(app.blobs.list(names.WEBHOOKS))
    app.blobs.delete(names.WEBHOOKS, name)  # the stored body gone (an operator's mistake): normalising it cannot work
    summary = run_cycle(app, retry_delay_seconds=0.1, progress=quiet)
    assert summary.failed == 1 and summary.poisoned == 1
    assert app.queues.depth(names.WEBHOOKS_QUEUE + names.POISON_SUFFIX) == 1
    assert not by_item(wa_world)
