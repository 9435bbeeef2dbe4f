"""The rendered email: golden files for the HTML and text parts, and the properties every issue keeps.

Regenerate the golden files after an intended change of the templates with
``DIGEST_UPDATE_GOLDEN=1 pytest tests/test_email_render.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from issue_fixture import composed_issue

from digest.mail.message import MessageFactory, Recipient
from digest.mail.sample import NOW, sample_issue
from digest.models import IssueContent
from digest.render import PLACEHOLDERS, PREFERENCES, UNSUBSCRIBE, personalise, render_issue
from digest.tokens import TokenSigner

GOLDEN = Path(__file__).resolve().parent / "golden"
BASE = "https://digest.example.org"
ARCHIVE = f"{BASE}/archive/42"
GMAIL_CLIP = 102 * 1024


def rendered(issue: IssueContent | None = None):  # type: ignore[no-untyped-def]
    return render_issue(issue or sample_issue(), base_url=BASE, archive_url=ARCHIVE, now=NOW)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.imgs = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and "href" in dict(attrs):  # <a name=...> is an anchor, not a link
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag == "img":
            self.imgs += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Links:
    p = Links()
    p.feed(html)
    return p


@pytest.mark.parametrize("name,part", [("digest.html", "html"), ("digest.txt", "text")])
def test_rendered_issue_matches_the_golden_file(name: str, part: str) -> None:
    """The layout of a composed issue: top stories, sections by importance, pointers, the 'more' line."""
    got = getattr(rendered(composed_issue()), part)
    path = GOLDEN / name
    if os.environ.get("DIGEST_UPDATE_GOLDEN") or not path.exists():
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{name} changed; DIGEST_UPDATE_GOLDEN=1 to accept"


def test_the_email_has_masthead_sections_stories_and_footer_in_order() -> None:
    r = rendered()
    issue = sample_issue()
    assert r.subject == "Cyber Digest, 28 Nov 2026: Chinese Threat Group Jewelbug Breached Russian IT Firm for Five Months"
    for body in (r.html, r.text):
        assert "Saturday, 28 Nov 2026" in body
        assert "6 stories · 3 actors · 10 sources · 1 update" in body
        assert "suspected China" in body and "espionage" in body
        assert "CL-STA-0049 (Palo Alto Networks Unit 42)" in body and "Earth Alux (Trend Micro)" in body
        assert "3 h ago" in body and "also" in body and "first sent 25 Nov" in body
        assert "You get this because you subscribed to Cyber Digest" in body
        # every headline, in the same order in both parts, and the footer last
        positions = [body.index(s.headline.replace("'", "&#39;") if body is r.html else s.headline)
                     for sec in issue.sections for s in sec.stories]
        assert positions == sorted(positions)
        assert body.index("Updates to earlier stories" if body is r.html else "UPDATES TO EARLIER STORIES") > positions[-1]
        assert body.rindex(ARCHIVE) > body.index("You get this because")
    assert "Threat actors" in r.html and "== THREAT ACTORS ==" in r.text
    assert "Exploited Vulnerabilities" in r.html and "== EXPLOITED VULNERABILITIES ==" in r.text


def test_html_is_600px_single_column_inlined_dark_mode_ready_and_has_a_preheader() -> None:
    html = rendered().html
    assert 'width="600"' in html and "max-width: 600px" in html
    assert 'role="presentation"' in html
    assert "@media (prefers-color-scheme: dark)" in html and 'name="color-scheme"' in html
    # css-inline put the styles on the elements (clients that drop <style> still get them)
    assert re.search(r'<p class="headline" style="[^"]*font-size: 17px', html)
    pre = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)', html)
    assert pre and "display: none" in pre.group(1)
    assert pre.group(2).startswith("Chinese Threat Group Jewelbug Breached Russian IT Firm")


def test_every_link_is_absolute_and_nothing_needs_images() -> None:
    r = rendered()
    unsub, prefs = f"{BASE}/unsubscribe/tok", f"{BASE}/preferences/tok"
    html = personalise(r.html, unsubscribe_url=unsub, preferences_url=prefs)
    links = parse(html)
    assert links.hrefs and all(re.match(r"^https?://[^/\s]+", h) for h in links.hrefs), links.hrefs
    assert {unsub, prefs, ARCHIVE} <= set(links.hrefs)
    assert links.imgs == 0 and "<img" not in html
    text = personalise(r.text, unsubscribe_url=unsub, preferences_url=prefs)
    assert unsub in text and prefs in text and ARCHIVE in text


def test_relative_or_script_links_from_feeds_never_reach_the_email() -> None:
    issue = sample_issue()
    sec = issue.sections[0]
    bad = replace(sec.stories[0], url="javascript:alert(1)", also=(("Relative", "/news/1"), ("Spaced", "https://x.example/a b")))
    issue = replace(issue, sections=(replace(sec, stories=(bad,)), *issue.sections[1:]))
    r = rendered(issue)
    for body in (r.html, r.text):
        assert "javascript:" not in body and "/news/1" not in body and "x.example/a b" not in body
    hrefs = parse(personalise(r.html, unsubscribe_url=BASE + "/u", preferences_url=BASE + "/p")).hrefs
    assert all(h.startswith(("https://", "http://")) for h in hrefs)


def test_feed_text_is_escaped_in_html() -> None:
    issue = sample_issue()
    sec = issue.sections[0]
    evil = replace(sec.stories[0], headline='<script>alert("x")</script> Breach', summary="<b>bold</b> & more")
    r = rendered(replace(issue, sections=(replace(sec, stories=(evil,)), *issue.sections[1:])))
    assert "<script>" not in r.html and "&lt;script&gt;" in r.html and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in r.html
    assert '<script>alert("x")</script> Breach' in r.text  # plain text stays plain


def test_a_full_issue_stays_under_gmails_clip() -> None:
    big = sample_issue(copies=20)  # 63 stories, more than newsletter.max_stories
    r = rendered(big)
    html = personalise(r.html, unsubscribe_url=f"{BASE}/unsubscribe/" + "x" * 60,
                       preferences_url=f"{BASE}/preferences/" + "x" * 60)
    assert len(html.encode("utf-8")) < GMAIL_CLIP


def test_an_empty_issue_says_so_in_one_line() -> None:
    issue = replace(sample_issue(), sections=(), updates=(), counts={"stories": 0}, preheader="")
    r = rendered(issue)
    assert "Nothing new since the last issue." in r.html and "Nothing new since the last issue." in r.text
    assert "Threat actors" not in r.html and 'class="preheader"' not in r.html


def test_rendered_once_per_issue_personalised_per_subscriber_by_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    r = rendered()
    assert all(p in r.html and p in r.text for p in PLACEHOLDERS)
    factory = MessageFactory(r, sender="Cyber Digest <digest@example.org>", base_url=BASE,
                             signer=TokenSigner(b"k" * 32), issue_id=42)
    import digest.render

    def no_render(*_a: object, **_k: object) -> None:
        raise AssertionError("the template must not be rendered per subscriber")

    monkeypatch.setattr(digest.render, "render_issue", no_render)
    monkeypatch.setattr(digest.render, "environment", no_render)
    a = factory.build(Recipient(1, "a@example.org", "n1"))
    b = factory.build(Recipient(2, "b@example.org", "n2"))
    assert UNSUBSCRIBE.encode() not in a and PREFERENCES.encode() not in b
    assert factory.links(Recipient(1, "a@example.org", "n1"))[0].encode() in a
    assert factory.links(Recipient(1, "a@example.org", "n1"))[0].encode() not in b
