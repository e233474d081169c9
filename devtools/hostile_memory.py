"""Peak memory against a hostile feed: the figures quoted in docs/hostile-source.md, reproducible.

    .venv/bin/python -m devtools.hostile_memory            # defaults: 20 MiB file, 256 MiB gzip bomb
    .venv/bin/python -m devtools.hostile_memory --file-mib 5 --bomb-mib 64

Measures (tracemalloc, this process only):
- rendering one record with one file of ``--file-mib``: the peak above the file, and the factor
  the per-process memory budget (shared/pipeline/memory_budget.py) reserves per embeddable byte;
- a page that is a gzip bomb of ``--bomb-mib`` inflated, read by the feed client with
  FEED_MAX_PAGE_BYTES = 4 MiB, against httpx's own whole-body read (what the client did before).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tracemalloc
from datetime import date

import httpx

from devtools.feed_server import FeedServer
from devtools.sample_day import generate_day
from shared.adapters.feed_http import HttpFeed
from shared.domain.items import parse_item
from shared.domain.record import RenderOptions, render_record
from shared.pipeline.ports import FeedError

MiB = 1024 * 1024


def traced(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def render_peak(file_mib: int) -> tuple[int, int]:
    data = os.urandom(file_mib * MiB)
    day = generate_day(date(2026, 11, 22))
    tpl = next(i for i in day.items if i.get("attachments"))
    item = parse_item({**tpl, "attachments": [{**tpl["attachments"][0], "size": len(data),
                                               "sha256": hashlib.sha256(data).hexdigest()}]})

    class Source:
        def read(self, _attachment):
            return data

    return len(data), traced(lambda: render_record(item, mailbox_of=lambda _p: None, attachments=Source(),
                                                   options=RenderOptions()))


def bomb(inflated_mib: int) -> bytes:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return b"".join([packer.compress(b" " * MiB) for _ in range(inflated_mib)] + [packer.flush()])


def bomb_peaks(inflated_mib: int) -> tuple[int, int, int]:
    body = bomb(inflated_mib)
    day = generate_day(date(2026, 11, 22))
    with FeedServer(day.items, day.attachments, token="t") as server:
        server.serve_raw_page(body, times=2, content_encoding="gzip")
        feed = HttpFeed(server.base_url, "t", max_page_bytes=4 * MiB)

        def bounded():
            try:
                list(feed.pages(_utc(2026, 11, 22), _utc(2026, 11, 23)))
            except FeedError:
                pass

        def whole():
            with httpx.Client() as client:
                client.get(f"{server.base_url}/v1/items", params={"since": "2026-11-22T00:00:00Z",
                                                                  "until": "2026-11-23T00:00:00Z"},
                           headers={"Authorization": "Bearer t"}).read()

        try:
            return len(body), traced(bounded), traced(whole)
        finally:
            feed.close()


def _utc(y, m, d):
    from datetime import datetime, timezone

    return datetime(y, m, d, tzinfo=timezone.utc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.hostile_memory")
    parser.add_argument("--file-mib", type=int, default=20)
    parser.add_argument("--bomb-mib", type=int, default=256)
    args = parser.parse_args(argv)
    size, peak = render_peak(args.file_mib)
    print(f"render, one {size // MiB} MiB file: peak {peak / MiB:.0f} MiB above the file = "
          f"{(peak + size) / size:.1f}x the file in all (the budget reserves 7x)")
    wire, bounded, whole = bomb_peaks(args.bomb_mib)
    print(f"gzip bomb page, {wire / 1024:.0f} KiB on the wire, {args.bomb_mib} MiB inflated: "
          f"feed client peak {bounded / MiB:.1f} MiB (FEED_MAX_PAGE_BYTES 4 MiB); httpx whole-body read {whole / MiB:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
