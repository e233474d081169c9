"""The Functions host sees five functions bound to the right queues, connection and schedules."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from shared import names

REPO = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def bindings() -> dict[str, list[dict]]:
    import function_app

    # get_functions() may be called once per app: cache it for every test here
    return {f.get_function_name(): [b.get_dict_repr() for b in f.get_bindings()] for f in function_app.app.get_functions()}


def test_the_functions_are_registered():
    assert set(bindings()) == {"pull_delta", "convert_item", "deliver_item", "build_transcripts", "daily_report",
                               "verify_evidence", "import_export", "whatsapp_webhook", "normalise_webhook"}


def test_timers_read_their_schedule_from_settings_and_never_fire_on_startup():
    for name, setting in (("pull_delta", "PULL_SCHEDULE"), ("build_transcripts", "TRANSCRIPT_SCHEDULE"),
                          ("daily_report", "REPORT_SCHEDULE"), ("verify_evidence", "VERIFY_SCHEDULE")):
        (binding,) = bindings()[name]
        assert binding["type"] == "timerTrigger"
        assert binding["schedule"] == f"%{setting}%"
        assert binding["runOnStartup"] is False  # would also fire on every scale-out and deploy


def test_queue_functions_bind_the_pipeline_queues_on_the_storage_connection():
    for name, queue in (("convert_item", names.ITEMS_QUEUE), ("deliver_item", names.DELIVERIES_QUEUE)):
        (binding,) = bindings()[name]
        assert binding["type"] == "queueTrigger"
        assert binding["queueName"] == queue
        assert binding["connection"] == names.STORAGE_CONNECTION


def test_host_json_retries_then_poisons_and_reads_base64():
    queues = json.loads((REPO / "host.json").read_text())["extensions"]["queues"]
    assert queues["maxDequeueCount"] == 5
    assert queues["messageEncoding"] == "base64"
    from shared.bootstrap import host_queue_settings

    assert host_queue_settings()["maxDequeueCount"] == 5


def test_import_export_is_an_event_grid_blob_trigger_on_the_imports_container():
    (binding,) = bindings()["import_export"]
    assert binding["type"] == "blobTrigger"
    assert binding["path"] == names.IMPORTS + "/{name}"
    assert binding["source"] == "EventGrid"  # Flex Consumption supports no other blob trigger
    assert binding["connection"] == names.STORAGE_CONNECTION


def test_the_whatsapp_webhook_is_anonymous_http_on_its_route_and_its_bodies_are_normalised_from_their_queue():
    trigger = next(b for b in bindings()["whatsapp_webhook"] if b["type"] == "httpTrigger")
    assert trigger["route"] == "whatsapp/webhook"
    assert str(getattr(trigger["authLevel"], "value", trigger["authLevel"])).lower() == "anonymous"  # Meta signs the body; the handler refuses anything unsigned
    assert {str(getattr(m, "value", m)).lower() for m in trigger["methods"]} == {"get", "post"}
    (binding,) = bindings()["normalise_webhook"]
    assert binding["queueName"] == names.WEBHOOKS_QUEUE and binding["connection"] == names.STORAGE_CONNECTION
