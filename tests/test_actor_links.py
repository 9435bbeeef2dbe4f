"""`digest actors links` and `unlink`: learned links are inspectable and stay removed once removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_config

from digest.cli.actors import actors
from digest.config import load_config
from digest.context import AppContext
from digest.intel.actors.recognize import ActorRecognizer
from digest.store.tables import Article

STATEMENT = "The threat actor UNC9911, also known as Storm-9911, phished energy firms, Mandiant and Microsoft said."


def _article(store, guid: str, title: str) -> int:
    feed, _ = store.add_feed("https://news.example/feed.xml", "News")
    with store.session() as s:
        art = Article(feed_id=feed.id, guid=guid, url=f"https://news.example/{guid}", title=title,
                      text=STATEMENT, content_hash=guid)
        s.add(art)
        s.flush()
        return art.id


def _learn(store, rec: ActorRecognizer, guid: str) -> int:
    art_id = _article(store, guid, f"Energy phishing {guid}")
    _hits, own = rec.detect_and_learn("", STATEMENT, store.alias_links(), source_id=str(art_id))
    with store.session() as s:
        return store.save_links(s, own, art_id)


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[AppContext]:
    ctx = AppContext(load_config(write_config(tmp_path, db_url=db_url), env={}, root=tmp_path))
    try:
        yield ctx
    finally:
        ctx.close()


def test_links_are_listed_with_sentence_and_article_and_unlink_sticks(app: AppContext) -> None:
    store = app.open_store()
    rec = ActorRecognizer.default()
    assert _learn(store, rec, "a1") == 1
    run = CliRunner()
    out = run.invoke(actors, ["links"], obj=app)
    assert out.exit_code == 0, out.output
    assert "UNC9911  ~same~  Storm-9911" in out.output
    assert "https://news.example/a1" in out.output and "phished energy firms" in out.output
    assert "UNC9911" in run.invoke(actors, ["links", "Storm-9911"], obj=app).output
    assert "no learned links for APT28" in run.invoke(actors, ["links", "APT28"], obj=app).output

    out = run.invoke(actors, ["unlink", "Storm-9911", "UNC9911"], obj=app)
    assert out.exit_code == 0, out.output
    assert "removed UNC9911" in out.output
    assert all(x.relation == "refused" for x in store.alias_links())
    # the same statement in a later article: not stored again, and not applied while detecting
    assert _learn(store, rec, "a2") == 0
    hits, own = rec.detect_and_learn("", STATEMENT, store.alias_links())
    assert own == []
    assert len(hits) == 2
    assert "unlinked (refused)" in run.invoke(actors, ["links"], obj=app).output
    again = run.invoke(actors, ["unlink", "UNC9911", "Storm-9911"], obj=app)
    assert again.exit_code != 0 and len(again.output.strip().splitlines()) == 1


def test_unlink_by_an_actors_canonical_name_removes_a_link_made_to_one_of_its_aliases(app: AppContext) -> None:
    store = app.open_store()
    art = _article(store, "b1", "Phishing")
    from digest.models import AliasLink

    with store.session() as s:
        store.save_links(s, [AliasLink("Hidden Cobra", "Quokka Crew", "same", "", str(art), "a sentence")], art)
    out = CliRunner().invoke(actors, ["unlink", "Lazarus Group", "Quokka Crew"], obj=app)
    assert out.exit_code == 0, out.output
    assert [x.relation for x in store.alias_links()] == ["refused"]
