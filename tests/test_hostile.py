"""Hostile servers and URLs: trickle, huge bodies, SSRF targets, odd schemes.

No traffic ever leaves loopback: the SSRF tests use addresses the guard must refuse before
connecting, and a tripwire on the fetcher's connect step fails the test if it would connect
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from httpserver import LocalHTTPServer, http_server_fixture  # noqa: F401

from digest.config import FeedsConfig
from digest.errors import BlockedAddressError, FetchError
from digest.ingest import fetch as fetch_mod
from digest.ingest.fetch import Fetcher, FetchResult, address_problem

OPEN = FeedsConfig(allow_private_networks=True, timeout_seconds=5.0)
GUARDED = FeedsConfig(allow_private_networks=False, timeout_seconds=5.0)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tripwire: record every address the fetcher connects to and refuse anything but 127.0.0.1."""
    opened: list[str] = []
    original = fetch_mod._GuardedBackend._open

    async def guarded_open(self: Any, addr: str, *args: Any) -> Any:
        opened.append(addr)
        if addr != "127.0.0.1":
            raise AssertionError(f"test tried to connect to {addr}")
        return await original(self, addr, *args)

    monkeypatch.setattr(fetch_mod._GuardedBackend, "_open", guarded_open)
    return opened


def fetch(url: str, cfg: FeedsConfig) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(cfg) as f:
            return await f.get(url)
    return asyncio.run(run())


def error_of(url: str, cfg: FeedsConfig, kind: type[FetchError] = FetchError) -> FetchError:
    with pytest.raises(kind) as info:
        fetch(url, cfg)
    return info.value


@pytest.mark.timeout(30)
def test_slow_trickle_cut_by_total_timeout(http_server: LocalHTTPServer) -> None:
    http_server.stream("/trickle", lambda: itertools.repeat(b"x"), interval=1.0, content_type="text/xml")
    err = error_of(http_server.url("/trickle"), replace(OPEN, timeout_seconds=1.5))
    assert err.reason == "timed out after 1.5s"


@pytest.mark.timeout(30)
def test_server_that_never_answers_times_out(http_server: LocalHTTPServer) -> None:
    http_server.route("/hang", body=b"late", delay=10)
    assert error_of(http_server.url("/hang"), replace(OPEN, timeout_seconds=1)).reason == "timed out after 1s"


@pytest.mark.timeout(60)
def test_50mb_response_cut_at_cap(http_server: LocalHTTPServer) -> None:
    sent = {"bytes": 0}

    def fifty_mb() -> Iterator[bytes]:
        chunk = b"A" * 65536
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            sent["bytes"] += len(chunk)
            yield chunk

    http_server.stream("/huge", fifty_mb)  # no Content-Length: only the streaming cap can stop it
    err = error_of(http_server.url("/huge"), replace(OPEN, max_bytes=1_000_000))
    assert err.reason == "response larger than 1000000 bytes"
    assert sent["bytes"] < 50 * 1024 * 1024


def test_50mb_content_length_refused_before_reading(http_server: LocalHTTPServer) -> None:
    http_server.stream("/huge", lambda: iter([b"A" * 1000]), content_length=50 * 1024 * 1024)
    err = error_of(http_server.url("/huge"), OPEN)
    assert err.reason == "response larger than 10000000 bytes"


@pytest.mark.parametrize("url, why", [
    ("http://127.0.0.1:{port}/feed", "refused: 127.0.0.1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a cloud metadata address"),
    ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
    ("http://192.168.1.1:8080/", "refused: 192.168.1.1 is a private address"),
    ("http://100.64.0.1/", "refused: 100.64.0.1 is a shared (CGNAT) address"),
    ("http://0.0.0.0:{port}/", "refused: 0.0.0.0 is an unspecified address"),
    ("http://[::1]:{port}/", "refused: ::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]:{port}/", "refused: ::ffff:7f00:1 is a loopback address (IPv4 127.0.0.1"),
    ("http://[fd00:ec2::254]/", "refused: fd00:ec2::254 is a cloud metadata address"),
    ("http://224.0.0.1/", "refused: 224.0.0.1 is a multicast address"),
    ("http://[fe80::1]/", "refused: fe80::1 is a link-local address"),
])
def test_private_targets_refused_before_connecting(http_server: LocalHTTPServer, loopback_only: list[str],
                                                   url: str, why: str) -> None:
    err = error_of(url.format(port=http_server.port), GUARDED, BlockedAddressError)
    assert err.reason.startswith(why)
    assert err.reason.endswith("(set feeds.allow_private_networks to allow)")
    assert loopback_only == [] and http_server.requests == []


def test_hostname_resolving_to_loopback_refused(http_server: LocalHTTPServer, loopback_only: list[str]) -> None:
    http_server.route("/feed", body=b"secret")
    err = error_of(http_server.url("/feed", host="localhost"), GUARDED, BlockedAddressError)
    assert err.reason.startswith("refused: localhost resolves to ")
    assert "a loopback address" in err.reason
    assert loopback_only == [] and http_server.requests == []


def test_private_networks_allowed_when_configured(http_server: LocalHTTPServer) -> None:
    http_server.route("/feed", body=b"ok")
    assert fetch(http_server.url("/feed", host="localhost"), OPEN).content == b"ok"


@pytest.fixture
def loopback_v4_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the guard (and only it) accept exactly 127.0.0.1, the test server, to test later hops."""
    strict = fetch_mod.address_problem

    def problem(ip: Any) -> str | None:
        return None if ip == ipaddress.ip_address("127.0.0.1") else strict(ip)

    monkeypatch.setattr(fetch_mod, "address_problem", problem)


@pytest.mark.parametrize("target, why", [
    ("http://169.254.169.254/latest/meta-data/iam/", "refused: 169.254.169.254 is a cloud metadata address"),
    ("http://10.0.0.1/admin", "refused: 10.0.0.1 is a private address"),
    ("http://[::1]:{port}/secret", "refused: ::1 is a loopback address"),
])
def test_redirect_to_private_address_refused(http_server: LocalHTTPServer, loopback_v4_allowed: None,
                                             loopback_only: list[str], target: str, why: str) -> None:
    http_server.route("/secret", body=b"secret")
    http_server.redirect("/feed", target.format(port=http_server.port))
    err = error_of(http_server.url("/feed"), GUARDED, BlockedAddressError)
    assert err.reason.startswith(why)
    assert http_server.hits("/feed") == 1 and http_server.hits("/secret") == 0
    assert set(loopback_only) == {"127.0.0.1"}


@pytest.mark.parametrize("url, reason", [
    ("file:///etc/passwd", "unsupported scheme 'file'"),
    ("ftp://example.org/feed.xml", "unsupported scheme 'ftp'"),
    ("gopher://example.org/", "unsupported scheme 'gopher'"),
    ("javascript:alert(1)", "unsupported scheme 'javascript'"),
    ("example.org/feed", "URL has no scheme"),
    ("http:///nohost", "URL has no host: 'http:///nohost'"),
    ("http://example.org:99999/", "invalid URL 'http://example.org:99999/'"),
])
def test_bad_schemes_and_urls_refused(url: str, reason: str, loopback_only: list[str]) -> None:
    assert error_of(url, OPEN).reason == reason
    assert loopback_only == []


def test_redirect_to_file_scheme_refused(http_server: LocalHTTPServer) -> None:
    http_server.redirect("/feed", "file:///etc/passwd")
    assert error_of(http_server.url("/feed"), OPEN).reason == "unsupported scheme 'file'"


def test_unresolvable_host(loopback_only: list[str]) -> None:
    err = error_of("http://does-not-exist.invalid/", GUARDED)
    assert err.reason == "cannot resolve host 'does-not-exist.invalid'"


@pytest.mark.parametrize("addr, expected", [
    ("8.8.8.8", None), ("2606:4700:4700::1111", None),
    ("127.0.0.53", "a loopback address"), ("172.16.5.4", "a private address"),
    ("100.127.255.255", "a shared (CGNAT) address"), ("240.0.0.1", "a reserved address"),
    ("::ffff:10.0.0.1", "a private address (IPv4 10.0.0.1 inside IPv6)"),
    ("64:ff9b::a9fe:a9fe", "a cloud metadata address (IPv4 169.254.169.254 inside IPv6)"),
    ("2002:7f00:1::", "a loopback address (IPv4 127.0.0.1 inside IPv6)"),
    ("fc00::1", "a private address"), ("ff02::1", "a multicast address"), ("::", "an unspecified address"),
])
def test_address_classification(addr: str, expected: str | None) -> None:
    assert address_problem(ipaddress.ip_address(addr)) == expected
