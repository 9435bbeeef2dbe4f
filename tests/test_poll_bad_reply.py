"""One feed's server sends a reply nothing foresaw: that feed fails in one line, the others are polled.

Real `digest poll` runs (in process) over two feeds on a loopback server: a good one, and one whose
server sends a malformed redirect, a non-ASCII ETag with a UTF-8 cookie, or triggers a bug (an
exception that is not a FeedError) in the feed or the page path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import write_config
from httpserver import LocalHTTPServer

from digest.cli.main import cli
from digest.store import Store

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title><link>http://x/</link>
<item><title>{title}: a patch for a router flaw</title><link>{link}</link><guid>{guid}</guid>
<description>The vendor shipped a fix for a flaw in its branch-office routers on Tuesday and asked
customers to update within a week.</description></item></channel></rss>"""
PAGE = ("<html><body><article><h1>Router patch</h1>"
        "<p>The vendor shipped a fix for a flaw in its branch-office routers on Tuesday and asked "
        "customers to update within a week.</p><p>The flaw lets an attacker on the same network run "
        "commands on the device without logging in, the advisory says.</p><p>Researchers who found it "
        "reported it in March; the vendor says it has seen no attacks using it so far.</p><p>Older models "
        "that no longer get updates should be replaced, according to the same advisory.</p>"
        "</article></body></html>")


def _utf8(text: str) -> str:
    """``text`` as its UTF-8 bytes on the wire (the test server writes header values as latin-1)."""
    return text.encode("utf-8").decode("latin-1")


def _farm(tmp_path: Path, server: LocalHTTPServer) -> Path:
    for name in ("good", "bad"):
        server.route(f"/{name}.xml", body=RSS.format(title=name.title(), link=server.url(f"/{name}-page"),
                                                     guid=f"{name}-1"),
                     headers={"Content-Type": "application/rss+xml"})
        server.route(f"/{name}-page", body=PAGE, content_type="text/html; charset=utf-8")
    (tmp_path / "feeds.toml").write_text("".join(f'[[feed]]\nname = "{n}"\nurl = "{server.url(f"/{n}.xml")}"\n\n'
                                                 for n in ("good", "bad")))
    return write_config(tmp_path)


def _poll(cfg: Path) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), "poll"], catch_exceptions=False)


def _stored(tmp_path: Path) -> dict[str, int]:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    try:
        return {r.name: r.article_count for r in store.feed_rows()}
    finally:
        store.close()


def _failure_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("feed failed")]
    assert len(lines) == 1, output
    return lines[0]


def test_a_malformed_redirect_location_fails_that_feed_alone(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    cfg = _farm(tmp_path, http_server)
    http_server.redirect("/bad.xml", "http://[evil/x")
    result = _poll(cfg)
    assert result.exit_code == 1, result.output
    assert "polled 2 feeds: 1 updated, 0 not modified, 1 failed; 1 new articles" in result.output
    line = _failure_line(result.output)
    assert "/bad.xml" in line and "invalid redirect Location 'http://[evil/x'" in line
    assert _stored(tmp_path) == {"good": 1, "bad": 0}


def test_a_non_ascii_etag_and_cookie_are_never_sent_back(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    cfg = _farm(tmp_path, http_server)
    http_server.route("/bad.xml", body=RSS.format(title="Bad", link=http_server.url("/bad-page"), guid="bad-1"),
                      headers={"Content-Type": "application/rss+xml", "ETag": _utf8('"café"'),
                               "Set-Cookie": _utf8("lang=français; Path=/")})
    first = _poll(cfg)
    assert first.exit_code == 0, first.output
    assert "2 new articles" in first.output and "from feed text" not in first.output
    again = _poll(cfg)  # the ETag was not kept: the feed is fetched whole, without a validator
    assert again.exit_code == 0, again.output
    assert "0 failed; 0 new articles" in again.output
    assert _stored(tmp_path) == {"good": 1, "bad": 1}
    for r in http_server.requests:
        assert "If-None-Match" not in r.headers and "Cookie" not in r.headers, r


def test_an_unexpected_exception_fails_its_feed_or_page_alone(tmp_path: Path, http_server: LocalHTTPServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import digest.ingest.poll as poll_module
    from digest.ingest.fetch import Fetcher

    cfg = _farm(tmp_path, http_server)
    http_server.route("/third.xml", body=RSS.format(title="Third", link=http_server.url("/third-page"),
                                                    guid="third-1"), headers={"Content-Type": "application/rss+xml"})
    with (tmp_path / "feeds.toml").open("a") as f:
        f.write(f'[[feed]]\nname = "third"\nurl = "{http_server.url("/third.xml")}"\n')
    real_parse, real_get = poll_module.parse_feed, Fetcher.get

    def parse(url: str, *args: Any, **kw: Any) -> Any:  # stands in for a bug met on one feed's reply
        if url.endswith("/bad.xml"):
            raise KeyError("entry")
        return real_parse(url, *args, **kw)

    async def get(self: Fetcher, url: str, **kw: Any) -> Any:  # and for one on one page's reply
        if url.endswith("/third-page"):
            raise RuntimeError("the reader broke\non two lines")
        return await real_get(self, url, **kw)

    monkeypatch.setattr(poll_module, "parse_feed", parse)
    monkeypatch.setattr(Fetcher, "get", get)
    result = _poll(cfg)
    assert result.exit_code == 1, result.output
    assert re.search(r"polled 3 feeds: 2 updated, 0 not modified, 1 failed; 2 new articles \(1 from feed text\)",
                     result.output), result.output
    line = _failure_line(result.output)
    assert "/bad.xml" in line and "unexpected error: KeyError: 'entry'" in line
    assert _stored(tmp_path) == {"good": 1, "bad": 0, "third": 1}
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    try:
        rows = {r.name: r for r in store.feed_rows()}
    finally:
        store.close()
    assert rows["bad"].consecutive_failures == 1 and rows["bad"].last_error
    assert "unexpected error: KeyError" in rows["bad"].last_error
