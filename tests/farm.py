"""A synthetic farm of feeds x article pages on a :class:`LocalHTTPServer`, and a `digest` runner.

Texts are generated from a seed (no shared corpus text is copied): every page has its own title,
words and numbers, so no two articles share a content hash or a near-duplicate text. Feeds answer
304 to their ETag, as real feeds do, which is what makes a poll skip a feed it saw before.
A hook sees every page request before it is answered (to kill a poll after N pages).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from conftest import ROOT
from httpserver import LocalHTTPServer, RecordedRequest, Response

_TEXT = ("attackers exploited a flaw in the gateway appliance and moved laterally across the network "
          "researchers observed the loader dropping a backdoor that harvested credentials from browsers "
          "the vendor shipped a patch and urged customers to rotate keys and review access logs "
          "investigators linked the intrusion to a financially motivated group selling stolen data")
_WORDS = _TEXT.split(" ")


def _sentence(rnd: random.Random, n: int) -> str:
    words = [rnd.choice(_WORDS) for _ in range(n)] + [f"{rnd.randrange(10**6)}"]
    return " ".join(words).capitalize() + "."


@dataclass
class Farm:
    """``feeds`` feeds of ``pages`` entries each, served at /feeds/fNN.xml and /a/fNN-MMM.html."""

    server: LocalHTTPServer
    feeds: int
    pages: int
    seed: int = 1
    on_page: Callable[[int], None] | None = None  # called with the running page count, before answering
    on_feed: Callable[[int], None] | None = None
    page_hits: int = 0
    feed_hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        from datetime import UTC, datetime, timedelta

        rnd = random.Random(self.seed)
        now = datetime.now(UTC).replace(microsecond=0)
        for f in range(self.feeds):
            items = []
            for m in range(self.pages):
                title = f"Farm report {f}-{m}: {_sentence(rnd, 6)[:-1]}"
                paras = "".join(f"<p>{_sentence(rnd, 24)} {_sentence(rnd, 18)}</p>" for _ in range(6))
                page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
                        f"<body><nav><a href='/'>Home</a></nav><main><article><h1>{escape(title)}</h1>{paras}"
                        f"</article></main><footer>Copyright farm</footer></body></html>").encode()
                self.server.handler(f"/a/f{f:02d}-{m:03d}.html", self._page_handler(page))
                when = format_datetime(now - timedelta(minutes=10 * m + f))
                items.append(f"<item><title>{escape(title)}</title><link>{self.page_url(f, m)}</link>"
                             f"<guid isPermaLink='false'>farm-{f}-{m}</guid><pubDate>{when}</pubDate>"
                             f"<description>{escape(_sentence(rnd, 20))}</description></item>")
            xml = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                   f"<title>Farm feed {f}</title><link>{self.server.base_url}/</link><description>farm</description>"
                   + "".join(items) + "</channel></rss>").encode()
            self.server.handler(f"/feeds/f{f:02d}.xml", self._feed_handler(xml, f'"farm-{f}-v1"'))

    def page_url(self, f: int, m: int) -> str:
        return self.server.url(f"/a/f{f:02d}-{m:03d}.html")

    def feed_urls(self) -> list[str]:
        return [self.server.url(f"/feeds/f{f:02d}.xml") for f in range(self.feeds)]

    def guids(self) -> set[str]:
        return {f"farm-{f}-{m}" for f in range(self.feeds) for m in range(self.pages)}

    def feeds_toml(self) -> str:
        return "".join(f'[[feed]]\nname = "Farm {i}"\nurl = "{u}"\n\n' for i, u in enumerate(self.feed_urls()))

    def _page_handler(self, body: bytes) -> Callable[[RecordedRequest], Response]:
        def answer(req: RecordedRequest) -> Response:
            with self.lock:
                self.page_hits += 1
                n = self.page_hits
            if self.on_page:
                self.on_page(n)
            return Response(200, {"Content-Type": "text/html; charset=utf-8"}, body)
        return answer

    def _feed_handler(self, body: bytes, etag: str) -> Callable[[RecordedRequest], Response]:
        def answer(req: RecordedRequest) -> Response:
            with self.lock:
                self.feed_hits += 1
                n = self.feed_hits
            if self.on_feed:
                self.on_feed(n)
            if req.headers.get("If-None-Match") == etag:
                return Response(304, {"ETag": etag}, b"")
            return Response(200, {"Content-Type": "application/rss+xml", "ETag": etag}, body)
        return answer


def digest_env() -> dict[str, str]:
    """This checkout first on the path, no stray DIGEST_ settings from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") or k.startswith("DIGEST_TEST_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_digest(cfg: Path, *args: str, stdout: Any = subprocess.PIPE, stderr: Any = subprocess.PIPE
                 ) -> subprocess.Popen[str]:
    """``digest --config cfg ARGS`` as a child process (output piped unless files are given)."""
    return subprocess.Popen([sys.executable, "-m", "digest.cli.main", "--config", str(cfg), *args],
                            stdout=stdout, stderr=stderr, text=True, env=digest_env())


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL, as the OOM killer or a power cut would: no handler, no cleanup."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
