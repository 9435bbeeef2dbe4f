"""Following actors on the preferences page: one entry per canonical actor, every name searchable,
the whole knowledge base, and a page that lists only what it needs (SQLite and PostgreSQL).

The store holds what a real run leaves behind: "Earth Alux" stored from an article read before
any article said "Jewelbug, also known as Earth Alux", "Jewelbug" from later ones, and the learned
links. Issues name the group Jewelbug; so must the page, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import SmtpSink, decoded_subject
from test_web import BASE, TestClient, csrf_token

from digest.config import Config
from digest.store import Actor, ActorLink, Article, ArticleActor, Feed, Store, utcnow
from digest.tokens import TokenSigner
from digest.web import create_app
from digest.web.prefs import MOST_SEEN, SEARCH_LIMIT


@pytest.fixture
def pconfig(config: Config) -> Config:
    return config.replace(newsletter={"base_url": BASE}, security={"secret_key": "p" * 32})


@pytest.fixture
def pstore(pconfig: Config, db_url: str) -> Iterator[Store]:
    store = Store.open(pconfig.replace(database={"url": db_url}))
    try:
        seed(store)
        yield store
    finally:
        store.close()


@pytest.fixture
def client(pconfig: Config, pstore: Store) -> Iterator[TestClient]:
    with TestClient(create_app(pconfig, pstore)) as c:
        yield c


def seed(store: Store) -> None:
    """Articles about Earth Alux (before the link), Jewelbug (after) and APT28, and the links learned."""
    now = utcnow()
    with store.session() as s:
        feed = Feed(url="https://vendor.example/feed.xml", name="Vendor")
        s.add(feed)
        s.flush()
        s.add_all([Actor(id="earth-alux", name="Earth Alux", country="China",
                         aliases=[{"name": "Earth Alux", "vendor": "Trend Micro"}]),
                   Actor(id="jewelbug", name="Jewelbug", country="China",
                         aliases=[{"name": "Jewelbug", "vendor": "Symantec"}]),
                   Actor(id="apt28", name="APT28", country="Russia", aliases=[])])
        about = ["earth-alux", "earth-alux", "jewelbug", "jewelbug", "jewelbug", "apt28"]
        for n, actor_id in enumerate(about):
            art = Article(feed_id=feed.id, guid=f"g{n}", url=f"https://vendor.example/{n}", title=f"Story {n}", content_hash=f"h{n}",
                          published_at=now - timedelta(hours=n), text="")
            s.add(art)
            s.flush()
            s.add(ArticleActor(article_id=art.id, actor_id=actor_id, mentions=[]))
        s.add_all([ActorLink(name_a="Jewelbug", name_b="Earth Alux", relation="same", vendor="Trend Micro"),
                   ActorLink(name_a="Jewelbug", name_b="CL-STA-0049", relation="same",
                             vendor="Palo Alto Networks Unit 42"),
                   ActorLink(name_a="Jewelbug", name_b="REF7707", relation="same", vendor="Elastic")])


def prefs_path(config: Config, store: Store, email: str = "reader@example.org",
               prefs: dict[str, object] | None = None) -> str:
    sub, _ = store.add_subscriber(email, confirmed=True)
    if prefs is not None:
        store.set_preferences(sub.id, prefs)
    signer = TokenSigner(store.secret_key(config.security.secret_key))
    return f"/preferences/{signer.sign('preferences', sub.id, sub.token_nonce)}"


def boxes(html: str) -> list[tuple[str, bool]]:
    """(value, checked) of every actor checkbox, in page order."""
    return [(m.group(1), bool(m.group(2)))
            for m in re.finditer(r'<input type="checkbox" name="actors" value="([^"]+)"( checked)?>', html)]


def chip(html: str, actor_id: str) -> str:
    m = re.search(rf'<li><label class="choice"><input type="checkbox" name="actors" value="{actor_id}"[^\n]*</li>',
                  html)
    assert m, f"no chip for {actor_id}"
    return m.group(0)


def test_one_entry_per_actor_with_all_its_names(pconfig: Config, pstore: Store, client: TestClient) -> None:
    html = client.get(prefs_path(pconfig, pstore)).text
    assert "Most in the news" in html
    values = [v for v, _c in boxes(html)]
    assert values == ["jewelbug", "apt28"]  # 5 articles (2 as Earth Alux) before 1; no "earth-alux" entry
    jewelbug = chip(html, "jewelbug")
    for name in ("Earth Alux", "CL-STA-0049", "REF7707", "China"):
        assert name in jewelbug
    assert "multiple" not in html and "Ctrl" not in html  # no Ctrl-click multi-select
    assert re.search(r"Follow any of the 1,[0-9]{3} actors", html)  # the whole knowledge base


@pytest.mark.parametrize("query, expected", [
    ("REF7707", "jewelbug"), ("earth alux", "jewelbug"), ("cl-sta-0049", "jewelbug"), ("CLSTA0049", "jewelbug"),
    ("Fancy Bear", "apt28"), ("forest blizzard", "apt28"),
    ("Volt Typhoon", "volt-typhoon"),  # in the knowledge base, never seen in an article
    ("Midnight Blizzard", "apt29"),
])
def test_search_finds_an_actor_by_any_name(pconfig: Config, pstore: Store, client: TestClient,
                                           query: str, expected: str) -> None:
    html = client.get(prefs_path(pconfig, pstore) + "?q=" + query).text
    values = [v for v, _c in boxes(html)]
    assert values[0] == expected, values[:5]
    assert values.count(expected) == 1
    assert "earth-alux" not in values


def test_the_page_never_lists_the_whole_knowledge_base(pconfig: Config, pstore: Store, client: TestClient) -> None:
    path = prefs_path(pconfig, pstore)
    html = client.get(path + "?q=a").text  # a letter most names hold
    n = len(boxes(html))
    assert n == SEARCH_LIMIT
    more = re.search(r"([0-9]+) more not shown", html)
    assert more and int(more.group(1)) > 500
    assert len(boxes(client.get(path).text)) <= MOST_SEEN
    html = client.get(path + "?q=" + "zq" * 600).text
    assert "No actor goes by" in html and boxes(html) == []


def test_search_keeps_what_was_ticked_and_saves_nothing(pconfig: Config, pstore: Store,
                                                        client: TestClient) -> None:
    path = prefs_path(pconfig, pstore)
    token = csrf_token(client, path)
    form = {"csrf_token": token, "mode": "custom", "actors": ["jewelbug"], "frequency": "daily", "weekday": "0",
            "hour": "7", "timezone": "UTC", "q": "volt typhoon", "action": "search"}
    r = client.post(path, data=form)
    assert r.status_code == 200 and "Not saved yet" in r.text
    assert boxes(r.text)[:2] == [("jewelbug", True), ("volt-typhoon", False)]
    assert pstore.subscriber(email="reader@example.org").preferences == {}  # type: ignore[union-attr]
    form.update(actors=["jewelbug", "volt-typhoon"], action="save")
    r = client.post(path, data=form)
    assert r.status_code == 200 and "Saved" in r.text
    assert pstore.subscriber(email="reader@example.org").preferences["actors"] == [  # type: ignore[union-attr]
        "jewelbug", "volt-typhoon"]
    assert boxes(client.get(path).text)[:2] == [("jewelbug", True), ("volt-typhoon", True)]


def test_an_id_stored_before_the_link_is_shown_and_saved_as_the_canonical_actor(
        pconfig: Config, pstore: Store, client: TestClient) -> None:
    prefs = {"mode": "custom", "actors": ["earth-alux", "apt28"], "countries": [], "topics": [],
             "frequency": "daily", "weekday": 0, "hour": 7, "timezone": "UTC"}
    path = prefs_path(pconfig, pstore, prefs=prefs)
    html = client.get(path).text
    assert boxes(html)[:2] == [("jewelbug", True), ("apt28", True)]
    r = client.post(path, data={"csrf_token": csrf_token(client, path), "mode": "custom",
                                "actors": ["earth-alux", "apt28"], "frequency": "daily", "weekday": "0",
                                "hour": "7", "timezone": "UTC"})
    assert r.status_code == 200 and "Saved" in r.text
    assert pstore.subscriber(email="reader@example.org").preferences["actors"] == [  # type: ignore[union-attr]
        "jewelbug", "apt28"]


JEWELBUG_TEXT = ("Jewelbug, the China-linked espionage group also known as Earth Alux, spent five months inside a "
                 "Russian IT service provider, reaching its code repositories and build systems, Symantec said on "
                 "Tuesday. The attackers used a renamed copy of a remote access tool and stole credentials from "
                 "the provider's administrators before moving to its software build servers.")


def test_a_reader_who_chose_earth_alux_before_the_link_still_gets_jewelbug_stories(
        smtp_config: Config, smtp_server: SmtpSink) -> None:
    """Issues name the group Jewelbug once the link is learned; a choice made under the old id still counts."""
    from datetime import UTC, datetime

    from digest.mail.send import send_issue

    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    store = Store.open(smtp_config)
    try:
        feed, _ = store.add_feed("https://news.example/feed", "News Wire")
        with store.session() as s:
            s.add(Article(feed_id=feed.id, guid="j", url="https://news.example/j", content_hash="hj",
                          title="Chinese Threat Group Jewelbug Breached Russian IT Firm for Five Months",
                          text=JEWELBUG_TEXT, summary=JEWELBUG_TEXT.split(". ")[0] + ".",
                          published_at=now - timedelta(hours=2), fetched_at=now - timedelta(hours=1)))
            s.add(ActorLink(name_a="Jewelbug", name_b="Earth Alux", relation="same", vendor="Trend Micro"))
        prefs = {"mode": "custom", "countries": [], "topics": [], "frequency": "daily", "weekday": 0}
        for email, actors in (("old-choice@example.org", ["earth-alux"]), ("other@example.org", ["apt28"])):
            sub, _ = store.add_subscriber(email, confirmed=True)
            store.set_preferences(sub.id, {**prefs, "actors": actors})
        outcome = send_issue(store, smtp_config, now=now, processes=1)
        assert outcome.report is not None and outcome.report.sent == 1
        mails = smtp_server.to("old-choice@example.org")
        assert len(mails) == 1 and "Jewelbug" in decoded_subject(mails[0])
        assert smtp_server.to("other@example.org") == []
    finally:
        store.close()
