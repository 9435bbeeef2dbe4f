"""Fetcher against a real local HTTP server: conditional GET, errors, redirects, limits."""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import replace

import pytest
from httpserver import LocalHTTPServer, http_server_fixture  # noqa: F401

from digest.config import FeedsConfig
from digest.errors import FetchError
from digest.ingest.fetch import Fetcher, FetchResult

CFG = FeedsConfig(allow_private_networks=True, timeout_seconds=5.0)


def fetch(url: str, cfg: FeedsConfig = CFG, **kw: str | None) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(cfg) as f:
            return await f.get(url, **kw)  # type: ignore[arg-type]
    return asyncio.run(run())


def fetch_error(url: str, cfg: FeedsConfig = CFG) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, cfg)
    return info.value


def test_200_then_304_with_validators(http_server: LocalHTTPServer) -> None:
    lm = "Wed, 01 Jan 2025 10:00:00 GMT"
    http_server.route("/feed.xml", body=b"<rss/>", content_type="application/rss+xml",
                      headers={"ETag": '"v1"', "Last-Modified": lm}, not_modified_etag='"v1"')
    first = fetch(http_server.url("/feed.xml"))
    assert (first.status, first.content, first.etag, first.last_modified) == (200, b"<rss/>", '"v1"', lm)
    assert first.content_type == "application/rss+xml" and not first.not_modified
    assert first.url == http_server.url("/feed.xml") and first.elapsed >= 0

    second = fetch(http_server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.status == 304 and second.content == b""
    assert second.etag == '"v1"' and second.last_modified == lm  # kept from the request
    sent = http_server.requests[-1].headers
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == lm
    assert "If-None-Match" not in http_server.requests[0].headers


def test_user_agent_and_accept_sent(http_server: LocalHTTPServer) -> None:
    http_server.route("/x", body=b"ok")
    fetch(http_server.url("/x"), accept="application/rss+xml")
    headers = http_server.requests[0].headers
    assert headers["User-Agent"] == CFG.user_agent
    assert headers["Accept"] == "application/rss+xml"


def test_404_is_a_fetch_error(http_server: LocalHTTPServer) -> None:
    err = fetch_error(http_server.url("/missing"))
    assert err.reason == "HTTP 404" and err.url == http_server.url("/missing")


def test_500_is_a_fetch_error(http_server: LocalHTTPServer) -> None:
    http_server.route("/boom", status=503, body=b"down")
    assert fetch_error(http_server.url("/boom")).reason == "HTTP 503"


def test_connection_refused() -> None:
    server = LocalHTTPServer()  # bound, never started: take its port then close it
    port = server.port
    server._httpd.server_close()
    assert fetch_error(f"http://127.0.0.1:{port}/").reason == "connection refused"


def test_redirects_followed_to_final_url(http_server: LocalHTTPServer) -> None:
    http_server.route("/final", body=b"done")
    http_server.redirect("/a", "/b", 301)
    http_server.redirect("/b", http_server.url("/final"), 307)
    result = fetch(http_server.url("/a"))
    assert result.content == b"done" and result.url == http_server.url("/final")


def test_redirect_chain_limit(http_server: LocalHTTPServer) -> None:
    for i in range(10):
        http_server.redirect(f"/r{i}", f"/r{i + 1}")
    http_server.route("/r10", body=b"end")
    cfg = replace(CFG, max_redirects=3)
    assert fetch_error(http_server.url("/r0"), cfg).reason == "too many redirects (3)"
    assert http_server.hits("/r4") == 0  # stopped after the limit
    assert fetch(http_server.url("/r7"), cfg).content == b"end"  # exactly 3 hops is fine


def test_redirect_loop(http_server: LocalHTTPServer) -> None:
    http_server.redirect("/loop", "/loop")
    assert fetch_error(http_server.url("/loop")).reason == "too many redirects (5)"


def test_redirect_without_location(http_server: LocalHTTPServer) -> None:
    http_server.route("/bad", status=302)
    assert "without a Location" in fetch_error(http_server.url("/bad")).reason


def test_gzip_decoded(http_server: LocalHTTPServer) -> None:
    payload = b"<rss>" + b"x" * 5000 + b"</rss>"
    http_server.route("/gz", body=gzip.compress(payload), headers={"Content-Encoding": "gzip"})
    assert fetch(http_server.url("/gz")).content == payload


def test_gzip_bomb_cut_at_cap_after_decoding(http_server: LocalHTTPServer) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)  # ~5 KB on the wire
    http_server.route("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    err = fetch_error(http_server.url("/bomb"), replace(CFG, max_bytes=100_000))
    assert err.reason.startswith("response larger than 100000 bytes once decoded (Content-Encoding: gzip; ")


def test_content_length_over_cap_refused_early(http_server: LocalHTTPServer) -> None:
    http_server.route("/big", body=b"y" * 2000)
    err = fetch_error(http_server.url("/big"), replace(CFG, max_bytes=1000))
    assert err.reason == "response larger than 1000 bytes"


def _run_many(urls: list[str], cfg: FeedsConfig) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with Fetcher(cfg) as f:
            return list(await asyncio.gather(*(f.get(u) for u in urls)))
    return asyncio.run(run())


def test_per_host_concurrency_is_limited(http_server: LocalHTTPServer) -> None:
    http_server.route("/slow", body=b"ok", delay=0.3)
    cfg = replace(CFG, per_host_concurrency=2, concurrency=32)
    results = _run_many([http_server.url(f"/slow?{i}") for i in range(6)], cfg)
    assert [r.content for r in results] == [b"ok"] * 6
    assert http_server.hits("/slow") == 6
    assert 1 <= http_server.max_in_flight <= 2


def test_global_concurrency_is_limited(http_server: LocalHTTPServer) -> None:
    http_server.route("/slow", body=b"ok", delay=0.2)
    cfg = replace(CFG, per_host_concurrency=4, concurrency=1)
    hosts = ["127.0.0.1", "localhost"]  # two host keys, one server
    _run_many([http_server.url(f"/slow?{i}", host=hosts[i % 2]) for i in range(4)], cfg)
    assert http_server.hits("/slow") == 4 and http_server.max_in_flight == 1


def test_get_outside_context_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        asyncio.run(Fetcher(CFG).get("http://127.0.0.1:1/"))


def test_a_cookie_set_on_a_redirect_hop_is_sent_on_the_next(http_server: LocalHTTPServer) -> None:
    """Consent walls set a cookie and redirect back; responses without Set-Cookie skip the jar."""
    from httpserver import Response

    http_server.handler("/wall", lambda req: Response(302, {"Location": "/feed.xml",
                                                            "Set-Cookie": "consent=yes; Path=/"}))
    http_server.route("/feed.xml", body=b"<rss/>", content_type="application/rss+xml")
    result = fetch(http_server.url("/wall"))
    assert result.status == 200 and result.content == b"<rss/>"
    assert http_server.requests[-1].headers.get("Cookie") == "consent=yes"
    assert "Cookie" not in http_server.requests[0].headers
