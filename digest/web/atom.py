"""The Atom feed of sent issues (RFC 4287), built with ElementTree so every value is escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from digest.issue.render import PLACEHOLDERS
from digest.store import Issue

ATOM = "http://www.w3.org/2005/Atom"
# characters XML 1.0 cannot carry at all (escaping does not help): C0 controls, surrogates, U+FFFE/F
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: object, limit: int | None = None) -> str:
    text = _NOT_XML.sub("", str(value))
    return text[:limit] if limit else text


def _stamp(value: datetime | None) -> str:
    value = value or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary_of(issue: Issue, subscribe_url: str, limit: int = 600) -> str:
    text = issue.text or ""
    head, sep, footer = text.rpartition("\n--\n")
    if sep and "You get this because" in footer:  # a reader's footer is no part of a public summary
        text = head
    for ph in PLACEHOLDERS:
        text = text.replace(ph, subscribe_url)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def build_feed(issues: Sequence[Issue], *, title: str, base_url: str) -> bytes:
    base = base_url.rstrip("/")
    subscribe = f"{base}/subscribe"
    feed = ET.Element("feed", {"xmlns": ATOM})
    ET.SubElement(feed, "id").text = xml_text(f"{base}/feed.xml")
    ET.SubElement(feed, "title").text = xml_text(title, 300)
    ET.SubElement(feed, "subtitle").text = "Cyber security news, grouped by threat actor"
    newest = max((i.sent_at or i.created_at for i in issues), default=None)
    ET.SubElement(feed, "updated").text = _stamp(newest)
    ET.SubElement(feed, "link", {"rel": "self", "type": "application/atom+xml", "href": xml_text(f"{base}/feed.xml")})
    ET.SubElement(feed, "link", {"rel": "alternate", "type": "text/html", "href": xml_text(f"{base}/archive/")})
    author = ET.SubElement(feed, "author")
    ET.SubElement(author, "name").text = xml_text(title, 300)
    ET.SubElement(feed, "generator").text = "digest"
    for issue in issues:
        url = f"{base}/archive/{int(issue.id)}"
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = xml_text(url)
        ET.SubElement(entry, "title").text = xml_text(issue.subject, 500) or f"Issue {issue.issue_date}"
        ET.SubElement(entry, "updated").text = _stamp(issue.sent_at or issue.created_at)
        ET.SubElement(entry, "published").text = _stamp(issue.sent_at or issue.created_at)
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": xml_text(url)})
        ET.SubElement(entry, "summary", {"type": "text"}).text = xml_text(summary_of(issue, subscribe))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
