"""A small, real HTTP server on 127.0.0.1 for tests (no mocks of httpx).

Usage in a test module (``tests/`` is on ``sys.path`` under pytest's default import mode)::

    from httpserver import LocalHTTPServer, http_server_fixture  # noqa: F401  (provides the http_server fixture)

    def test_something(http_server: LocalHTTPServer) -> None:
        http_server.route("/feed.xml", body=b"<rss/>", headers={"ETag": '"v1"'})
        http_server.redirect("/old", "/feed.xml")
        url = http_server.url("/old")
        ...
        assert http_server.hits("/feed.xml") == 1
        assert http_server.requests[-1].headers["User-Agent"].startswith("digest/")

Routes (matched on the path without the query string; later calls replace earlier ones):

* :meth:`LocalHTTPServer.route` — fixed status, headers and body, with an optional ``delay``
  before answering; set ``not_modified_etag`` to answer 304 when ``If-None-Match`` matches.
* :meth:`LocalHTTPServer.redirect` — a 3xx with a ``Location`` header.
* :meth:`LocalHTTPServer.stream` — a body produced by a generator factory, written chunk by chunk
  with an optional pause between chunks (slow trickle, huge bodies that are never held in memory);
  the connection is closed to end the body unless ``content_length`` is given.
* :meth:`LocalHTTPServer.handler` — any callable ``(RecordedRequest) -> Response``.

Unknown paths answer 404. :attr:`LocalHTTPServer.requests` records every request;
:attr:`LocalHTTPServer.max_in_flight` is the highest number of requests handled at the same time
(for concurrency limits). The server runs in a background thread; the fixture stops it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

__all__ = ["LocalHTTPServer", "RecordedRequest", "Response", "http_server_fixture", "start_server"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str  # path with query string
    headers: dict[str, str]
    time: float


@dataclass
class Response:
    """What a route answers. ``body`` may be bytes or an iterable of byte chunks (streamed)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0  # seconds to wait before sending the status line
    interval: float = 0.0  # seconds to wait between streamed chunks
    content_length: int | None = None  # for streamed bodies; None closes the connection at the end


Handler = Callable[[RecordedRequest], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LocalHTTPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-body (size caps, timeouts) are expected: stay quiet."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    do_HEAD = do_GET
    do_POST = do_GET


class LocalHTTPServer:
    """A programmable threaded HTTP/1.1 server bound to 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-httpserver", daemon=True)

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> LocalHTTPServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end streaming handlers and close the listening socket."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """Absolute URL of ``path``; pass ``host="localhost"`` to go through name resolution."""
        return f"http://{host}:{self.port}{path}"

    # routes --------------------------------------------------------------------------------
    def handler(self, path: str, func: Handler) -> None:
        """Answer ``path`` with whatever ``func(request)`` returns."""
        with self._lock:
            self._routes[path] = func

    def route(self, path: str, *, status: int = 200, body: bytes | str = b"",
              headers: dict[str, str] | None = None, content_type: str = "text/plain; charset=utf-8",
              delay: float = 0.0, not_modified_etag: str | None = None) -> None:
        """A fixed response; with ``not_modified_etag`` a matching If-None-Match gets a bare 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        hdrs = {"Content-Type": content_type, **(headers or {})}

        def answer(req: RecordedRequest) -> Response:
            if not_modified_etag is not None and req.headers.get("If-None-Match") == not_modified_etag:
                return Response(304, {"ETag": not_modified_etag}, b"", delay)
            return Response(status, dict(hdrs), data, delay)

        self.handler(path, answer)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Redirect ``path`` to ``location`` (absolute or relative)."""
        self.route(path, status=status, headers={"Location": location})

    def stream(self, path: str, chunks: Callable[[], Iterable[bytes]], *, interval: float = 0.0,
               content_type: str = "application/octet-stream", content_length: int | None = None,
               headers: dict[str, str] | None = None) -> None:
        """Stream ``chunks()`` (called per request), pausing ``interval`` seconds between chunks."""
        hdrs = {"Content-Type": content_type, **(headers or {})}
        self.handler(path, lambda req: Response(200, dict(hdrs), chunks(), 0.0, interval, content_length))

    def hits(self, path: str) -> int:
        """How many requests asked for ``path`` (query string ignored)."""
        return sum(1 for r in self.requests if r.path.split("?", 1)[0] == path)

    # serving -------------------------------------------------------------------------------
    def _serve(self, h: _RequestHandler) -> None:
        req = RecordedRequest(h.command, h.path, {k: v for k, v in h.headers.items()}, time.monotonic())
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            func = self._routes.get(h.path.split("?", 1)[0])
        try:
            resp = func(req) if func else Response(404, {"Content-Type": "text/plain"}, b"not found")
            if resp.delay and self._stop.wait(resp.delay):
                return
            self._write(h, resp)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            h.close_connection = True
        finally:
            with self._lock:
                self.in_flight -= 1

    def _write(self, h: _RequestHandler, resp: Response) -> None:
        h.send_response(resp.status)
        for k, v in resp.headers.items():
            h.send_header(k, v)
        if isinstance(resp.body, (bytes, bytearray)):
            h.send_header("Content-Length", str(len(resp.body)))
            h.end_headers()
            if h.command != "HEAD" and resp.status not in (204, 304):
                h.wfile.write(resp.body)
            return
        if resp.content_length is not None:
            h.send_header("Content-Length", str(resp.content_length))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.flush()
        for chunk in _iterate(resp.body):
            if self._stop.is_set():
                break
            h.wfile.write(chunk)
            h.wfile.flush()
            if resp.interval and self._stop.wait(resp.interval):
                break
        h.close_connection = True


def _iterate(body: Iterable[bytes]) -> Iterator[bytes]:
    yield from body


def start_server() -> LocalHTTPServer:
    """Start a server outside pytest (remember to call ``stop()``)."""
    return LocalHTTPServer().start()


@pytest.fixture(name="http_server")
def http_server_fixture() -> Iterator[LocalHTTPServer]:
    """A fresh :class:`LocalHTTPServer` for one test, stopped afterwards."""
    server = LocalHTTPServer().start()
    try:
        yield server
    finally:
        server.stop()
