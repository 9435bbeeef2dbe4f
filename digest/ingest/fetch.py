"""HTTP fetching for feeds and article pages: polite, bounded and guarded against SSRF.

One :class:`Fetcher` per poll run holds one set of keep-alive HTTP/1.1 connections
(:mod:`digest.ingest.http11`: h11 over asyncio streams; 1.0 ms of CPU a page with httpx's client,
see that module). Every fetch

* sends the stored validators (``If-None-Match`` / ``If-Modified-Since``); a 304 becomes a
  :class:`FetchResult` whose ``not_modified`` is true, not an error;
* waits for a slot of its host (``feeds.per_host_concurrency``) and then a global slot
  (``feeds.concurrency``);
* runs under one overall deadline (``feeds.timeout_seconds``, redirects included), so a server
  that trickles one byte a second is cut off like one that never answers;
* streams the body and stops once it is larger than ``feeds.max_bytes``, refusing at once when
  ``Content-Length`` already says so. The cap counts decoded bytes: the fetcher decodes
  Content-Encoding itself (gzip and deflate, at most two layers), each layer in steps of at most
  64 KiB of output, so a decompression bomb (a few KB on the wire, GBs inside) is cut at the cap
  after decoding about that much, never held whole in memory;
* follows redirects itself, at most ``feeds.max_redirects``, http and https only;
* resolves the host of every hop and refuses loopback, private, link-local, multicast, reserved,
  unspecified, shared (CGNAT), IPv4-mapped forms of those and cloud metadata addresses unless
  ``feeds.allow_private_networks`` is set.

The address check lives in the connection layer (:class:`_GuardedBackend`, the only way the
fetcher opens a socket): the host is resolved once, every address is checked, and the socket is opened to the
very address that was checked, so a DNS answer that changes between check and connect (DNS
rebinding) cannot slip through. TLS still verifies the certificate against the host name.
Environment proxies are never used: through a proxy the guard would check the proxy, not the
target.

Bodies are decoded here, not by an HTTP library: httpx's decoder decodes each network chunk
whole, every layer without a limit, so one 64 KiB chunk of a two-layer gzip body can become
gigabytes before any size check.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from digest.config import FeedsConfig
from digest.errors import BlockedAddressError, FetchError
from digest.ingest import http11

__all__ = ["DEFAULT_ACCEPT", "FetchResult", "Fetcher", "address_problem"]

DEFAULT_ACCEPT = "*/*"
ACCEPT_ENCODING = "gzip, deflate"  # what _Decoder decodes under the size cap
MAX_ENCODING_LAYERS = 2
_DECODE_STEP = 64 * 1024  # most bytes one decoding step may produce
_REDIRECTS = {301, 302, 303, 307, 308}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}  # AWS/GCP/Azure, AWS IPv6, Alibaba
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ALLOW_HINT = "(set feeds.allow_private_networks to allow)"


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one successful fetch (a 2xx response or a 304)."""

    url: str  # final URL after redirects
    status: int  # 200 (or another 2xx), or 304 when not modified
    content: bytes  # b"" when not modified
    etag: str | None
    last_modified: str | None
    content_type: str
    elapsed: float  # seconds, from the first request to the last byte

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304: the stored copy is still current."""
        return self.status == 304


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the SSRF guard refuses ``ip`` ("a loopback address", ...), or None when it is public.

    >>> address_problem(ipaddress.ip_address("10.1.2.3"))
    'a private address'
    >>> address_problem(ipaddress.ip_address("93.184.216.34")) is None
    True
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is None and ip.teredo:
            inner = ip.teredo[1]
        if inner is not None:
            why = address_problem(inner)
            if why:
                return f"{why} (IPv4 {inner} inside IPv6)"
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


class _Refused(Exception):
    """Raised inside the connection layer; turned into a FetchError with the URL by Fetcher.get."""

    def __init__(self, reason: str, *, blocked: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blocked = blocked


def _literal(host: str) -> str | None:
    """The normalised address when ``host`` is an IP literal, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class _GuardedBackend:
    """Resolves, checks, then connects to the checked address (the fetcher's only way to open a socket)."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def _resolve(self, host: str, port: int) -> list[str]:
        literal = _literal(host)
        if literal is not None:
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Refused(f"cannot resolve host {host!r}", blocked=False) from exc
        addrs: list[str] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                addr = str(sockaddr[0]).split("%", 1)[0]
                if addr not in addrs:
                    addrs.append(addr)
        if not addrs:
            raise _Refused(f"cannot resolve host {host!r}", blocked=False)
        return addrs

    def check(self, host: str, addrs: Iterable[str]) -> None:
        """Refuse when any address of ``host`` is not public (a mixed answer is suspicious)."""
        if self._allow_private:
            return
        for addr in addrs:
            why = address_problem(ipaddress.ip_address(addr))
            if why:
                literal = _literal(host) is not None
                subject = addr if literal else f"{host} resolves to {addr},"
                verb = " is" if literal else ""
                raise _Refused(f"refused: {subject}{verb} {why} {_ALLOW_HINT}", blocked=True)

    async def _open(self, addr: str, port: int, tls: ssl.SSLContext | None,
                    server_hostname: str | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the TCP (and TLS) connection to an already checked address (a seam for test tripwires)."""
        return await asyncio.open_connection(addr, port, ssl=tls, server_hostname=server_hostname,
                                             limit=http11.READ_BYTES)

    async def connect(self, scheme: str, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``host``: every address it resolves to is checked first, then tried in turn.

        TLS verifies the certificate against the host name, not the address.
        """
        addrs = await self._resolve(host, port)
        self.check(host, addrs)
        tls = _ssl_context() if scheme == "https" else None
        last: OSError | None = None
        for addr in addrs:
            try:
                return await self._open(addr, port, tls, host if tls is not None else None)
            except ssl.SSLError:
                raise
            except OSError as exc:
                last = exc
        assert last is not None
        raise last


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~40 ms each time."""
    ctx = httpx.create_ssl_context(trust_env=False)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class _Undecodable(Exception):
    """A body the fetcher will not decode (an encoding it does not speak, too many layers, corrupt)."""


class _Layer:
    """One gzip or deflate layer, decoded in bounded steps (``zlib`` with ``max_length``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._raw_fallback = name == "deflate"  # "deflate" is zlib-wrapped by the RFC, raw in practice
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if name != "deflate" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most _DECODE_STEP bytes."""
        try:
            out = self._z.decompress(data, _DECODE_STEP)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._raw_fallback = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, _DECODE_STEP)
        self._raw_fallback = False
        while out:
            yield out
            if not self._z.unconsumed_tail and len(out) < _DECODE_STEP:
                return  # all input consumed and zlib had no more output to give
            out = self._z.decompress(self._z.unconsumed_tail, _DECODE_STEP)


class _Decoder:
    """Undo a response's Content-Encoding layers one bounded piece at a time.

    Unknown tokens are skipped as httpx skips them (servers send "utf-8" there); encodings that
    compress but are not asked for (br, zstd, compress) and more than two layers are refused.
    """

    def __init__(self, header: str) -> None:
        names = [v.strip().lower() for v in header.split(",") if v.strip()]
        known = [n for n in names if n in ("gzip", "x-gzip", "deflate")]
        for n in names:
            if n in ("br", "zstd", "compress", "x-compress"):
                raise _Undecodable(f"unsupported Content-Encoding {n!r} (asked for {ACCEPT_ENCODING})")
        if len(known) > MAX_ENCODING_LAYERS:
            raise _Undecodable(f"{len(known)} Content-Encoding layers ({_one_line(header, 60)}); "
                               f"at most {MAX_ENCODING_LAYERS} are accepted")
        self.layers = [_Layer(n) for n in reversed(known)]  # the last one applied is undone first

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._through(data, 0)
        except zlib.error as exc:
            raise _Undecodable(f"could not decode the response: {exc}") from None

    def _through(self, data: bytes, i: int) -> Iterator[bytes]:
        if i == len(self.layers):
            if data:
                yield data
            return
        for piece in self.layers[i].feed(data):
            yield from self._through(piece, i + 1)


def _one_line(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validator(value: str | None) -> str | None:
    """An ETag / Last-Modified value the fetcher may send back, or None.

    h11 sends header values as ASCII only, and a value that came in as UTF-8 or latin-1 could not
    be sent back as the same bytes anyway: such a validator is dropped (the feed is fetched whole).
    """
    return value if value and http11.sendable(value) else None


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _describe(exc: BaseException) -> str:
    """A short reason for a transport error."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return "connection refused"
    if any(isinstance(c, ConnectionResetError) for c in chain):
        return "connection reset by the server"
    text = _one_line(str(exc)) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {text}"
    if isinstance(exc, http11.ProtocolError):
        return f"protocol error: {text}"
    if isinstance(exc, _Connecting):
        return f"connection failed: {_one_line(str(exc.__cause__)) or type(exc.__cause__).__name__}"
    if isinstance(exc, OSError):
        return f"read error: {text}"
    return f"{type(exc).__name__}: {text}"


class _Connecting(Exception):
    """Opening a connection failed (the cause says why)."""


class Fetcher:
    """Fetches URLs for one poll run; use as ``async with Fetcher(cfg) as f: await f.get(url)``."""

    def __init__(self, cfg: FeedsConfig) -> None:
        self.cfg = cfg
        self._client: http11.Connections | None = None
        self._global = asyncio.Semaphore(cfg.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Self:
        backend = _GuardedBackend(self.cfg.allow_private_networks)

        async def connect(scheme: str, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            try:
                return await backend.connect(scheme, host, port)
            except (_Refused, ssl.SSLError, ConnectionRefusedError):
                raise
            except OSError as exc:
                raise _Connecting() from exc

        self._client = http11.Connections(connect, self.cfg.user_agent, ACCEPT_ENCODING,
                                          keepalive=self.cfg.concurrency, expiry=30.0)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.cfg.per_host_concurrency)
        return sem

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  accept: str = DEFAULT_ACCEPT) -> FetchResult:
        """GET ``url`` following redirects; raise FetchError / BlockedAddressError with a short reason.

        The deadline (``feeds.timeout_seconds``) starts when the first request gets its slots and
        covers every redirect hop and the whole body.
        """
        if self._client is None:
            raise RuntimeError("Fetcher.get called outside 'async with Fetcher(cfg)'")
        headers = [("Accept", accept)]
        etag, last_modified = _validator(etag), _validator(last_modified)
        if etag:
            headers.append(("If-None-Match", etag))
        if last_modified:
            headers.append(("If-Modified-Since", last_modified))
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        started = time.perf_counter()
        current = url
        redirects = 0
        while True:
            host = self._check_url(url, current)
            async with self._host_slot(host), self._global:
                if deadline is None:
                    deadline = loop.time() + self.cfg.timeout_seconds
                    started = time.perf_counter()
                try:
                    async with asyncio.timeout_at(deadline):
                        hop = await self._request(url, current, headers)
                except TimeoutError:
                    raise FetchError(url, f"timed out after {_seconds(self.cfg.timeout_seconds)}") from None
            status, location, result = hop
            if location is None:
                assert result is not None
                return FetchResult(url=current, status=status, content=result[0],
                                   etag=result[1] if status != 304 else (result[1] or etag),
                                   last_modified=result[2] if status != 304 else (result[2] or last_modified),
                                   content_type=result[3], elapsed=time.perf_counter() - started)
            redirects += 1
            if redirects > self.cfg.max_redirects:
                raise FetchError(url, f"too many redirects ({self.cfg.max_redirects})")
            current = location

    def _check_url(self, url: str, current: str) -> str:
        """Validate scheme and host of one hop; return the host key for the per-host limit."""
        try:
            parts = urlsplit(current)
            port = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise FetchError(url, f"invalid URL {_one_line(current, 100)!r}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(url, f"unsupported scheme {scheme!r}" if scheme else "URL has no scheme")
        if not parts.hostname:
            raise FetchError(url, f"URL has no host: {_one_line(current, 100)!r}")
        return f"{parts.hostname.lower()}:{port or (443 if scheme == 'https' else 80)}"

    async def _request(self, url: str, current: str, headers: list[tuple[str, str]]
                       ) -> tuple[int, str | None, tuple[bytes, str | None, str | None, str] | None]:
        """One hop: (status, redirect location or None, (body, etag, last_modified, type) or None)."""
        assert self._client is not None
        cap = self.cfg.max_bytes

        async def read(resp: http11.Head, chunks: AsyncIterator[bytes]
                       ) -> tuple[int, str | None, tuple[bytes, str | None, str | None, str] | None]:
            status = resp.status
            if status in _REDIRECTS:
                loc = resp.get("location").strip()
                if not loc:
                    raise FetchError(url, f"HTTP {status} redirect without a Location header")
                try:
                    target = urljoin(resp.url, loc)
                except ValueError:
                    raise FetchError(url, f"invalid redirect Location {_one_line(loc, 100)!r}") from None
                raise _Redirect(status, target)  # the body is not read: the connection closes
            meta = (_validator(resp.value("etag")), _validator(resp.value("last-modified")),
                    resp.get("content-type"))
            if status == 304:
                async for _chunk in chunks:  # none: a 304 has no body; reading it keeps the connection
                    pass
                return status, None, (b"", *meta)
            if not 200 <= status < 300:
                raise FetchError(url, f"HTTP {status}")
            length = resp.get("content-length")
            if length.isdigit() and int(length) > cap:
                raise FetchError(url, f"response larger than {cap} bytes")
            encoding = ", ".join(resp.get_list("content-encoding"))
            decoder = _Decoder(encoding)
            body = bytearray()
            wire = 0
            async for chunk in chunks:
                wire += len(chunk)
                if wire > cap:
                    raise FetchError(url, f"response larger than {cap} bytes")
                for piece in decoder.feed(chunk):
                    body += piece
                    if len(body) > cap:
                        raise FetchError(url, f"response larger than {cap} bytes once decoded "
                                              f"(Content-Encoding: {_one_line(encoding, 60)}; "
                                              f"{wire} bytes read)")
            return status, None, (bytes(body), *meta)

        try:
            return await self._client.get(current, headers, read)  # type: ignore[no-any-return]
        except _Redirect as r:
            return r.status, r.location, None
        except _Undecodable as exc:
            raise FetchError(url, str(exc)) from None
        except _Refused as exc:
            cls = BlockedAddressError if exc.blocked else FetchError
            raise cls(url, exc.reason) from None
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {_one_line(str(exc))}") from None
        except (OSError, http11.ProtocolError, _Connecting) as exc:
            raise FetchError(url, _describe(exc)) from None
        except ValueError as exc:  # UnicodeError too: a request h11 or the URL parser would not build
            raise FetchError(url, f"invalid request: {type(exc).__name__}: {_one_line(str(exc), 120)}") from None


class _Redirect(Exception):
    def __init__(self, status: int, location: str) -> None:
        self.status, self.location = status, location
