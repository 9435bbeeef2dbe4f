"""Fast path for plain RSS 2.0, RSS 1.0 (RDF) and Atom feeds: lxml straight to entry fields.

feedparser is thorough and slow (about 0.6 ms per entry, most of a no-page poll). Almost every
real feed is a well-formed document in one of three shapes, so this module reads those with one
lxml parse and a handful of element lookups, and answers ``None`` for anything else (broken XML,
undefined entities, XHTML content, ``xml:base``, an unknown root); the caller then hands the bytes
to feedparser, which stays the reference for every hard case.

The lxml parser is hardened the same way as the rest of the feed path: no DTD loading, no entity
resolution, no network, no huge-tree mode (the bytes reaching it have had their DOCTYPE removed).
The entries it returns carry the same raw values feedparser would give :func:`feeds.parse_feed`
(title text, link, guid, the longest body, the first usable date, the author), so both paths
finish through the same cleaning code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape
from urllib.parse import urljoin

from lxml import etree

__all__ = ["RawEntry", "RawFeed", "parse_fast"]

_ATOM = "http://www.w3.org/2005/Atom"
_RSS1 = "http://purl.org/rss/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC = "http://purl.org/dc/elements/1.1/"
_DCTERMS = "http://purl.org/dc/terms/"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


@dataclass(frozen=True)
class RawEntry:
    """One entry's values before cleaning (``body`` is HTML)."""

    title: str
    link: str
    guid: str
    body: str
    published: datetime | None
    author: str


@dataclass(frozen=True)
class RawFeed:
    title: str
    link: str
    entries: list[RawEntry]


class _Unsupported(Exception):
    """The document needs feedparser."""


def _parser(encoding: str | None) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, recover=False, encoding=encoding)


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if len(el):  # markup inside a text field (unescaped HTML, XHTML): feedparser's job
        raise _Unsupported
    return el.text or ""


def _date(raw: str, now: datetime) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    when: datetime | None = None
    try:
        when = parsedate_to_datetime(raw)  # RFC 822 (RSS)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(raw)  # RFC 3339 / W3C-DTF (Atom, Dublin Core)
        except ValueError:
            from feedparser.datetimes import _parse_date  # the long tail of date formats

            parsed = _parse_date(raw)
            if not parsed:
                return None
            try:
                when = datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError, OverflowError):
                return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return min(when, now)


def _first_date(item: etree._Element, tags: tuple[str, ...], now: datetime) -> datetime | None:
    for tag in tags:
        for el in item.iterchildren(tag):
            when = _date(_text(el), now)
            if when is not None:
                return when
    return None


def _body(item: etree._Element, *descriptions: str) -> str:
    """The longest content:encoded of an item, else its first non-empty description."""
    body = max((_text(el) for el in item.iterchildren(_CONTENT)), key=len, default="")
    for tag in descriptions:
        body = body or _text(item.find(tag))
    return body


def _rss_item(item: etree._Element, now: datetime, base: str) -> RawEntry:
    title = _text(item.find("title"))
    link = _link(base, _text(item.find("link")))
    if not link:
        for al in item.iterchildren(f"{{{_ATOM}}}link"):
            if al.get("rel", "alternate") == "alternate" and al.get("href"):
                link = _link(base, al.get("href", ""))
                break
    guid_el = item.find("guid")
    guid = _text(guid_el).strip()
    if guid and guid_el is not None and guid_el.get("isPermaLink", "true").lower() != "false":
        guid = _join(base, guid)  # a permalink guid is a URI, relative to the feed (as feedparser has it)
        link = link or guid
    if not guid:
        guid = item.get(f"{{{_RDF}}}about", "")
    body = _body(item, "description", f"{{{_RSS1}}}description")
    author = _text(item.find(f"{{{_DC}}}creator")) or _text(item.find("author"))
    published = _first_date(item, ("pubDate", f"{{{_DC}}}date", f"{{{_DCTERMS}}}modified",
                                   f"{{{_DCTERMS}}}created"), now)
    return RawEntry(title, link, guid, body, published, author)


def _rdf_item(item: etree._Element, now: datetime, base: str) -> RawEntry:
    ns = f"{{{_RSS1}}}"
    body = _body(item, f"{ns}description")
    return RawEntry(_text(item.find(f"{ns}title")), _link(base, _text(item.find(f"{ns}link"))),
                    item.get(f"{{{_RDF}}}about", ""), body,
                    _first_date(item, (f"{{{_DC}}}date", f"{{{_DCTERMS}}}modified"), now),
                    _text(item.find(f"{{{_DC}}}creator")))


def _atom_text(el: etree._Element | None) -> str:
    """An Atom text construct as HTML (``text`` escaped, ``html`` as is; ``xhtml`` is unsupported)."""
    if el is None:
        return ""
    kind = (el.get("type") or "text").lower()
    if kind in ("html", "text/html"):
        return _text(el)
    if kind in ("text", "text/plain"):
        return escape(_text(el), quote=False)
    raise _Unsupported  # xhtml, or base64 / other media types


def _atom_link(el: etree._Element) -> str:
    best = ""
    for ln in el.iterchildren(f"{{{_ATOM}}}link"):
        rel = ln.get("rel", "alternate")
        if rel == "alternate" and ln.get("href"):
            if (ln.get("type") or "text/html").startswith("text/html"):
                return ln.get("href", "")
            best = best or ln.get("href", "")
    return best


def _atom_entry(entry: etree._Element, now: datetime, base: str) -> RawEntry:
    a = f"{{{_ATOM}}}"
    content = entry.find(f"{a}content")
    if content is not None and content.get("src"):
        content = None
    body = _atom_text(content)
    summary = _atom_text(entry.find(f"{a}summary"))
    if len(summary) > len(body):
        body = summary
    author_el = entry.find(f"{a}author")
    author = _text(author_el.find(f"{a}name")) if author_el is not None else ""
    guid = _text(entry.find(f"{a}id")).strip()
    return RawEntry(_atom_text(entry.find(f"{a}title")), _link(base, _atom_link(entry)), _join(base, guid) if guid else "",
                    body, _first_date(entry, (f"{a}published", f"{a}updated", f"{a}issued", f"{a}modified"),
                                      now), author)


def _link(base: str, uri: str) -> str:
    uri = uri.strip()
    return _join(base, uri) if uri else ""


def _join(base: str, uri: str) -> str:
    try:
        return urljoin(base, uri)
    except ValueError:
        return uri


def parse_fast(data: bytes, base: str, charset: str | None = None) -> RawFeed | None:
    """Parse a plain RSS/RDF/Atom document, or return ``None`` when feedparser should do it."""
    head = data[:300]
    encoding = None
    if charset and b"encoding=" not in head and not head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        encoding = charset
    try:
        root = etree.fromstring(data, _parser(encoding))
    except (etree.XMLSyntaxError, LookupError, ValueError):
        return None
    if root is None:
        return None
    now = datetime.now(UTC)
    try:
        if any(True for _ in root.iter(etree.Entity)):
            return None
        if root.get(_XML_BASE):  # a base for the whole document (Drupal writes one) is fine
            base = _join(base, root.get(_XML_BASE, ""))
        if any(el.get(_XML_BASE) is not None for el in root.iterdescendants()):
            return None  # per-element bases: feedparser's job
        if root.tag == "rss":
            channel = root.find("channel")
            if channel is None:
                return None
            entries = [_rss_item(i, now, base) for i in channel.iterchildren("item")]
            return RawFeed(_text(channel.find("title")), _link(base, _text(channel.find("link"))), entries)
        if root.tag == f"{{{_ATOM}}}feed":
            entries = [_atom_entry(e, now, base) for e in root.iterchildren(f"{{{_ATOM}}}entry")]
            return RawFeed(_atom_text(root.find(f"{{{_ATOM}}}title")), _link(base, _atom_link(root)), entries)
        if root.tag == f"{{{_RDF}}}RDF":
            ns = f"{{{_RSS1}}}"
            channel = root.find(f"{ns}channel")
            entries = [_rdf_item(i, now, base) for i in root.iterchildren(f"{ns}item")]
            return RawFeed(_text(channel.find(f"{ns}title")) if channel is not None else "",
                           _link(base, _text(channel.find(f"{ns}link"))) if channel is not None else "", entries)
    except _Unsupported:
        return None
    return None
