"""normalise_body over in-memory ports: what it reads from storage per body (no Azurite needed)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

from shared.pipeline.normalise_webhook import WhatsAppPorts, normalise_body
from tests.whatsapp_domain.helpers import body

RECEIVED = datetime(2026, 11, 23, 9, 20, 0, tzinfo=timezone.utc)


class _Bodies:
    def __init__(self, raw: bytes):
        self.raw, self.meta = raw, {"received_at": RECEIVED.isoformat()}

    def get(self, name):
        return self.raw, dict(self.meta)

    def mark(self, name, state, received_at):
        self.meta["state"] = state


class _Blobs:
    def __init__(self):
        self.data: dict[tuple[str, str], bytes] = {}

    def put(self, container, name, data, *, content_type=None, overwrite=True, metadata=None):
        if not overwrite and (container, name) in self.data:
            return False
        self.data[(container, name)] = data if isinstance(data, bytes) else data.read()
        return True

    def get(self, container, name):
        return self.data[(container, name)]

    def get_if_exists(self, container, name):
        return self.data.get((container, name))

    def size(self, container, name):
        return len(self.data[(container, name)]) if (container, name) in self.data else None


class _Queues:
    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def send(self, queue, payload):
        self.sent.append((queue, payload))


class _Tracking:
    def item(self, *args, **kwargs):
        pass


class _State:
    def __init__(self, names: dict[str, str]):
        self.names, self.items = dict(names), {}
        self.name_reads: Counter[str] = Counter()

    def contact_name(self, key):
        self.name_reads[key] += 1
        return self.names.get(key)

    def set_contact_name(self, key, name):
        self.names[key] = name

    def item(self, key):
        return self.items.get(key)

    def item_stored(self, key, raw_blob):
        self.items.setdefault(key, {})["raw_blob"] = raw_blob

    def item_queued(self, key, report_date):
        self.items.setdefault(key, {})["queued"] = True

    def report_row(self, *args, **kwargs):
        pass


def test_a_body_reads_each_participants_contact_name_once_and_every_item_gets_it():
    payload = json.loads(body("text"))
    value = payload["entry"][0]["changes"][0]["value"]
    del value["contacts"]  # no profile names in the webhook: the address book fills them in
    customers = {m["from"] for m in value["messages"] if m["from"] != "15550783881"}
    assert len(customers) == 1 and sum(m["from"] in customers for m in value["messages"]) > 1
    state = _State({"447700900123": "Kerry Fisher (address book)"})
    ports = WhatsAppPorts(bodies=_Bodies(json.dumps(payload).encode()), blobs=_Blobs(), queues=_Queues(),
                          tracking=_Tracking(), state=state, media=None)

    out = normalise_body("2026-11-23/x.json", ports)

    assert out is not None and out.items == len(ports.queues.sent) > 1
    stored = [json.loads(data) for (container, _), data in ports.blobs.data.items() if container == "raw"]
    assert len(stored) == out.items
    people = [p for item in stored for p in [item["sender"], *(item.get("recipients") or [])]]
    assert [p["name"] for p in people if p.get("phone") == "+447700900123"].count("Kerry Fisher (address book)") \
        == sum(p.get("phone") == "+447700900123" for p in people) > 1
    assert state.name_reads and max(state.name_reads.values()) == 1, state.name_reads


class _Media:
    def __init__(self, files: dict[str, bytes]):
        self.files, self.downloads = files, []

    def download(self, media_id, sink, *, url=None):
        self.downloads.append(media_id)
        sink.write(self.files[media_id])
        return len(self.files[media_id])


def _ports(raw: bytes, state: _State, blobs: _Blobs, media: _Media | None = None) -> WhatsAppPorts:
    return WhatsAppPorts(bodies=_Bodies(raw), blobs=blobs, queues=_Queues(), tracking=_Tracking(), state=state, media=media)


def _raw_item(ports: WhatsAppPorts) -> dict:
    ((_queue, message),) = ports.queues.sent
    return json.loads(ports.blobs.get("raw", message["raw_blob"]))


def test_a_revoked_photo_carries_the_stored_file_and_its_caption_from_the_archived_original():
    state, blobs = _State({}), _Blobs()
    media = _Media({"1003383421387256": b"photo bytes"})
    first = _ports(body("image"), state, blobs, media)
    assert normalise_body("a.json", first).media_fetched == 1
    (photo,) = _raw_item(first)["attachments"]
    assert blobs.get("attachments", photo["sha256"]) == b"photo bytes" and photo["size"] == len(b"photo bytes")

    revoke = json.loads(body("revoke"))
    revoke["entry"][0]["changes"][0]["value"]["messages"][0]["revoke"]["original_message_id"] = "wamid.IMAGE1"
    second = _ports(json.dumps(revoke).encode(), state, blobs, media)
    assert normalise_body("b.json", second).items == 1
    deletion = _raw_item(second)
    assert deletion["type"] == "deletion" and deletion["target_id"] == "wamid.IMAGE1"
    assert deletion["original_text"] == "Whiteboard from our meeting"
    assert deletion["attachments"] == [photo]  # the file already stored by hash: nothing downloaded again
    assert media.downloads == ["1003383421387256"]
