"""Benchmark figure for the WhatsApp webhooks (issue 9), run by `python -m devtools.bench webhook`."""

from __future__ import annotations

import time


def bench_webhook(n: int) -> None:
    """WhatsApp webhooks: signed POSTs accepted per second on loopback (verify, store, queue, 200) against POSTs the
    same server refuses at the signature check (nothing stored: the baseline), and the latency from a POST's 200 to
    its copy appearing in the mailbox while a worker drains continuously as the Functions would (p50/p95)."""
    import threading

    import httpx

    from devtools import meta_sender
    from devtools.local_world import start_world
    from devtools.whatsapp_world import BUSINESS_NUMBER, add_whatsapp, serve_webhook
    from shared import names
    from shared.pipeline.runner import drain

    def payload(i: int) -> bytes:
        message = {"from": "447700900123", "id": f"wamid.BENCH{i:06d}", "timestamp": str(int(time.time())), "type": "text",
                   "text": {"body": f"bench message {i} / Grüße"}}
        return meta_sender.meta_bytes({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {
                "display_phone_number": BUSINESS_NUMBER.lstrip("+"), "phone_number_id": "106540352242922"},
                "messages": [message]}}]}]})

    import logging

    logging.getLogger("shared").setLevel(logging.ERROR)  # the baseline's refusals each log a warning
    with start_world(overrides={"DELIVERY_CLAIM_SECONDS": "30"}) as world:
        side = add_whatsapp(world, with_day_mapping=False, feed=False)
        app = world.archiver()
        bodies = [payload(i) for i in range(n)]
        seen: dict[str, float] = {}
        accepted: dict[str, float] = {}
        stop = threading.Event()

        def work(queue: str, handler) -> None:  # one queue-triggered Function, polling as the host does
            while not stop.is_set():
                drain(app.queues, queue, handler, max_dequeue_count=5, retry_delay_seconds=0.2, workers=2,
                      max_idle_seconds=5)
                time.sleep(0.02)

        def watch() -> None:
            while not stop.is_set():
                now = time.perf_counter()
                for m in world.graph.mailbox(side.mailbox).get("WhatsApp Archiver", []):
                    seen.setdefault(m["archiveItemId"], now)
                time.sleep(0.02)

        with serve_webhook(app) as url, httpx.Client() as client:
            started = time.perf_counter()
            refused = sum(meta_sender.post(url, b, app_secret=None, client=client).status_code == 401 for b in bodies)
            baseline_s = time.perf_counter() - started
            threads = [threading.Thread(target=work, args=(q, h), daemon=True) for q, h in (
                (names.WEBHOOKS_QUEUE, app.on_webhook_body), (names.ITEMS_QUEUE, app.on_item),
                (names.DELIVERIES_QUEUE, app.on_delivery))] + [threading.Thread(target=watch, daemon=True)]
            for t in threads:
                t.start()
            started = time.perf_counter()
            for i, body in enumerate(bodies):
                if meta_sender.post(url, body, app_secret=side.app_secret, client=client).status_code == 200:
                    accepted[f"wamid.BENCH{i:06d}"] = time.perf_counter()
            accept_s = time.perf_counter() - started
            deadline = time.monotonic() + 300
            while len(seen) < len(accepted) and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            for t in threads:
                t.join(timeout=30)
        app.close()
    latencies = sorted(seen[k] - accepted[k] for k in accepted if k in seen)
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    print(f"webhook: {n} signed POSTs on loopback, {len(accepted)} accepted, {len(latencies)} copies created")
    print(f"  accepted (verify + store + queue + 200)        {accept_s:7.2f} s  {len(accepted) / accept_s:7.1f} POSTs/s")
    print(f"  refused at the signature check (baseline)      {baseline_s:7.2f} s  {refused / baseline_s:7.1f} POSTs/s")
    print(f"  POST accepted -> copy created, p50 / p95       {pct(0.5):7.2f} s / {pct(0.95):.2f} s (3 queues drained concurrently)")
