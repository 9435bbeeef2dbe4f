"""Feed lists out: OPML 2.0 that :func:`digest.ingest.feedlist.read_feed_list` reads back.

Feeds are grouped in one folder outline per category (the folder path an OPML import gave them,
or the feeds file's ``category``); feeds without a category sit at the top level. Each feed
outline carries ``text``/``title`` (its name), ``xmlUrl`` and ``kind``, so an import of the
export gives the same URLs, names, kinds and categories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from lxml import etree

__all__ = ["to_opml"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("", text)


def to_opml(feeds: Iterable[Any], title: str = "digest feeds") -> bytes:
    """OPML for feeds with ``url``, ``name``, ``kind`` and ``category`` attributes."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = etree.SubElement(root, "body")
    folders: dict[str, Any] = {}
    for feed in sorted(feeds, key=lambda f: ((f.category or "") != "", f.category or "", (f.name or f.url).lower())):
        parent = body
        if feed.category:
            parent = folders.get(feed.category)
            if parent is None:
                parent = folders[feed.category] = etree.SubElement(body, "outline", text=_x(feed.category),
                                                                   title=_x(feed.category))
        name = _x(feed.name or feed.url)
        etree.SubElement(parent, "outline", type="rss", text=name, title=name, xmlUrl=_x(feed.url), kind=feed.kind)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
