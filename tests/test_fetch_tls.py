"""The fetcher over real TLS on 127.0.0.1: certificates are verified, and a trusted one is fetched.

The server is Python's own HTTP server wrapped in TLS with a certificate made here by openssl;
only the trust store is swapped (the fetcher's verifying context trusting the test's own CA).
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest.config import FeedsConfig
from digest.errors import FetchError
from digest.ingest import fetch as fetch_mod
from digest.ingest.fetch import Fetcher, FetchResult

CFG = FeedsConfig(allow_private_networks=True, timeout_seconds=5.0)
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def _certs(tmp: Path, san: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signs for ``san``: (ca.pem, server.pem, server.key)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=digest test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=digest test server")
    (tmp / "ext.cnf").write_text(f"subjectAltName={san}\n", encoding="utf-8")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<rss version='2.0'><channel><title>over TLS</title></channel></rss>"
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(cert: Path, key: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/feed.xml"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, cert, key = _certs(tmp_path, "IP:127.0.0.1")
    for url in _serve(cert, key):
        yield url, ca


def _fetch(url: str) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(CFG) as f:
            return await f.get(url)
    return asyncio.run(run())


def _trusting(ca: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.set_alpn_protocols(["http/1.1"])
    monkeypatch.setattr(fetch_mod, "_ssl_context", lambda: ctx)


def test_an_untrusted_certificate_is_refused_in_one_line(tls_server: tuple[str, Path]) -> None:
    url, _ca = tls_server
    with pytest.raises(FetchError) as info:
        _fetch(url)
    assert info.value.reason.startswith("TLS error:") and "certificate verify failed" in info.value.reason
    assert "\n" not in info.value.reason


def test_a_trusted_certificate_is_fetched_over_tls(tls_server: tuple[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url, ca = tls_server
    _trusting(ca, monkeypatch)
    got = _fetch(url)
    assert got.status == 200 and b"over TLS" in got.content


def test_a_certificate_for_another_host_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca, cert, key = _certs(tmp_path, "DNS:feeds.example.org")  # trusted CA, but not for 127.0.0.1
    _trusting(ca, monkeypatch)
    for url in _serve(cert, key):
        with pytest.raises(FetchError) as info:
            _fetch(url)
        assert info.value.reason.startswith("TLS error:")
