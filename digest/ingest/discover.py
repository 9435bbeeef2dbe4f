"""`feeds add`: check a URL once, the way polling will fetch it, and find the feed of a web page.

The URL is fetched by the poll's own :class:`~digest.ingest.fetch.Fetcher`, so the same SSRF
guard, size cap, timeout and redirect rules apply: an address that polling refuses (loopback,
private networks, cloud metadata) is refused here too, unless ``feeds.allow_private_networks``
is set. A response that parses as a feed is the feed. An HTML page is searched for
``<link rel="alternate" type="application/rss+xml|atom+xml|feed+json" href=...>``; the first
candidate that parses as a feed is the feed (at most :data:`MAX_CANDIDATES` are tried).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree, html

from digest.config import FeedsConfig
from digest.errors import FeedError
from digest.ingest.feeds import parse_feed
from digest.ingest.fetch import Fetcher
from digest.ingest.urls import normalise_url

__all__ = ["FoundFeed", "feed_links", "find_feed"]

MAX_CANDIDATES = 4
_FEED_TYPES = re.compile(r"application/(rss|atom|feed|rdf)\+(xml|json)|application/(x-)?rss\+xml|"
                         r"text/xml|application/xml|application/json", re.IGNORECASE)
_ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
           "text/html;q=0.8, */*;q=0.5")


@dataclass(frozen=True)
class FoundFeed:
    """The feed a URL leads to: its URL, title and entry count, and the page it was found on."""

    url: str
    title: str
    entries: int
    page: str = ""  # the web page whose <link rel="alternate"> named it ("" when the URL was the feed)


def feed_links(page: bytes, base: str) -> list[str]:
    """Absolute feed URLs a page names in ``<link rel="alternate">`` with a feed type, in page order."""
    try:
        doc = html.fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    base_el = doc.find(".//base[@href]")
    base = urljoin(base, base_el.get("href")) if base_el is not None else base
    out: list[str] = []
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "alternate" not in rels or not link.get("href"):
            continue
        if not _FEED_TYPES.fullmatch((link.get("type") or "").strip()):
            continue
        try:
            url = normalise_url(urljoin(base, link.get("href", "").strip()))
        except ValueError:
            continue
        if url not in out:
            out.append(url)
    return out


async def _find(url: str, cfg: FeedsConfig) -> FoundFeed:
    async with Fetcher(cfg) as fetcher:
        result = await fetcher.get(url, accept=_ACCEPT)
        try:
            parsed = parse_feed(url, result.content, content_type=result.content_type,
                                max_entries=cfg.max_entries_per_feed)
            return FoundFeed(url, parsed.title, len(parsed.entries))
        except FeedError as not_feed:
            if "html" not in not_feed.reason.lower():
                raise
        candidates = feed_links(result.content, result.url)
        if not candidates:
            raise FeedError(url, "a web page without a feed: it names none in <link rel=\"alternate\">")
        problems: list[str] = []
        for candidate in candidates[:MAX_CANDIDATES]:
            try:
                found = await fetcher.get(candidate, accept=_ACCEPT)
                parsed = parse_feed(candidate, found.content, content_type=found.content_type,
                                    max_entries=cfg.max_entries_per_feed)
                return FoundFeed(candidate, parsed.title, len(parsed.entries), page=url)
            except FeedError as exc:
                problems.append(f"{candidate}: {exc.reason}")
        raise FeedError(url, "the page's feed links do not work: " + "; ".join(problems))


def find_feed(url: str, cfg: FeedsConfig) -> FoundFeed:
    """Fetch ``url`` once (through the poll's guard) and return the feed it is or names.

    Raises FeedError (BlockedAddressError for a refused address) with a one-line reason.
    """
    return asyncio.run(_find(url, cfg))


def literal_problem(url: str, cfg: FeedsConfig) -> str | None:
    """Without fetching: why polling will refuse ``url`` when its host is an IP literal or localhost."""
    import ipaddress
    from urllib.parse import urlsplit

    from digest.ingest.fetch import address_problem

    if cfg.allow_private_networks:
        return None
    host = (urlsplit(url).hostname or "").strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return f"refused: {host} is a loopback address (set feeds.allow_private_networks to allow)"
    try:
        why = address_problem(ipaddress.ip_address(host))
    except ValueError:
        return None
    return f"refused: {host} is {why} (set feeds.allow_private_networks to allow)" if why else None
