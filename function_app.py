"""Azure Functions entry points (Python v2 model): bindings only, a few lines each.

Every function hands its input to a use case through the composition root in
shared/bootstrap.py; the CLI (`python -m shared ...`) and the tests drive the same code.
"""

from __future__ import annotations

import azure.functions as func

from shared import names

app = func.FunctionApp()


def archiver():
    """The composition root, imported on the first invocation: the storage and Graph SDKs are not loaded
    while the host indexes the functions (a faster cold start)."""
    from shared.bootstrap import archiver as process_archiver

    return process_archiver()


@app.timer_trigger(schedule="%PULL_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def pull_delta(timer: func.TimerRequest) -> None:
    """Daily: pull the capture feed's window since the checkpoint into storage and the items queue."""
    try:
        archiver().pull()
    finally:  # a failing capture feed must not stop the other source's upkeep
        archiver().whatsapp_upkeep()  # WhatsApp webhooks (when on): queue bodies stored but never queued, close stale calls


@app.queue_trigger(arg_name="msg", queue_name=names.ITEMS_QUEUE, connection=names.STORAGE_CONNECTION)
def convert_item(msg: func.QueueMessage) -> None:
    """One pulled item: validate, map participants, render the .eml, queue one delivery per mailbox."""
    archiver().on_item(msg.get_body(), msg.dequeue_count or 1)


@app.queue_trigger(arg_name="msg", queue_name=names.DELIVERIES_QUEUE, connection=names.STORAGE_CONNECTION)
def deliver_item(msg: func.QueueMessage) -> None:
    """One mailbox copy: create it in the archive folder through Microsoft Graph, exactly once."""
    archiver().on_delivery(msg.get_body(), msg.dequeue_count or 1)


@app.timer_trigger(schedule="%TRANSCRIPT_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def build_transcripts(timer: func.TimerRequest) -> None:
    """Transcript mode only (else it does nothing): after the pull has been converted, render and
    queue the transcripts of every complete capture day."""
    archiver().build_transcripts()


@app.timer_trigger(schedule="%REPORT_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def daily_report(timer: func.TimerRequest) -> None:
    """After the day's pull has drained: write the admin report (JSON + HTML) and log its figures."""
    archiver().report_today()


@app.timer_trigger(schedule="%VERIFY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def verify_evidence(timer: func.TimerRequest) -> None:
    """Weekly: recompute the last 7 days' evidence hashes and chain and check every copy in Graph;
    a mismatch logs archiver.evidence.verify.failed (alerted) and fails the run."""
    archiver().verify_recent()


@app.blob_trigger(arg_name="blob", path=names.IMPORTS + "/{name}", connection=names.STORAGE_CONNECTION,
                  source=func.BlobSource.EVENT_GRID)
def import_export(blob: func.InputStream) -> None:
    """A WhatsApp "Export chat" file dropped at imports/{owner mailbox}/...: parse, store and queue its
    messages, write the import report beside it (Flex Consumption: Event Grid based blob trigger)."""
    archiver().import_uploaded(blob.name or "")


@app.route(route="whatsapp/webhook", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def whatsapp_webhook(req: func.HttpRequest) -> func.HttpResponse:
    """Meta's callback URL: the GET handshake; a signed POST stored as received and queued on webhooks (anonymous:
    Meta signs the body, the handler refuses anything unsigned)."""
    r = archiver().on_webhook(req.method, dict(req.params), dict(req.headers), req.get_body())
    return func.HttpResponse(r.body, status_code=r.status, headers={"Content-Type": r.content_type})


@app.queue_trigger(arg_name="msg", queue_name=names.WEBHOOKS_QUEUE, connection=names.STORAGE_CONNECTION)
def normalise_webhook(msg: func.QueueMessage) -> None:
    """One stored webhook body: items stored raw and queued on items, media fetched, calls paired, gaps raised."""
    archiver().on_webhook_body(msg.get_body(), msg.dequeue_count or 1)
