"""The rendered email: golden files for the HTML and text parts, and the properties every issue keeps.

Regenerate the golden files after an intended change of the templates with
``DIGEST_UPDATE_GOLDEN=1 pytest tests/test_email_render.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from issue_fixture import composed_issue

from digest.issue.render import PLACEHOLDERS, PREFERENCES, UNSUBSCRIBE, personalise, render_issue
from digest.mail.message import MessageFactory, Recipient
from digest.mail.sample import NOW, sample_issue
from digest.models import IssueContent
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
    assert r.subject == "Cyber Digest, 28 Nov 2026: Chinese Threat Group Jewelbug Breached Russian IT Firm for…"
    for body in (r.html, r.text):
        assert "Saturday, 28 Nov 2026" in body
        assert "6 stories · 3 actors · 10 sources · 1 update" in body
        assert "suspected China" in body and "espionage" in body
        assert "CL-STA-0049 (Palo Alto Networks Unit 42)" in body and "Earth Alux (Trend Micro)" in body
        assert "28 Nov 04:00 UTC" in body and " ago" not in body and "also" in body and "first sent 25 Nov" in body
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
    import digest.issue.render

    def no_render(*_a: object, **_k: object) -> None:
        raise AssertionError("the template must not be rendered per subscriber")

    monkeypatch.setattr(digest.issue.render, "render_issue", no_render)
    monkeypatch.setattr(digest.issue.render, "environment", no_render)
    a = factory.build(Recipient(1, "a@example.org", "n1"))
    b = factory.build(Recipient(2, "b@example.org", "n2"))
    assert UNSUBSCRIBE.encode() not in a and PREFERENCES.encode() not in b
    assert factory.links(Recipient(1, "a@example.org", "n1"))[0].encode() in a
    assert factory.links(Recipient(1, "a@example.org", "n1"))[0].encode() not in b


class Anchors(HTMLParser):
    """Every id and name in a page, and the headlines of full items in order."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.fragments: list[str] = []
        self.headlines: list[str] = []
        self._in_headline = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for k in ("id", "name"):
            if a.get(k):
                self.ids.add(a[k] or "")
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.fragments.append((a.get("href") or "")[1:])
        if tag == "p" and a.get("class") == "headline":
            self._in_headline = 1
            self.headlines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_headline = 0

    def handle_data(self, data: str) -> None:
        if self._in_headline:
            self.headlines[-1] += data


def test_top_stories_link_to_their_items_and_pointers_to_the_item_they_name() -> None:
    issue = composed_issue()
    r = rendered(issue)
    page = Anchors()
    page.feed(r.html)
    top = [f"s-{k}" for k in issue.top]
    assert page.fragments[:len(top)] == top  # the top-stories block comes first
    assert page.fragments and set(page.fragments) <= page.ids
    assert page.fragments.count("s-a1") == 3  # once at the top, once from each pointer section
    # the other links are still absolute
    assert all(re.match(r"^https?://", h) for h in parse(personalise(r.html, unsubscribe_url=BASE + "/u",
                                                                     preferences_url=BASE + "/p")).hrefs
               if not h.startswith("#"))
    assert "== TOP STORIES ==" in r.text and r.text.index("1. Three China-Based Groups") < r.text.index("* Three")


def test_each_cve_carries_its_own_exploited_flag() -> None:
    r = rendered(composed_issue())
    assert "CVE-2025-53770 (exploited), CVE-2025-53771 (exploited), CVE-2025-49704\n" in r.text
    assert "CVE-2025-64446 (exploited), CVE-2025-64447\n" in r.text
    html = re.sub(r"\s+", " ", r.html)
    assert re.search(r">CVE-2025-64446</a> <strong[^>]*>\(exploited\)</strong>, <a[^>]*>CVE-2025-64447</a></p>", html)


def test_other_actors_are_named_on_the_item_and_their_sections_point_to_it() -> None:
    r = rendered(composed_issue())
    assert "also: Violet Typhoon, Storm-2603" in r.text and "also: Violet Typhoon, Storm-2603" in r.html
    assert r.text.count("-> Three China-Based Groups Exploited SharePoint Flaws, Microsoft Says") == 2
    assert r.text.count("* Three China-Based Groups Exploited SharePoint Flaws") == 1
    for head in ("\nLinen Typhoon · suspected China", "\nViolet Typhoon · suspected China", "\nStorm-2603 ·"):
        assert head in r.text


def test_what_did_not_fit_is_one_line_to_the_archive_page_which_lists_it() -> None:
    issue = composed_issue(max_stories=5)
    r = rendered(issue)
    assert f"3 more stories today: {ARCHIVE}" in r.text
    assert re.search(rf'<a href="{re.escape(ARCHIVE)}"[^>]*>3 more stories today</a>', r.html)
    assert "A Regional Retailer Reported" not in r.text  # only its count
    page = render_issue(issue, base_url=BASE, archive_url=ARCHIVE, now=NOW, archive=True)
    for story in issue.more:
        assert story.headline in page.html and story.url in page.html


def long_stories(n: int) -> IssueContent:
    """``n`` stories with long headlines and summaries, spread over actors and topics."""
    from digest.issue.compose import build_issue
    from digest.models import ActorHit, StoryItem

    actors = [ActorHit(f"actor-{k}", f"Actor {k}", (), (f"Actor {k}",), "CN") for k in range(40)]
    stories = []
    for i in range(n):
        actor = actors[i % 40] if i % 3 else None
        stories.append(StoryItem(
            key=f"a{i}", headline=f"Story {i}: " + "a long headline about an intrusion " * 4, url=f"https://n.example/{i}",
            summary="A long summary sentence that goes on about what happened and why it matters. " * 8,
            source=f"Outlet {i % 17}", published=NOW - timedelta(minutes=i), also=(("Other", f"https://o.example/{i}"),),
            actors=(actor,) if actor else (), topic=("ransomware", "breach", "exploited")[i % 3],
            cves=(f"CVE-2025-{1000 + i}",), exploited_cves=(f"CVE-2025-{1000 + i}",), importance=float(n - i),
            primary=actor.id if actor else None))
    return build_issue(stories, title="Cyber Digest", date=NOW, period_start=NOW - timedelta(hours=24),
                       period_end=NOW)


def test_a_huge_day_stays_under_the_budget_by_dropping_the_least_important_stories() -> None:
    from digest.issue.compose import stories_of
    from digest.issue.render import render_within_budget

    issue = long_stories(500)
    assert len(rendered(issue).html.encode()) > 5 * GMAIL_CLIP  # the whole day would be clipped many times over
    kept, r = render_within_budget(issue, base_url=BASE, archive_url=ARCHIVE, now=NOW)
    html = personalise(r.html, unsubscribe_url=f"{BASE}/unsubscribe/" + "x" * 120,
                       preferences_url=f"{BASE}/preferences/" + "x" * 120)
    assert len(html.encode("utf-8")) < 100_000
    stories = stories_of(kept)
    assert 20 < len(stories) < 500
    assert {s.key for s in stories} == {f"a{i}" for i in range(len(stories))}  # the most important ones
    assert len(kept.more) == 500 - len(stories)
    assert f"{500 - len(stories)} more stories today" in r.text and "You get this because" in r.html
    # the text part holds the same stories in the same order
    page = Anchors()
    page.feed(r.html)
    text_heads = [line[2:] for line in r.text.splitlines() if line.startswith("* ")]
    assert [h.strip() for h in page.headlines] == [h.strip() for h in text_heads]
    assert len(text_heads) == len(stories)


def test_an_issue_within_the_budget_is_rendered_whole() -> None:
    from digest.issue.render import render_within_budget

    issue = composed_issue()
    kept, r = render_within_budget(issue, base_url=BASE, archive_url=ARCHIVE, now=NOW)
    assert kept is issue and r == rendered(issue)


def test_the_also_line_names_each_actor_as_its_section_does_and_as_the_story_did() -> None:
    from issue_fixture import LINEN, VIOLET, record

    from digest.issue.compose import compose_issue
    from digest.models import ActorHit

    apt27 = ActorHit("apt27", "APT27", LINEN.aliases, ("Linen Typhoon",), "CN")
    apt31 = ActorHit("apt31", "APT31", VIOLET.aliases, ("Violet Typhoon",), "CN")
    storm = ActorHit("storm-2603", "Storm-2603", (), ("Storm-2603",), "CN")
    rec = record(1, "SharePoint exploitation by Storm-2603", "x", source="MS", importance=5,
                 actors=(storm, apt27, apt31), primary="storm-2603",
                 text="Storm-2603, Linen Typhoon and Violet Typhoon exploited the flaws.")
    issue = compose_issue([rec], title="D", now=NOW, period_start=NOW - timedelta(days=1))
    r = rendered(issue)
    assert "also: APT27 (Linen Typhoon), APT31 (Violet Typhoon)" in r.text
    assert "\nAPT27 · suspected China\naka " in r.text and "-> SharePoint exploitation" in r.text


def test_a_story_equally_about_several_actors_gets_one_section_headed_by_all() -> None:
    from issue_fixture import JEWELBUG, LINEN, STORM, VIOLET, record

    from digest.issue.compose import compose_issue, filter_issue

    both = record(1, "Linen Typhoon and Violet Typhoon Exploit SharePoint", "x", source="MS", importance=5,
                  actors=(LINEN, VIOLET, STORM), primary="linen-typhoon",
                  text="Microsoft also saw Storm-2603 deploy ransomware.")
    alone = record(2, "Violet Typhoon Phishes Ministries", "y", source="B", importance=2, actors=(VIOLET,),
                   primary="violet-typhoon")
    other = record(3, "Jewelbug in a Russian IT Firm", "z", source="C", importance=1, actors=(JEWELBUG,),
                   primary="jewelbug")
    issue = compose_issue([both, alone, other], title="D", now=NOW, period_start=NOW - timedelta(days=1))
    assert [s.key for s in issue.sections] == ["actor-linen-typhoon+violet-typhoon", "actor-storm-2603",
                                               "actor-violet-typhoon", "actor-jewelbug"]
    combined = issue.sections[0]
    assert combined.title == "Linen Typhoon, Violet Typhoon" and [a.name for a in combined.actors] == ["Violet Typhoon"]
    assert issue.counts["actors"] == 5
    r = rendered(issue)
    head = "Linen Typhoon · suspected China · espionage\naka APT27 (Mandiant), Emissary Panda (CrowdStrike)\n" \
           "Violet Typhoon · suspected China · espionage\naka APT31 (Mandiant), Judgment Panda (CrowdStrike)\n"
    assert head in r.text
    assert "also: Storm-2603" in r.text and "also: Violet" not in r.text  # the heading already names it
    pointer = "-> Linen Typhoon and Violet Typhoon Exploit SharePoint (under Linen Typhoon, Violet Typhoon)"
    # from Storm-2603's section, and from Violet Typhoon's own section after its own story
    assert re.sub(r"\n\s+", " ", r.text).count(pointer) == 2
    assert re.sub(r"\n\s+", " ", r.text).index("* Violet Typhoon Phishes") < re.sub(r"\n\s+", " ", r.text).rindex(pointer)
    assert r.text.count("* Linen Typhoon and Violet Typhoon Exploit SharePoint") == 1
    html = re.sub(r"\s+", " ", r.html)
    assert html.count('class="actor"') == 5
    mine = filter_issue(issue, {"mode": "custom", "actors": ["violet-typhoon"]})
    assert [s.key for sec in mine.sections for s in sec.stories] == ["a1", "a2"]
    import json

    from digest.issue.serialize import issue_from_json, issue_to_json

    assert issue_from_json(json.loads(json.dumps(issue_to_json(issue)))) == issue
