"""The fetcher's HTTP/1.1 connections: h11 over asyncio streams, kept alive per host.

:class:`digest.ingest.fetch.Fetcher` used httpx's client, whose layers (client, transport,
connection pool, anyio streams) cost about four times the CPU of the exchange itself: 1.0 ms a
page against 0.2 ms for the same GET over a plain asyncio stream, most of the poll process's CPU.
This module keeps the part that matters for correctness, h11's HTTP/1.1 state machine (framing:
Content-Length, chunked, read-until-close; header size limits), and drops the rest. Everything
that guards a fetch stays in :mod:`digest.ingest.fetch`: the address check before every connect
(the connection is opened by the caller's ``connect``, to the very address it checked), the
scheme and host checks, redirects, the deadline, the size caps and the bounded decoding.

URLs are normalised by ``httpx.URL`` as before (percent-encoding, IDNA host names), so the
requests on the wire are the ones the httpx client sent. Idle connections are kept per scheme,
host and port (at most ``keepalive`` of them, for ``expiry`` seconds; when full, expired ones and
then the least recently used one make room) and reused; a reused connection that the server has
closed meanwhile is retried once on a new one. A connection that received bytes past the end of
a response is never reused: they would be read as the answer to the next request. Header values
go out as ASCII only (h11's rule), so validators and cookies that are not ASCII are not sent back. Cookies go through
the standard library's cookie jar with the same rules as httpx's (which is that jar), and only
when a response sets one.
"""

from __future__ import annotations

import asyncio
import email.message
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookiejar import CookieJar
from typing import Any

import h11
import httpx

__all__ = ["Connections", "Head", "ProtocolError", "sendable"]

READ_BYTES = 64 * 1024  # one read from the socket (as httpcore)
MAX_HEAD_BYTES = 100 * 1024  # the status line and headers together (as httpcore's h11 setting)


class ProtocolError(Exception):
    """The server broke HTTP/1.1 (or closed the connection before a whole response)."""


class _Stale(Exception):
    """A reused idle connection was closed by the server before it answered: retry on a new one."""


#: opens a connection to (scheme, host, port) after checking its address: (reader, writer)
Connect = Callable[[str, str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class _Conn:
    __slots__ = ("h11", "idle_since", "reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.idle_since = 0.0
        self.reused = False

    def close(self) -> None:
        self.writer.close()

    def leftover(self) -> bool:
        """True when bytes beyond the response were received: they would answer the next request."""
        return bool(self.h11.trailing_data[0]) or bool(getattr(self.reader, "_buffer", b""))

    def usable(self, now: float, expiry: float) -> bool:
        return (now - self.idle_since < expiry and self.h11.our_state is h11.IDLE
                and not self.reader.at_eof() and not self.writer.is_closing() and not self.leftover())


def sendable(value: str) -> bool:
    """True when ``value`` can go in a request header as it is: ASCII, no control characters."""
    return value.isascii() and not any(ch < " " or ch == "\x7f" for ch in value)


def _decoder(raw: list[tuple[bytes, bytes]]) -> str:
    """The encoding of a header block as httpx chose it: ascii, else utf-8, else latin-1."""
    for enc in ("ascii", "utf-8"):
        try:
            for k, v in raw:
                k.decode(enc)
                v.decode(enc)
        except UnicodeDecodeError:
            continue
        return enc
    return "iso-8859-1"


class Head:
    """Status and headers of a response (names lower-cased)."""

    __slots__ = ("headers", "status", "url")

    def __init__(self, status: int, raw: list[tuple[bytes, bytes]], url: str) -> None:
        enc = _decoder(raw)
        self.status = status
        self.headers = [(k.decode(enc).lower(), v.decode(enc)) for k, v in raw]
        self.url = url

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k == name), default)

    def value(self, name: str) -> str | None:
        """The first value of header ``name``; None when the response has no such header."""
        return next((v for k, v in self.headers if k == name), None)

    def get_list(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


class _CookieResponse:
    """What ``CookieJar.extract_cookies`` reads from a response: its headers, via ``info()``."""

    def __init__(self, head: Head) -> None:
        self._msg = email.message.Message()
        for k, v in head.headers:
            self._msg[k] = v

    def info(self) -> email.message.Message:
        return self._msg


class Connections:
    """Keep-alive HTTP/1.1 connections for one fetcher, opened through ``connect``."""

    def __init__(self, connect: Connect, user_agent: str, accept_encoding: str,
                 keepalive: int, expiry: float = 30.0) -> None:
        self._connect = connect
        self._base = [("User-Agent", user_agent), ("Accept-Encoding", accept_encoding)]
        self._keepalive, self._expiry = keepalive, expiry
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._jar = CookieJar()

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()

    def _take(self, key: tuple[str, str, int]) -> _Conn | None:
        conns = self._idle.get(key)
        now = time.monotonic()
        while conns:
            c = conns.pop()
            if c.usable(now, self._expiry):
                c.reused = True
                return c
            c.close()
        return None

    def _give_back(self, key: tuple[str, str, int], c: _Conn) -> None:
        """Keep ``c`` idle for the next request to ``key`` when it is clean, making room if need be.

        A connection with bytes past the end of its response is closed, never reused (they would
        be taken for the answer to the next request). When ``keepalive`` connections are idle
        already, expired ones are closed first, then the least recently used one.
        """
        if c.h11.our_state is h11.DONE and c.h11.their_state is h11.DONE and not c.leftover():
            c.h11.start_next_cycle()
            if self._keepalive > 0:
                self._make_room()
                c.idle_since = time.monotonic()
                self._idle.setdefault(key, []).append(c)
                return
        c.close()

    def _make_room(self) -> None:
        """Close idle connections until one more can be kept: expired ones, then the oldest."""
        now = time.monotonic()
        for k in list(self._idle):
            keep = []
            for c in self._idle[k]:
                if c.usable(now, self._expiry):
                    keep.append(c)
                else:
                    c.close()
            if keep:
                self._idle[k] = keep
            else:
                del self._idle[k]
        while sum(len(v) for v in self._idle.values()) >= self._keepalive:
            k = min(self._idle, key=lambda k: self._idle[k][0].idle_since)
            self._idle[k].pop(0).close()
            if not self._idle[k]:
                del self._idle[k]

    async def get(self, url: str, headers: list[tuple[str, str]],
                  body: Callable[[Head, AsyncIterator[bytes]], Awaitable[Any]]) -> Any:
        """GET ``url``: ``body(head, chunks)`` reads the response (or stops early) and its result is returned.

        The connection goes back to the idle pool only when the whole response was read.
        """
        u = httpx.URL(url)
        scheme, host, port = u.scheme, u.raw_host.decode("ascii"), u.port or (443 if u.scheme == "https" else 80)
        default = port == (443 if scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default else f":{port}")
        target = u.raw_path
        key = (scheme, host, port)
        for attempt in (0, 1):
            conn = self._take(key) if attempt == 0 else None
            if conn is None:
                reader, writer = await self._connect(scheme, host, port)
                conn = _Conn(reader, writer)
            sent = [("Host", host_header), *self._base, *headers, *self._cookie_header(str(u))]
            try:
                head = await self._send(conn, target, sent, str(u))
            except _Stale:
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            if "set-cookie" in (k for k, _v in head.headers):
                self._jar.extract_cookies(_CookieResponse(head), urllib.request.Request(str(u)))  # type: ignore[arg-type]
                self._drop_unsendable_cookies()
            done = False
            try:
                result = await body(head, self._chunks(conn))
                done = True
                return result
            finally:
                if done:
                    self._give_back(key, conn)
                else:
                    conn.close()
        raise ProtocolError("Server disconnected without sending a response.")  # pragma: no cover

    def _drop_unsendable_cookies(self) -> None:
        """Forget cookies h11 could not send back (it sends header values as ASCII only)."""
        for c in list(self._jar):
            if not all(sendable(x) for x in (c.name, c.value or "", c.domain, c.path)):
                self._jar.clear(c.domain, c.path, c.name)

    def _cookie_header(self, url: str) -> list[tuple[str, str]]:
        if not len(self._jar):
            return []
        req = urllib.request.Request(url)
        self._jar.add_cookie_header(req)
        cookie = req.get_header("Cookie") or req.unredirected_hdrs.get("Cookie")
        return [("Cookie", cookie)] if cookie and sendable(cookie) else []

    async def _send(self, conn: _Conn, target: bytes, headers: list[tuple[str, str]], url: str) -> Head:
        try:
            data = conn.h11.send(h11.Request(method="GET", target=target, headers=headers))
            data = (data or b"") + (conn.h11.send(h11.EndOfMessage()) or b"")
            conn.writer.write(data)
            await conn.writer.drain()
            while True:
                event = await self._event(conn)
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    return Head(event.status_code, list(event.headers), url)
                raise ProtocolError("Server disconnected without sending a response.")
        except (ProtocolError, ConnectionResetError, BrokenPipeError):
            if conn.reused and conn.h11.their_state is h11.SEND_RESPONSE:
                raise _Stale from None  # nothing of a response came: the server had closed it
            raise
        except h11.ProtocolError as exc:
            raise ProtocolError(str(exc) or type(exc).__name__) from None

    async def _event(self, conn: _Conn) -> Any:
        while True:
            event = conn.h11.next_event()
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise ProtocolError("Server disconnected without sending a response."
                                        if conn.h11.their_state is not h11.DONE else "connection closed")
                return event
            chunk = await conn.reader.read(READ_BYTES)
            if not chunk and conn.h11.their_state is h11.SEND_RESPONSE:
                raise ProtocolError("Server disconnected without sending a response.")
            conn.h11.receive_data(chunk)

    async def _chunks(self, conn: _Conn) -> AsyncIterator[bytes]:
        """The raw body (Content-Encoding not undone), as it arrives."""
        try:
            while True:
                event = await self._event(conn)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    return
        except h11.ProtocolError as exc:
            raise ProtocolError(str(exc) or type(exc).__name__) from None
