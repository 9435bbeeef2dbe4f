"""The fetcher's own HTTP/1.1 connections (digest.ingest.http11) against a raw asyncio server.

The server here speaks HTTP/1.1 by hand, so each test controls what the connection does: stays
open for the next request, is closed by the server while idle, answers chunked, breaks framing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from digest.config import FeedsConfig
from digest.errors import FetchError
from digest.ingest.fetch import Fetcher, FetchResult

CFG = FeedsConfig(allow_private_networks=True, timeout_seconds=5.0)

Answer = Callable[[int, bytes], bytes]  # (request number on this connection, request head) -> reply


async def _serve(answer: Answer, close_after: int | None, log: dict[str, int],
                 open_: list[asyncio.StreamWriter]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log["connections"] += 1
        open_.append(writer)
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                log["requests"] += 1
                writer.write(answer(n, head))
                await writer.drain()
                n += 1
                if close_after is not None and n >= close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _run(answer: Answer, paths: list[str], *, close_after: int | None = None, pause: float = 0.0,
         cfg: FeedsConfig = CFG) -> tuple[list[FetchResult | FetchError], dict[str, int]]:
    log = {"connections": 0, "requests": 0}

    async def go() -> list[FetchResult | FetchError]:
        writers: list[asyncio.StreamWriter] = []
        server, port = await _serve(answer, close_after, log, writers)
        out: list[FetchResult | FetchError] = []
        async with server, Fetcher(cfg) as f:
            for p in paths:
                try:
                    out.append(await f.get(f"http://127.0.0.1:{port}{p}"))
                except FetchError as exc:
                    out.append(exc)
                await asyncio.sleep(pause)
            for w in writers:
                w.close()
            await asyncio.sleep(0.01)
        return out

    return asyncio.run(go()), log


def _ok(body: bytes, extra: str = "") -> Callable[[int, bytes], bytes]:
    return lambda n, head: (f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body)


def test_a_kept_alive_connection_serves_the_next_request() -> None:
    results, log = _run(_ok(b"<rss>one</rss>"), ["/a", "/b", "/c"])
    assert [r.content for r in results if isinstance(r, FetchResult)] == [b"<rss>one</rss>"] * 3
    assert log == {"connections": 1, "requests": 3}


def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    # the server answers one request per connection and then hangs up without saying so
    results, log = _run(_ok(b"page text"), ["/a", "/b", "/c"], close_after=1, pause=0.05)
    assert [r.content for r in results if isinstance(r, FetchResult)] == [b"page text"] * 3
    assert log["connections"] == 3


def test_connection_close_is_honoured() -> None:
    results, log = _run(_ok(b"bye", "Connection: close\r\n"), ["/a", "/b"], close_after=1)
    assert [r.content for r in results if isinstance(r, FetchResult)] == [b"bye", b"bye"]
    assert log["connections"] == 2


def test_a_chunked_body_is_joined() -> None:
    def chunked(n: int, head: bytes) -> bytes:
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    results, log = _run(chunked, ["/a", "/b"])
    assert [(r.content, r.content_type) for r in results if isinstance(r, FetchResult)] == [
        (b"hello world", "text/html")] * 2
    assert log["connections"] == 1


def test_a_body_cut_short_is_an_error_not_a_page() -> None:
    results, _log = _run(lambda n, head: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
                         ["/a"], close_after=1)
    assert isinstance(results[0], FetchError) and results[0].reason.startswith("protocol error: ")


def test_garbage_instead_of_a_status_line_is_a_protocol_error() -> None:
    results, _log = _run(lambda n, head: b"SSH-2.0-OpenSSH_9.6\r\n\r\n", ["/a"], close_after=1)
    assert isinstance(results[0], FetchError) and results[0].reason.startswith("protocol error: ")


def test_a_huge_header_block_is_refused() -> None:
    def huge(n: int, head: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * 200_000 + b"\r\nContent-Length: 2\r\n\r\nok"
    results, _log = _run(huge, ["/a"], close_after=1)
    assert isinstance(results[0], FetchError) and results[0].reason.startswith("protocol error: ")


def test_the_request_names_the_host_and_port_and_the_path_with_its_query() -> None:
    seen: list[bytes] = []

    def record(n: int, head: bytes) -> bytes:
        seen.append(head)
        return _ok(b"x")(n, head)

    results, _log = _run(record, ["/feed.xml?page=2&lang=en"])
    assert isinstance(results[0], FetchResult)
    first, *headers = seen[0].decode("latin-1").split("\r\n")
    assert first == "GET /feed.xml?page=2&lang=en HTTP/1.1"
    names = {h.split(":", 1)[0].lower(): h.split(":", 1)[1].strip() for h in headers if h}
    assert names["host"].startswith("127.0.0.1:") and names["accept-encoding"] == "gzip, deflate"


def test_the_deadline_covers_a_kept_alive_connection_that_stops_answering() -> None:
    def second_hangs(n: int, head: bytes) -> bytes:
        return _ok(b"first")(n, head) if n == 0 else b""  # the second request gets no answer at all
    results, _log = _run(second_hangs, ["/a", "/b"], cfg=replace(CFG, timeout_seconds=1.0))
    assert isinstance(results[0], FetchResult) and results[0].content == b"first"
    assert isinstance(results[1], FetchError) and results[1].reason == "timed out after 1s"


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_with_a_body_is_followed_on_a_new_connection(status: int) -> None:
    def redirect_once(n: int, head: bytes) -> bytes:
        if head.startswith(b"GET /old "):
            return (f"HTTP/1.1 {status} Moved\r\nLocation: /new\r\nContent-Length: 9\r\n\r\nmoved it!").encode()
        return _ok(b"new page")(n, head)
    results, _log = _run(redirect_once, ["/old"])
    assert isinstance(results[0], FetchResult) and results[0].content == b"new page"
    assert results[0].url.endswith("/new")



SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nsmuggled page"


def test_bytes_past_the_content_length_never_answer_the_next_request() -> None:
    def over_sends(n: int, head: bytes) -> bytes:
        if head.startswith(b"GET /a "):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst" + SMUGGLED  # one packet
        return _ok(b"the right page")(n, head)
    results, log = _run(over_sends, ["/a", "/b"])
    assert [r.content for r in results if isinstance(r, FetchResult)] == [b"first", b"the right page"]
    assert log["connections"] == 2  # the spoilt connection was not kept


def test_bytes_sent_while_a_connection_is_idle_spoil_it() -> None:
    log = {"connections": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET /a "):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
                    await writer.drain()
                    await asyncio.sleep(0.05)  # the client has the whole response and keeps the connection
                    writer.write(SMUGGLED)
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nthe right page")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def go() -> list[bytes]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, Fetcher(CFG) as f:
            first = await f.get(f"http://127.0.0.1:{port}/a")
            await asyncio.sleep(0.2)
            second = await f.get(f"http://127.0.0.1:{port}/b")
        await asyncio.sleep(0.05)  # the handlers see the client close
        return [first.content, second.content]

    assert asyncio.run(go()) == [b"first", b"the right page"]
    assert log["connections"] == 2


def test_a_full_idle_pool_lets_the_least_recently_used_connection_go() -> None:
    counts = [0, 0, 0]

    def handler(i: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            counts[i] += 1
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    writer.write(_ok(f"server {i}".encode())(0, b""))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()
        return handle

    async def go() -> list[bytes]:
        servers = [await asyncio.start_server(handler(i), "127.0.0.1", 0) for i in range(3)]
        ports = [s.sockets[0].getsockname()[1] for s in servers]
        out = []
        async with Fetcher(replace(CFG, concurrency=2)) as f:  # keeps at most 2 idle connections
            for i in (0, 1, 2, 2, 0):
                out.append((await f.get(f"http://127.0.0.1:{ports[i]}/feed")).content)
        await asyncio.sleep(0.05)  # the handlers see the client close
        for s in servers:
            s.close()
            await s.wait_closed()
        return out

    assert asyncio.run(go()) == [b"server 0", b"server 1", b"server 2", b"server 2", b"server 0"]
    # the third host's connection was kept (the first host's, least recently used, went) and reused
    assert counts == [2, 1, 1]


def test_validators_and_cookies_that_are_not_ascii_are_not_sent() -> None:
    seen: list[bytes] = []

    def record(n: int, head: bytes) -> bytes:
        seen.append(head)
        cookies = ("Set-Cookie: lang=fran\u00e7ais; Path=/\r\nSet-Cookie: session=abc123; Path=/\r\n"
                   "ETag: \"caf\u00e9\"\r\n")
        return _ok(b"<rss/>", cookies)(n, head).decode("latin-1").encode("utf-8")

    async def go() -> list[FetchResult]:
        writers: list[asyncio.StreamWriter] = []
        server, port = await _serve(record, None, {"connections": 0, "requests": 0}, writers)
        async with server, Fetcher(CFG) as f:
            url = f"http://127.0.0.1:{port}/feed.xml"
            out = [await f.get(url), await f.get(url, etag='"caf\u00e9"', last_modified="Mi\u00e9, 3 Dec 2026")]
            for w in writers:
                w.close()
            await asyncio.sleep(0.01)
        return out

    results = asyncio.run(go())
    assert [r.content for r in results] == [b"<rss/>", b"<rss/>"]
    assert results[0].etag is None  # kept, it would be sent back on the next poll
    second = seen[1].decode("latin-1").lower()
    assert "if-none-match" not in second and "if-modified-since" not in second
    assert "cookie: session=abc123\r\n" in second  # the ASCII cookie still goes back
