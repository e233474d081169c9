"""The local Graph and feed servers in a process of their own, for the benchmarks.

In Azure, Graph and the capture service are not in the archiver's process. Run in-process, the local
servers' CPU (parsing requests, JSON, the Graph server's checks of each record) competes with the
pipeline for one interpreter, which stretches the pipeline's Graph round trips more than a naive
archiver's (the naive has almost no CPU of its own to compete with), and so measures the harness as
much as the archiver. ``start_world(servers_apart=True)`` starts both here instead, behind objects
with the part of their interface the benchmarks use. The tests keep the in-process servers: they
reach into them (faults, held pages, peaks).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from contextlib import ExitStack
from multiprocessing.managers import BaseManager
from pathlib import Path

from devtools.feed_server import FeedServer
from devtools.graph_server import GraphServer

SETTINGS = ("latency", "concurrency_limit", "rate_limit")  # what the benchmarks may change on the Graph server


class _Graph:
    """Lives in the servers' process: the Graph server and what the benchmarks ask of it."""

    def __init__(self, port: int = 0):
        self.server = GraphServer(port=port).start()

    def base_url(self) -> str:
        return self.server.base_url

    def add_user(self, address: str, **kw) -> None:
        self.server.add_user(address, **kw)

    def configure(self, **values) -> None:
        for name, value in values.items():
            if name not in SETTINGS:
                raise AttributeError(f"the Graph server has no setting {name!r} the benchmarks may change")
            setattr(self.server, name, value)

    def setting(self, name: str):
        return getattr(self.server, name)

    def requests(self) -> list[dict]:
        with self.server._lock:
            return list(self.server.requests)

    def mailbox(self, address: str) -> dict:
        return self.server.mailbox(address)


class _Feed:
    def __init__(self, items: list[dict], attachments: dict[str, bytes], token: str, port: int = 0):
        self.server = FeedServer(items, attachments, token=token, port=port).start()

    def base_url(self) -> str:
        return self.server.base_url


class _Servers(BaseManager):
    pass


_Servers.register("Graph", _Graph)
_Servers.register("Feed", _Feed)


class RemoteGraph:
    """The Graph server in the servers' process, as the benchmarks use a GraphServer."""

    def __init__(self, proxy):
        self._proxy = proxy
        self.base_url: str = proxy.base_url()

    def add_user(self, address: str, **kw) -> None:
        self._proxy.add_user(address, **kw)

    def mailbox(self, address: str) -> dict:
        return self._proxy.mailbox(address)

    @property
    def requests(self) -> list[dict]:
        return self._proxy.requests()

    def _setting(name: str):  # noqa: N805 - a property factory
        return property(lambda self: self._proxy.setting(name), lambda self, value: self._proxy.configure(**{name: value}))

    latency, concurrency_limit, rate_limit = map(_setting, SETTINGS)


class RemoteFeed:
    def __init__(self, proxy):
        self._proxy = proxy
        self.base_url: str = proxy.base_url()


class Servers:
    """The servers' process: ``Graph(port)`` and ``Feed(items, attachments, token, port)`` start a server there."""

    def __init__(self):
        key = secrets.token_bytes(16)  # the manager's authkey: only this process talks to the servers' process
        root = Path(__file__).resolve().parents[1]
        self._process = subprocess.Popen([sys.executable, "-m", "devtools.remote_servers"], cwd=root,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._process.stdin.write(key.hex().encode() + b"\n")
        self._process.stdin.flush()
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self.shutdown()
            raise RuntimeError("the local servers' process did not start (see its output above)")
        self._manager = _Servers(address=("127.0.0.1", int(port)), authkey=key)
        self._manager.connect()
        self.Graph = self._manager.Graph
        self.Feed = self._manager.Feed

    def shutdown(self) -> None:
        """Ends the process, and the servers in it."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()

    def __enter__(self) -> "Servers":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def open_graph(stack: ExitStack, *, apart: bool, port: int = 0, servers: Servers | None = None):
    """A started Graph server, stopped when ``stack`` closes: in the servers' process (``apart``; ``servers``, or a
    new one) behind a RemoteGraph, else in this one."""
    if not apart:
        graph = GraphServer(port=port).start()
        stack.callback(graph.stop)
        return graph
    servers = servers or stack.enter_context(Servers())
    return RemoteGraph(servers.Graph(port))


def _serve() -> None:
    key = bytes.fromhex(sys.stdin.readline().strip())
    server = _Servers(address=("127.0.0.1", 0), authkey=key).get_server()
    print(server.address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve()
