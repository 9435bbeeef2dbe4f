"""`digest serve` for real: uvicorn in a child process on a loopback port, spoken to over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SmtpSink, free_port, write_config

from digest.config import load_config
from digest.store import Store
from digest.tokens import TokenSigner


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("DIGEST_") and not k.startswith("DIGEST_TEST_"))}
    env["DIGEST_SECURITY_SECRET_KEY"] = "s" * 32
    return env


def _serve(config_file: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "digest.cli.web", "--config", str(config_file), "serve", *args],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_up(proc: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"digest serve exited with {proc.returncode}: {out}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("digest serve did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()
    return proc.returncode


@pytest.fixture
def served(tmp_path: Path, smtp_server: SmtpSink) -> Iterator[tuple[str, Path]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path, f'[newsletter]\nbase_url = "{base}"\n[smtp]\nhost = "127.0.0.1"\n'
                                 f'port = {smtp_server.port}\n[web]\nport = {port}\nsignup_rate_per_hour = 3\n')
    proc = _serve(cfg)  # host and port come from the config
    try:
        _wait_up(proc, base)
        yield base, cfg
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown


def test_serve_answers_over_http(served: tuple[str, Path], tmp_path: Path, smtp_server: SmtpSink) -> None:
    base, cfg = served
    with httpx.Client(base_url=base, timeout=10) as http:
        r = http.get("/")
        assert r.status_code == 200 and "Subscribe" in r.text
        assert r.headers["x-frame-options"] == "DENY" and "server" not in r.headers
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text).group(1)  # type: ignore[union-attr]
        r = http.post("/subscribe", data={"csrf_token": token, "email": "live@example.org", "website": ""})
        assert r.status_code == 200 and "Check your inbox" in r.text
        # the mail goes out after the answer: wait for it
        deadline = time.monotonic() + 30
        while not smtp_server.to("live@example.org") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(smtp_server.to("live@example.org")) == 1

        config = load_config(cfg, env=_env(), root=tmp_path)
        store = Store.open(config)
        try:
            sub = store.subscriber(email="live@example.org")
            assert sub is not None
            store.set_subscriber_status(sub.id, "confirmed")
            signer = TokenSigner(store.secret_key(config.security.secret_key))
            unsub = signer.sign("unsubscribe", sub.id, sub.token_nonce)
            # RFC 8058 one-click, as a mail provider sends it: no cookie, no CSRF token
            r = httpx.post(f"{base}/unsubscribe/{unsub}", content=b"List-Unsubscribe=One-Click", timeout=10,
                           headers={"content-type": "application/x-www-form-urlencoded"})
            assert r.status_code == 200
            assert store.subscriber(email="live@example.org").status == "unsubscribed"  # type: ignore[union-attr]
            r = httpx.post(f"{base}/unsubscribe/{unsub[:-3]}xyz", content=b"List-Unsubscribe=One-Click", timeout=10)
            assert r.status_code == 400
        finally:
            store.close()


def test_serve_rate_limits_per_forwarded_client(served: tuple[str, Path]) -> None:
    base, _cfg = served

    def attempt(http: httpx.Client, client_ip: str, n: int) -> int:
        r = http.get("/subscribe")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text).group(1)  # type: ignore[union-attr]
        return http.post("/subscribe", data={"csrf_token": token, "email": f"u{n}@example.org"},
                         headers={"x-forwarded-for": client_ip}).status_code

    with httpx.Client(base_url=base, timeout=10) as http:
        # a trusted local proxy forwards the client address; the limit (3 an hour) is per client
        assert [attempt(http, "198.51.100.1", n) for n in range(5)] == [200, 200, 200, 429, 429]
        assert attempt(http, "198.51.100.2", 9) == 200


def test_serve_host_and_port_options(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, f'[newsletter]\nbase_url = "http://127.0.0.1:{port}"\n')
    proc = _serve(cfg, "--host", "127.0.0.1", "--port", str(port))
    try:
        _wait_up(proc, f"http://127.0.0.1:{port}")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok"
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
