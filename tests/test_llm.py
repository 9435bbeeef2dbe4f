"""The OpenAI-compatible summarizer against a real local HTTP server, including its failure modes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from digest.intel.llm import OpenAISummarizer, chat_url, verify_summary
from digest.intel.summarize import extractive_summary

TITLE = "Jewelbug Breached Russian IT Firm"
ARTICLE = (
    "A China-linked group that Symantec tracks as Jewelbug spent five months inside a Russian IT service "
    "provider, from January to May 2025. Symantec said the attackers reached code repositories and "
    "software build systems. The group also used CVE-2024-12345 in an earlier campaign against 12 targets."
)
GOOD = ("Symantec says a China-linked group it tracks as Jewelbug spent five months inside a Russian IT service "
        "provider from January to May 2025. The attackers reached its code repositories and software build systems.")

REPLIES: dict[str, Any] = {
    "good": GOOD,
    "think": "<think>Let me see.</think>Summary: " + GOOD,
    "fake-cve": GOOD + " Symantec linked the intrusion to CVE-2025-99999.",
    "fake-number": "Symantec says Jewelbug spent 7 months inside a Russian IT service provider. "
                   "The attackers reached code repositories and software build systems.",
    "fake-name": "Mandiant says Jewelbug spent five months inside a Russian IT service provider. "
                 "The attackers reached code repositories and software build systems.",
    "question": "Did Jewelbug breach a Russian IT service provider? Symantec says the attackers reached its code.",
    "too-long": " ".join(["Symantec says Jewelbug breached a Russian IT service provider."] * 12),
}


class Handler(BaseHTTPRequestHandler):
    """Behaves according to the requested model name."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        model = body["model"]
        try:
            if self.path != "/v1/chat/completions":
                self._send(404, b"{}")
            elif model == "error":
                self._send(500, b'{"error": "boom"}')
            elif model == "slow":
                time.sleep(1.5)
                self._send(200, self._reply(GOOD))
            elif model == "garbage":
                self._send(200, b"this is not json {")
            elif model == "no-choices":
                self._send(200, b'{"choices": []}')
            else:
                self._send(200, self._reply(REPLIES[model]))
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _reply(content: str) -> bytes:
        return json.dumps({"id": "x", "object": "chat.completion",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                        "finish_reason": "stop"}]}).encode()

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def make(endpoint: str, model: str, **kw: Any) -> OpenAISummarizer:
    return OpenAISummarizer(endpoint, model, timeout_seconds=kw.pop("timeout_seconds", 5.0), **kw)


def test_good_summary_is_used(server: str) -> None:
    s = make(server, "good", api_key="sekrit")
    try:
        assert s.summarize(TITLE, ARTICLE) == GOOD
        assert s.last_outcome == "llm"
        req = Handler.requests[-1]
        assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sekrit"
        assert req["body"]["messages"][0]["role"] == "system"
        assert ARTICLE[:40] in req["body"]["messages"][1]["content"]
    finally:
        s.close()


def test_reasoning_and_preamble_are_stripped(server: str) -> None:
    s = make(server, "think")
    try:
        assert s.summarize(TITLE, ARTICLE) == GOOD
    finally:
        s.close()


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("error", "HTTP 500"),
        ("garbage", "unreadable reply"),
        ("no-choices", "unreadable reply"),
        ("fake-cve", "unsupported CVE CVE-2025-99999"),
        ("fake-number", "unsupported number 7"),
        ("fake-name", "unsupported name Mandiant"),
        ("question", "question"),
        ("too-long", "too-long"),
    ],
)
def test_failures_fall_back_to_extractive(server: str, model: str, reason: str) -> None:
    s = make(server, model)
    try:
        assert s.summarize(TITLE, ARTICLE) == extractive_summary(TITLE, ARTICLE)
        assert s.last_outcome.startswith("fallback") and reason in s.last_outcome
    finally:
        s.close()


def test_slow_endpoint_times_out_and_cools_off(server: str) -> None:
    s = make(server, "slow", timeout_seconds=0.3, cooldown_seconds=60)
    try:
        before = len(Handler.requests)
        assert s.summarize(TITLE, ARTICLE) == extractive_summary(TITLE, ARTICLE)
        assert "timeout" in s.last_outcome
        # the next article does not wait for the dead endpoint again
        assert s.summarize(TITLE, ARTICLE) == extractive_summary(TITLE, ARTICLE)
        assert "cooling off" in s.last_outcome
        assert len(Handler.requests) == before + 1
    finally:
        s.close()


def test_unreachable_endpoint_falls_back() -> None:
    s = make("http://127.0.0.1:9/v1", "good", timeout_seconds=1.0)
    try:
        assert s.summarize(TITLE, ARTICLE) == extractive_summary(TITLE, ARTICLE)
        assert "unreachable" in s.last_outcome
    finally:
        s.close()


def test_verify_summary_accepts_supported_claims() -> None:
    assert verify_summary(GOOD, ARTICLE) == []
    assert verify_summary("The group hit 12 targets using CVE-2024-12345.", ARTICLE) == []
    assert verify_summary("The group hit 13 targets.", ARTICLE) == ["unsupported number 13"]


def test_chat_url_forms() -> None:
    assert chat_url("http://h:11434/v1") == "http://h:11434/v1/chat/completions"
    assert chat_url("http://h:8080/") == "http://h:8080/v1/chat/completions"
    assert chat_url("https://api.example/v1/chat/completions") == "https://api.example/v1/chat/completions"
