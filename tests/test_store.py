"""The store on real SQLite and (when configured) real PostgreSQL: migrations, feeds, subscribers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect

from digest.models import ActorHit, Alias, AliasLink
from digest.store import Article, ArticleActor, Base, Store, utcnow


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    for name, table in Base.metadata.tables.items():
        cols = {c["name"] for c in inspect(store.engine).get_columns(name)}
        assert cols == {c.name for c in table.columns}, name


def test_open_twice_is_idempotent(db_url: str) -> None:
    Store.open(db_url).close()
    s = Store.open(db_url)
    assert s.counts()["feeds"] == 0
    s.close()


def test_feeds_add_sync_and_due(store: Store) -> None:
    feed, created = store.add_feed("https://example.org/feed.xml", "Example", "vendor")
    assert created
    assert store.add_feed("https://example.org/feed.xml")[1] is False

    class Spec:
        def __init__(self, url: str, name: str, kind: str) -> None:
            self.url, self.name, self.kind = url, name, kind

    assert store.sync_feeds([Spec("https://example.org/feed.xml", "Renamed", "news"),
                             Spec("https://b.example/rss", "B", "government")]).added == 1
    rows = {r.url: r for r in store.feed_rows()}
    assert rows["https://example.org/feed.xml"].name == "Renamed"
    assert rows["https://b.example/rss"].kind == "government"
    now = utcnow()
    assert len(store.due_feeds(now, timedelta(minutes=30))) == 2  # never polled: due
    with store.session() as s:
        row = s.get(type(feed), feed.id)
        row.last_polled_at = now
    assert [f.url for f in store.due_feeds(now, timedelta(minutes=30))] == ["https://b.example/rss"]


def test_articles_actors_and_links_round_trip(store: Store) -> None:
    feed, _ = store.add_feed("https://example.org/feed.xml", "Example")
    hit = ActorHit(id="jewelbug", name="Jewelbug", aliases=(Alias("Earth Alux", "Trend Micro"),), country="China")
    with store.session() as s:
        art = Article(feed_id=feed.id, guid="g1", url="https://example.org/a", title="T", text="x",
                      content_hash="h1", cves=["CVE-2025-1234"])
        s.add(art)
        s.flush()
        store.upsert_actors(s, [hit])
        s.add(ArticleActor(article_id=art.id, actor_id="jewelbug", mentions=["Earth Alux"]))
        assert store.save_links(s, [AliasLink("Jewelbug", "Earth Alux", "same", "Trend Micro", "x", "sentence")],
                                art.id) == 1
        assert store.save_links(s, [AliasLink("Jewelbug", "Earth Alux", "same")], art.id) == 0
    assert [a.title for a in store.articles_for_actor("jewelbug")] == ["T"]
    assert store.actors_by_id(["jewelbug"])["jewelbug"].aliases == [{"name": "Earth Alux", "vendor": "Trend Micro"}]
    assert store.alias_links()[0].sentence == "sentence"
    g, links, hashes = store.known_keys(feed.id, ["g1", "g2"], ["https://example.org/a"], ["h1", "h9"])
    assert (g, links, hashes) == ({"g1"}, {"https://example.org/a"}, {"h1"})
    rows = store.articles_between(utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1))
    assert rows[0][0].cves == ["CVE-2025-1234"] and rows[0][0].fetched_at.tzinfo is not None
    assert [m.actor_id for m in rows[0][2]] == ["jewelbug"]


def test_subscribers_lifecycle(store: Store) -> None:
    sub, changed = store.add_subscriber("a@example.org")
    assert changed and sub.status == "pending" and sub.token_nonce
    assert store.add_subscriber("a@example.org")[1] is False
    store.set_subscriber_status(sub.id, "confirmed")
    assert store.subscriber(email="a@example.org").status == "confirmed"
    store.set_subscriber_status(sub.id, "unsubscribed")
    again, changed = store.add_subscriber("a@example.org")
    assert changed and again.status == "pending"
    assert store.subscriber_counts() == {"pending": 1}


def test_secret_key_is_generated_once_and_kept(store: Store) -> None:
    k1 = store.secret_key()
    assert len(k1) >= 32 and store.secret_key() == k1
    assert store.secret_key("configured-key-configured-key!!") == b"configured-key-configured-key!!"


def test_sync_follows_the_feeds_file_and_leaves_command_feeds(store: Store) -> None:
    from digest.ingest.feedlist import FeedSpec

    store.add_feed("https://cmd.example/rss")  # by command
    first = store.sync_feeds([FeedSpec("https://a.example/rss", "A"), FeedSpec("https://b.example/rss", "B",
                                                                                 drop=("webinar",))])
    assert (first.added, first.removed) == (2, 0)
    second = store.sync_feeds([FeedSpec("http://a.example/rss/", "A")])  # b left the file; a in another form
    assert (second.added, second.removed) == (0, 1)
    rows = {r.url: r for r in store.feed_rows()}
    assert set(rows) == {"https://cmd.example/rss", "https://a.example/rss", "https://b.example/rss"}
    assert (rows["https://b.example/rss"].active, rows["https://b.example/rss"].origin) == (False, "file")
    assert (rows["https://cmd.example/rss"].active, rows["https://cmd.example/rss"].origin) == (True, "command")
    assert [f.url for f in store.feeds()] == ["https://cmd.example/rss", "https://a.example/rss"]


def test_0005_keeps_existing_feeds_polled_with_an_origin_to_be_decided(tmp_path: Path) -> None:
    """A database from before 0005: its feeds stay active, with origin "" until the next sync places them."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    from digest.store.db import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003_confirm_nonce")
        conn.execute(text("INSERT INTO feeds (url, name, kind, active, consecutive_failures, error_count, created_at)"
                          " VALUES ('https://old.example/rss', 'Old', 'news', 1, 0, 0, '2026-01-01 00:00:00')"))
    engine.dispose()
    store = Store.open(f"sqlite:///{tmp_path / 'old.db'}")
    [row] = store.feed_rows()
    assert (row.url, row.active, row.category) == ("https://old.example/rss", True, "")
    with store.session() as s:
        assert s.execute(text("SELECT origin, rules FROM feeds")).one() == ("", None)
    store.close()
