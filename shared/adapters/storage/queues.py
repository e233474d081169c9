"""Storage queues in the Functions host's format (base64 JSON), plus the poison queues."""

from __future__ import annotations

import json
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueServiceClient

from shared import names
from shared.adapters.storage.clients import QUEUE_POLICIES


@dataclass(frozen=True)
class Received:
    queue: str
    id: str
    pop_receipt: str
    dequeue_count: int
    body: bytes


class QueueStore:
    def __init__(self, service: QueueServiceClient):
        self.service = service
        self._clients: dict = {}

    def _q(self, queue: str):
        client = self._clients.get(queue)
        if client is None:
            client = self._clients[queue] = self.service.get_queue_client(queue, **QUEUE_POLICIES)
        return client

    def ensure_queues(self) -> None:
        for queue in names.QUEUES:
            try:
                self.service.create_queue(queue)
            except ResourceExistsError:
                pass

    def send(self, queue: str, payload: dict | bytes, *, delay_seconds: int = 0) -> Received:
        """Queue a message; the receipt returned lets this process delete it, or show it sooner, while it is
        still hidden by ``delay_seconds`` (and until a handler receives it)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        sent = self._q(queue).send_message(
            body, visibility_timeout=max(0, min(int(delay_seconds), 7 * 24 * 3600)) or None
        )
        return Received(queue, sent.id, sent.pop_receipt, 0, body)

    def receive(self, queue: str, *, max_messages: int = 16, visibility_timeout: int = 300) -> list[Received]:
        client = self._q(queue)
        out = []
        # messages_per_page: one GET for the batch (without it the SDK pages one message per GET)
        for msg in client.receive_messages(max_messages=max_messages, messages_per_page=min(max_messages, 32),
                                           visibility_timeout=visibility_timeout):
            out.append(Received(queue, msg.id, msg.pop_receipt, msg.dequeue_count, msg.content))
            if len(out) >= max_messages:
                break
        return out

    def delete(self, msg: Received) -> None:
        self._q(msg.queue).delete_message(msg.id, msg.pop_receipt)

    def release(self, msg: Received, *, delay_seconds: int) -> None:
        """Make a received message visible again after ``delay_seconds`` (a failed attempt)."""
        self._q(msg.queue).update_message(
            msg.id, msg.pop_receipt, visibility_timeout=max(0, int(delay_seconds))
        )

    def depth(self, queue: str) -> int:
        return self._q(queue).get_queue_properties().approximate_message_count
