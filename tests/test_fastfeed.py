"""The lxml fast path for plain feeds gives what feedparser gives, and declines what it can't do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import shared_path

from digest.errors import FeedError
from digest.ingest.fastfeed import parse_fast
from digest.ingest.feeds import _defuse, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo" / "feeds"
URL = "https://news.example.com/feeds/main.xml"


def _both(data: bytes, content_type: str = "") -> tuple[object, object]:
    out = []
    for fast in (True, False):
        try:
            out.append(parse_feed(URL, data, content_type=content_type, max_entries=1000, fast=fast))
        except FeedError as exc:
            out.append(("error", exc.reason))
    return out[0], out[1]


def _same(a: object, b: object) -> None:
    """Equal, except for 'now' (a clamped future date) differing by the few ms between the two parses."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert (a.title, a.link) == (b.title, b.link)
    assert len(a.entries) == len(b.entries)
    for x, y in zip(a.entries, b.entries, strict=True):
        assert (x.guid, x.link, x.title, x.summary, x.author) == (y.guid, y.link, y.title, y.summary, y.author)
        if x.published is None or y.published is None:
            assert x.published == y.published
        else:
            assert abs((x.published - y.published).total_seconds()) < 5


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.xml")) + sorted(DEMO.glob("*.xml")), ids=lambda p: p.name)
def test_fast_path_matches_feedparser_on_fixtures(path: Path) -> None:
    a, b = _both(path.read_bytes().replace(b"__BASE_URL__", b"https://demo.example"))
    _same(a, b)


@pytest.mark.parametrize("name", ["bleepingcomputer.xml", "cybersecurity-advisories.xml", "databreaches.xml",
                                  "microsoftsecurity.xml", "proofpoint.xml", "securityweek.xml"])
def test_fast_path_takes_and_matches_real_feeds(name: str) -> None:
    data = shared_path("corpus", "feeds", name).read_bytes()
    assert parse_fast(_defuse(URL, data, ""), URL) is not None, "a plain real feed should take the fast path"
    a, b = _both(data)
    _same(a, b)


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" {root_attrs}><channel><title>T &amp; Co</title><link>/home</link>
<item><title>First &lt;b&gt;bold&lt;/b&gt; item</title><link>/a/1</link>
<guid>/a/1</guid><pubDate>Mon, 02 Mar 2026 10:00:00 +0100</pubDate>
<description>&lt;p&gt;Hello&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;world&lt;/p&gt;</description></item>
<item><title>No link</title><guid isPermaLink="true">https://news.example.com/p/2</guid>
<pubDate>2026-03-02T11:00:00Z</pubDate></item>
<item><title>Opaque guid</title><guid isPermaLink="false">item-3</guid><link>https://x.example/3</link></item>
</channel></rss>"""


def test_rss_values() -> None:
    feed = parse_feed(URL, RSS.format(root_attrs="").encode())
    assert parse_fast(RSS.format(root_attrs="").encode(), URL) is not None
    assert feed.title == "T & Co" and feed.link == "https://news.example.com/home"
    first, second, third = feed.entries
    assert (first.title, first.link, first.guid) == ("First bold item", "https://news.example.com/a/1",
                                                     "https://news.example.com/a/1")
    assert first.summary == "Hello\nworld"  # the script's text is gone
    assert first.published == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert second.link == "https://news.example.com/p/2"  # a permalink guid stands in for the link
    assert second.published == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert (third.guid, third.link) == ("item-3", "https://x.example/3")


def test_document_xml_base_is_honoured() -> None:
    data = RSS.format(root_attrs='xml:base="https://base.example/news/"').encode()
    a, b = _both(data)
    _same(a, b)
    assert a.entries[0].link == "https://base.example/a/1"


@pytest.mark.parametrize("doc", [
    # XHTML content, element-level xml:base, undefined entity, unknown root, broken XML
    ('<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title><id>x</id>'
    '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>hi</p></div></content></entry></feed>'),
    ('<rss version="2.0"><channel><title>t</title><item xml:base="https://o.example/"><title>a</title>'
    '<link>p</link></item></channel></rss>'),
    '<rss version="2.0"><channel><title>t&nbsp;x</title><item><title>a</title></item></channel></rss>',
    '<opml version="2.0"><body/></opml>',
    '<rss version="2.0"><channel><title>t</title><item><title>a</item></channel></rss>',
])
def test_declines_what_feedparser_must_do(doc: str) -> None:
    assert parse_fast(doc.encode(), URL) is None
    a, b = _both(doc.encode())
    _same(a, b)  # and the caller's result is feedparser's


def test_atom_text_constructs() -> None:
    doc = ('<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">A &lt;b&gt; feed</title>'
           '<link href="/"/><entry><title type="html">&lt;i&gt;Big&lt;/i&gt; news</title><id>tag:x,2026:1</id>'
           '<link rel="enclosure" href="/f.mp3"/><link href="/a/1" type="text/html"/>'
           '<updated>2026-03-02T10:00:00+02:00</updated><author><name>Ann</name></author>'
           '<summary type="text">1 &lt; 2 and 3 &gt; 2</summary></entry></feed>')
    assert parse_fast(doc.encode(), URL) is not None
    a, b = _both(doc.encode())
    _same(replace(a, title=""), replace(b, title=""))
    # type="text" is literal text: the fast path keeps "<b>"; feedparser takes it for markup
    assert a.title == "A <b> feed" and b.title == "A feed"
    e = a.entries[0]
    assert (e.title, e.link, e.author, e.summary) == ("Big news", "https://news.example.com/a/1", "Ann",
                                                      "1 < 2 and 3 > 2")
    assert e.published == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_charset_from_content_type_without_declaration() -> None:
    doc = '<rss version="2.0"><channel><title>Новости</title><item><title>Хакеры</title></item></channel></rss>'
    a, b = _both(doc.encode("cp1251"), "application/rss+xml; charset=windows-1251")
    _same(a, b)
    assert a.title == "Новости" and a.entries[0].title == "Хакеры"


def test_dates_feedparser_cannot_read_are_still_read() -> None:
    doc = ('<rss version="2.0"><channel><title>t</title><item><title>a</title><guid>g</guid>'
           '<pubDate>Jul 23, 2025 00:00:00-0500</pubDate></item><item><title>b</title><guid>h</guid>'
           '<pubDate>not a date</pubDate></item></channel></rss>')
    feed = parse_feed(URL, doc.encode())
    assert feed.entries[0].published == datetime(2025, 7, 23, 5, 0, tzinfo=UTC)
    assert feed.entries[1].published is None
