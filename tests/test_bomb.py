"""Decompression bombs: the size cap counts decoded bytes, layer by layer, piece by piece.

A two-layer gzip bomb (``Content-Encoding: gzip, gzip``: 3.5 KB on the wire, 2 GiB inside) is
built by streaming compression (never held in memory) and served on loopback as a feed and as
an article page, among good feeds; a real `digest poll` process must stay far below 1 GB
resident, report the bomb in one line and store the good feeds' articles.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import os
import sqlite3
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import write_config
from farm import Farm, start_digest
from httpserver import LocalHTTPServer

from digest.config import FeedsConfig
from digest.errors import FetchError
from digest.ingest.fetch import Fetcher

CFG = FeedsConfig(allow_private_networks=True, timeout_seconds=20.0)
GiB = 1 << 30


@functools.lru_cache(maxsize=4)
def bomb(inside: int, layers: int = 2) -> bytes:
    """``inside`` zero bytes under ``layers`` gzip layers, compressed as a stream (1 MiB at a time)."""
    zs = [zlib.compressobj(9, zlib.DEFLATED, 31) for _ in range(layers)]
    out: list[bytes] = []

    def push(data: bytes, i: int) -> None:
        if i == layers:
            out.append(data)
        elif data:
            push(zs[i].compress(data), i + 1)

    block = bytes(1 << 20)
    for _ in range(inside // len(block)):
        push(block, 0)
    for i in range(layers):  # flush each layer, inner first, its tail going through the outer ones
        push(zs[i].flush(), i + 1)
    return b"".join(out)


def fetch(url: str, cfg: FeedsConfig = CFG) -> bytes:
    async def run() -> bytes:
        async with Fetcher(cfg) as f:
            return (await f.get(url)).content
    return asyncio.run(run())


def fetch_error(url: str, cfg: FeedsConfig = CFG) -> str:
    with pytest.raises(FetchError) as info:
        fetch(url, cfg)
    return info.value.reason


def test_two_layer_bomb_is_cut_at_the_cap_without_decoding_it_whole(http_server: LocalHTTPServer) -> None:
    import tracemalloc

    http_server.route("/bomb.xml", body=bomb(256 << 20), content_type="application/rss+xml",
                      headers={"Content-Encoding": "gzip, gzip"})
    tracemalloc.start()
    try:
        reason = fetch_error(http_server.url("/bomb.xml"), replace(CFG, max_bytes=1_000_000))
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason.startswith("response larger than 1000000 bytes once decoded (Content-Encoding: gzip, gzip; ")
    assert "\n" not in reason
    assert peak < 16 << 20, f"peak {peak >> 20} MiB of Python allocations for a 1 MB cap"


def test_two_layers_are_decoded_and_a_third_is_refused(http_server: LocalHTTPServer) -> None:
    payload = b"<rss><channel><title>two layers</title></channel></rss>" * 500
    http_server.route("/two.xml", body=gzip.compress(gzip.compress(payload)), headers={"Content-Encoding": "gzip, gzip"})
    assert fetch(http_server.url("/two.xml")) == payload
    # the same, spelled as two header lines
    http_server.route("/lines.xml", body=gzip.compress(zlib.compress(payload)),
                      headers={"Content-Encoding": "deflate", "content-encoding": "gzip"})
    assert fetch(http_server.url("/lines.xml")) == payload
    three = gzip.compress(gzip.compress(gzip.compress(payload)))
    http_server.route("/three.xml", body=three, headers={"Content-Encoding": "gzip, gzip, gzip"})
    assert fetch_error(http_server.url("/three.xml")) == (
        "3 Content-Encoding layers (gzip, gzip, gzip); at most 2 are accepted")


def test_deflate_both_spellings_and_unsupported_encodings(http_server: LocalHTTPServer) -> None:
    payload = b"<rss>" + b"deflated " * 3000 + b"</rss>"
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    http_server.route("/zlib.xml", body=zlib.compress(payload), headers={"Content-Encoding": "deflate"})
    http_server.route("/raw.xml", body=raw.compress(payload) + raw.flush(), headers={"Content-Encoding": "deflate"})
    http_server.route("/odd.xml", body=payload, headers={"Content-Encoding": "utf-8"})  # junk, as httpx: ignored
    http_server.route("/br.xml", body=payload, headers={"Content-Encoding": "br"})
    http_server.route("/corrupt.xml", body=b"\x1f\x8b\x08\x00garbage" * 10, headers={"Content-Encoding": "gzip"})
    assert fetch(http_server.url("/zlib.xml")) == payload
    assert fetch(http_server.url("/raw.xml")) == payload
    assert fetch(http_server.url("/odd.xml")) == payload
    assert fetch_error(http_server.url("/br.xml")) == "unsupported Content-Encoding 'br' (asked for gzip, deflate)"
    assert fetch_error(http_server.url("/corrupt.xml")).startswith("could not decode the response: ")
    assert http_server.requests[-1].headers["Accept-Encoding"] == "gzip, deflate"


GOOD_FEEDS, GOOD_PAGES = 3, 4


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_poll_among_good_feeds_survives_a_2gib_bomb_as_feed_and_as_page(tmp_path: Path,
                                                                        http_server: LocalHTTPServer) -> None:
    data = bomb(2 * GiB)
    assert len(data) < 8000  # a few KB on the wire
    enc = {"Content-Encoding": "gzip, gzip"}
    http_server.route("/bomb.xml", body=data, content_type="application/rss+xml", headers=enc)
    http_server.route("/bomb.html", body=data, content_type="text/html; charset=utf-8", headers=enc)
    page_feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Bombed page</title>"
                 f"<item><title>Gateway flaw exploited by a loader</title><link>{http_server.url('/bomb.html')}</link>"
                 "<guid isPermaLink='false'>bombed-page-1</guid><description>Attackers exploited a gateway flaw to drop a loader, "
                 "the vendor said on Tuesday.</description></item></channel></rss>")
    http_server.route("/page-feed.xml", body=page_feed, content_type="application/rss+xml")
    farm = Farm(http_server, GOOD_FEEDS, GOOD_PAGES, seed=7)
    (tmp_path / "feeds.toml").write_text(
        farm.feeds_toml() + f'[[feed]]\nname = "Bomb"\nurl = "{http_server.url("/bomb.xml")}"\n\n'
        f'[[feed]]\nname = "Bombed page"\nurl = "{http_server.url("/page-feed.xml")}"\n', encoding="utf-8")
    cfg = write_config(tmp_path)

    with open(tmp_path / "out.txt", "w") as fo, open(tmp_path / "err.txt", "w") as fe:
        proc = start_digest(cfg, "poll", stdout=fo, stderr=fe)
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the test's
        proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    assert proc.returncode == 1, err[-2000:]  # the bomb feed failed, the others were polled
    peak_mib = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(f"peak resident memory of the poll: {peak_mib:.0f} MiB")
    assert peak_mib < 1024, f"peak resident memory {peak_mib:.0f} MiB"

    [line] = [ln for ln in err.splitlines() if "bomb.xml" in ln]
    assert "feed failed" in line and "response larger than 10000000 bytes once decoded" in line
    assert f"{GOOD_FEEDS + 1} updated" in out and "1 failed" in out
    with sqlite3.connect(tmp_path / "digest.db") as conn:
        guids = {g for (g,) in conn.execute("SELECT guid FROM articles")}
        [(note, text)] = conn.execute("SELECT extract_note, text FROM articles WHERE guid = 'bombed-page-1'")
    assert guids == farm.guids() | {"bombed-page-1"}  # every good story arrived, the bombed page's from its feed
    assert note.startswith("used the feed's text: response larger than 10000000 bytes once decoded")
    assert text.startswith("Attackers exploited a gateway flaw")
