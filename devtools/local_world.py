"""A whole local world for the archiver: Azurite, the capture feed and the Graph mailbox server.

Used by the demo (`scripts/demo`) and the end-to-end and fault-injection tests: the same real
code path as in Azure, with every outside service replaced by a local server that speaks its
protocol. Nothing here is imported by the deployed app.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from devtools.azurite import Azurite
from devtools.feed_server import FeedServer
from devtools.graph_server import GraphServer
from devtools.remote_servers import RemoteFeed, RemoteGraph, Servers, open_graph
from devtools.sample_day import SampleDay, generate_day
from shared import names
from shared.bootstrap import Archiver
from shared.settings import Settings, load_settings

FEED_TOKEN = "local-dev-token"  # the local feed server's token; not a secret


@dataclass
class LocalWorld:
    day: SampleDay
    feed: FeedServer | RemoteFeed  # the server itself, or its proxy when it runs in a process of its own
    graph: GraphServer | RemoteGraph
    storage_connection: str
    azurite: Azurite | None = None
    overrides: dict = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    def env(self, **extra) -> dict[str, str]:
        """The app settings pointing at this world, as environment variables (for `python -m shared` subprocesses)."""
        return {k: str(v) for k, v in self._values(**extra).items()}

    def settings(self, **extra) -> Settings:
        return load_settings(**self._values(**extra))

    def _values(self, **extra) -> dict:
        return {
            "AzureWebJobsStorage": self.storage_connection,
            "FEED_BASE_URL": self.feed.base_url,
            "FEED_TOKEN": FEED_TOKEN,
            "FEED_PAGE_SIZE": "50",
            "GRAPH_ENDPOINT": self.graph.base_url,
            "FIRST_RUN_LOOKBACK_HOURS": "72",
            **self.overrides,
            **extra,
        }

    def archiver(self, **extra) -> Archiver:
        app = Archiver(self.settings(**extra))
        app.ensure_storage()
        return app

    def upload_mapping(self, csv_bytes: bytes | None = None) -> None:
        app = self.archiver()
        s = app.settings
        app.blobs.put(s.mapping_container, s.mapping_path, csv_bytes if csv_bytes is not None else self.day.mapping_csv,
                      content_type="text/csv")

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "LocalWorld":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_world(*, storage_connection: str | None = None, day: date | None = None, seed: int = 7, scale: int = 1,
                overrides: dict | None = None, feed_port: int = 0, graph_port: int = 0,
                servers_apart: bool = False) -> LocalWorld:
    """Start what is not given: Azurite (in memory), the feed with a generated day, the Graph server with its users.
    ``servers_apart``: the feed and Graph servers run in a process of their own, as the outside services do in
    Azure (the benchmarks; see devtools.remote_servers), reachable through the part of their interface the
    benchmarks use."""
    stack = ExitStack()
    azurite = None
    if storage_connection is None:
        azurite = stack.enter_context(Azurite())
        storage_connection = azurite.connection_string
    # yesterday by default: the whole day is in the past, so the first pull's window covers all of it
    sample = generate_day(day or (datetime.now(timezone.utc).date() - timedelta(days=1)), seed=seed, scale=scale)
    if servers_apart:
        servers = stack.enter_context(Servers())
        feed = RemoteFeed(servers.Feed(sample.items, sample.attachments, FEED_TOKEN, feed_port))
    else:
        servers = None
        feed = FeedServer(sample.items, sample.attachments, token=FEED_TOKEN, port=feed_port).start()
        stack.callback(feed.stop)
    graph = open_graph(stack, apart=servers_apart, port=graph_port, servers=servers)
    for user in sample.users:
        graph.add_user(user["address"], enabled=user.get("enabled", True), has_mailbox=user.get("has_mailbox", True),
                       display_name=user.get("display_name"), aliases=tuple(user.get("aliases", ())))
    world = LocalWorld(day=sample, feed=feed, graph=graph, storage_connection=storage_connection, azurite=azurite,
                       overrides=dict(overrides or {}), _stack=stack)
    world.upload_mapping()
    return world


def archive_folder(world: LocalWorld, address: str, folder: str = "WhatsApp Archiver") -> list[dict]:
    return world.graph.mailbox(address).get(folder, [])


__all__ = ["LocalWorld", "start_world", "archive_folder", "names"]
