"""The Store: engine, migrations on first use, and the queries the pipeline needs."""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, event, func, make_url, or_, select, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Config
from digest.errors import StoreError
from digest.models import ActorHit, AliasLink
from digest.private import private_db_file
from digest.store.feeds import FeedQueries, FeedRow, FeedSync  # noqa: F401 (re-exported)
from digest.store.tables import (
    Actor,
    ActorLink,
    Article,
    ArticleActor,
    Delivery,
    Feed,
    Issue,
    Meta,
    Subscriber,
    new_nonce,
    utcnow,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for in-memory databases and ``file:`` URIs."""
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str) -> Engine:
    """Create an engine with the settings this project relies on (WAL and foreign keys on SQLite).

    A SQLite database file (and its WAL and SHM) is made owner-only before SQLite opens it: it
    holds every subscriber's address and the token-signing key.
    """
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path is not None and path.parent.is_dir():
            private_db_file(path)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    return engine


_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:"([^"]*)"|'([^']*)'|None)""", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration's revision id, read from the migration files without importing alembic.

    None when the files do not form one plain line of revisions (then alembic decides).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {m.group(1): m.group(2) or m.group(3) for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if not found.get("revision"):
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 and parents <= revisions else None


def _at_head(conn: Any) -> bool:
    """Whether the database is already at the newest revision (one cheap query)."""
    head = head_revision()
    if head is None:
        return False
    try:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False
    return [r[0] for r in rows] == [head]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; serialised on PostgreSQL).

    A database already at the newest revision costs one query: alembic (whose import and script
    scan are a noticeable share of a short command's start-up) runs only when there is work.
    """
    with engine.connect() as conn:
        if _at_head(conn):
            return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7242001)"))
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store(FeedQueries):
    """Open database plus the queries the pipeline, CLI, web app and mailer share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, config: Config | str) -> Store:
        url = config if isinstance(config, str) else config.database_url
        try:
            engine = make_engine(url)
            migrate(engine)
        except (OperationalError, SQLAlchemyError) as exc:
            reason = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).strip().splitlines()[0]
            raise StoreError(f"database {url.split('@')[-1]}: {reason}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    # ---- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(Meta, key)
            return row.value if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.session() as s:
            s.merge(Meta(key=key, value=value))

    def secret_key(self, configured: str = "") -> bytes:
        """The token-signing key: the configured one, else one generated once and kept here."""
        if configured:
            return configured.encode()
        value = self.get_meta("secret_key")
        if value is None:
            try:
                self.set_meta("secret_key", secrets.token_hex(32))
            except SQLAlchemyError:
                pass  # another process generated it first
            value = self.get_meta("secret_key")
        assert value is not None
        return value.encode()

    # ---- feeds ------------------------------------------------------------------------------
    def known_keys(self, feed_id: int, guids: Sequence[str], links: Sequence[str],
                   hashes: Sequence[str]) -> tuple[set[str], set[str], set[str]]:
        """Which of these guids (in this feed), links and content hashes are already stored."""
        with self.session() as s:
            g = set(s.scalars(select(Article.guid).where(Article.feed_id == feed_id, Article.guid.in_(guids)))) \
                if guids else set()
            lk = set(s.scalars(select(Article.url).where(Article.url.in_(links)))) if links else set()
            h = set(s.scalars(select(Article.content_hash).where(Article.content_hash.in_(hashes)))) \
                if hashes else set()
            return g, lk, h

    def known_links(self, feed_id: int, links: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these (non-empty) links are stored: (by another feed, by this feed)."""
        links = [lk for lk in links if lk]
        elsewhere: set[str] = set()
        here: set[str] = set()
        if links:
            with self.session() as s:
                for url, fid in s.execute(select(Article.url, Article.feed_id).where(Article.url.in_(links))):
                    (here if fid == feed_id else elsewhere).add(url)
        return elsewhere, here

    def articles_between(self, start: datetime, end: datetime) -> list[tuple[Article, Feed, list[ArticleActor]]]:
        """Articles fetched in [start, end), with their feed and actor mentions."""
        with self.session() as s:
            rows = s.execute(select(Article, Feed).join(Feed, Feed.id == Article.feed_id)
                             .where(Article.fetched_at >= start, Article.fetched_at < end)
                             .order_by(Article.id)).all()
            ids = [a.id for a, _ in rows]
            mentions: dict[int, list[ArticleActor]] = {}
            for chunk in _chunks(ids, 500):
                for m in s.scalars(select(ArticleActor).where(ArticleActor.article_id.in_(chunk))):
                    mentions.setdefault(m.article_id, []).append(m)
            return [(a, f, mentions.get(a.id, [])) for a, f in rows]

    def articles_for_actor(self, actor_id: str, limit: int = 20) -> list[Article]:
        with self.session() as s:
            return list(s.scalars(select(Article).join(ArticleActor, ArticleActor.article_id == Article.id)
                                  .where(ArticleActor.actor_id == actor_id)
                                  .order_by(func.coalesce(Article.published_at, Article.fetched_at).desc())
                                  .limit(limit)))

    def actors_by_id(self, ids: Iterable[str]) -> dict[str, Actor]:
        ids = list(set(ids))
        with self.session() as s:
            return {a.id: a for a in s.scalars(select(Actor).where(Actor.id.in_(ids)))} if ids else {}

    def upsert_actors(self, session: Session, hits: Iterable[ActorHit]) -> None:
        hits = list(hits)
        existing = {a.id: a for a in session.scalars(select(Actor).where(Actor.id.in_([h.id for h in hits])))}
        for hit in hits:
            actor = existing.get(hit.id)
            aliases = [{"name": a.name, "vendor": a.vendor} for a in hit.aliases]
            if actor is None:
                actor = Actor(id=hit.id, name=hit.name, country=hit.country, description=hit.description,
                              aliases=aliases)
                session.add(actor)
                existing[hit.id] = actor
            else:
                actor.name, actor.country, actor.aliases = hit.name, hit.country, aliases
                actor.description = hit.description or actor.description
                actor.updated_at = utcnow()
        session.flush()

    # ---- learned alias links ----------------------------------------------------------------
    # A link the operator removed (`digest actors unlink`) leaves a row with relation "refused" for
    # each pair of names it joined: the same statement in a later article is not learned again,
    # and the recognizer is handed the refusals with the links so that it does not apply it either.
    REFUSED = "refused"

    def alias_links(self) -> list[AliasLink]:
        """Every learned link in the order learned, and the refusals (relation "refused")."""
        with self.session() as s:
            return [AliasLink(r.name_a, r.name_b, r.relation, r.vendor, str(r.article_id or ""), r.sentence)
                    for r in s.scalars(select(ActorLink).order_by(ActorLink.id))]

    @staticmethod
    def _pair(a: str, b: str) -> frozenset[str]:
        return frozenset((a.strip().casefold(), b.strip().casefold()))

    def refused_pairs(self, session: Session) -> set[frozenset[str]]:
        """The name pairs of the links the operator removed (see ``save_links``)."""
        return {self._pair(a, b) for a, b in session.execute(
            select(ActorLink.name_a, ActorLink.name_b).where(ActorLink.relation == self.REFUSED))}

    def save_links(self, session: Session, links: Iterable[AliasLink], article_id: int | None,
                   refused: set[frozenset[str]] | None = None) -> int:
        """Store the new ones of ``links``; ``refused``: ``refused_pairs`` when the caller has read it."""
        added = 0
        for link in links:
            if link.relation == self.REFUSED:
                continue
            if refused is None:
                refused = self.refused_pairs(session)
            if self._pair(link.name_a, link.name_b) in refused:
                continue  # the operator removed this link: it stays removed
            exists = session.scalar(select(ActorLink.id).where(
                ActorLink.name_a == link.name_a, ActorLink.name_b == link.name_b,
                ActorLink.relation == link.relation))
            if exists is None:
                session.add(ActorLink(name_a=link.name_a, name_b=link.name_b, relation=link.relation,
                                      vendor=link.vendor, article_id=article_id, sentence=link.sentence[:2000]))
                session.flush()
                added += 1
        return added

    def link_rows(self) -> list[tuple[ActorLink, Article | None]]:
        """Every stored link and refusal with the article that stated it (for `actors links`)."""
        with self.session() as s:
            rows = s.execute(select(ActorLink, Article).outerjoin(Article, Article.id == ActorLink.article_id)
                             .order_by(ActorLink.id)).all()
            for link, art in rows:
                s.expunge(link)
                if art is not None:
                    s.expunge(art)
            return [(link, art) for link, art in rows]

    def unlink(self, pairs: Iterable[tuple[str, str]]) -> list[AliasLink]:
        """Remove the links between each pair of names (either order) and refuse them from now on.

        Returns the links removed; a refusal row is kept for each pair of names removed.
        """
        removed: list[AliasLink] = []
        wanted = {self._pair(a, b) for a, b in pairs}
        with self.session() as s:
            refused = self.refused_pairs(s)
            for row in s.scalars(select(ActorLink).where(ActorLink.relation != self.REFUSED)).all():
                pair = self._pair(row.name_a, row.name_b)
                if pair not in wanted:
                    continue
                removed.append(AliasLink(row.name_a, row.name_b, row.relation, row.vendor,
                                         str(row.article_id or ""), row.sentence))
                s.delete(row)
                if pair not in refused:
                    refused.add(pair)
                    s.add(ActorLink(name_a=row.name_a, name_b=row.name_b, relation=self.REFUSED,
                                    vendor="", article_id=row.article_id, sentence=row.sentence))
                s.flush()
        return removed

    # ---- subscribers ------------------------------------------------------------------------
    def subscriber(self, *, email: str | None = None, id: int | None = None) -> Subscriber | None:
        with self.session() as s:
            if id is not None:
                return s.get(Subscriber, id)
            return s.scalar(select(Subscriber).where(Subscriber.email == email))

    def add_subscriber(self, email: str, *, confirmed: bool = False) -> tuple[Subscriber, bool]:
        """Add (or re-activate) an address. Returns the row and whether it changed state."""
        now = utcnow()
        with self.session() as s:
            sub = s.scalar(select(Subscriber).where(Subscriber.email == email))
            if sub is None:
                sub = Subscriber(email=email, status="confirmed" if confirmed else "pending",
                                 confirmed_at=now if confirmed else None, hard_bounces=0,
                                 token_nonce=secrets.token_hex(8), confirm_nonce=new_nonce(), preferences={})
                s.add(sub)
                s.flush()
                return sub, True
            if confirmed and sub.status != "confirmed":
                sub.status, sub.confirmed_at, sub.unsubscribed_at = "confirmed", now, None
                sub.confirm_nonce = new_nonce()
                return sub, True
            if not confirmed and sub.status == "unsubscribed":
                # a new sign-up: confirm links mailed before the unsubscribe must not confirm this one,
                # so it gets a mail of its own (the one-a-day limit counts from here)
                sub.status, sub.unsubscribed_at, sub.confirm_nonce = "pending", None, new_nonce()
                sub.confirm_sent_at = None
                return sub, True
            return sub, False

    def set_subscriber_status(self, subscriber_id: int, status: str) -> Subscriber | None:
        now = utcnow()
        with self.session() as s:
            sub = s.get(Subscriber, subscriber_id, with_for_update=self.dialect == "postgresql")
            if sub is None:
                return None
            if sub.status != status:
                sub.status = status
                if status == "confirmed":
                    sub.confirmed_at = now
                elif status == "unsubscribed":
                    sub.unsubscribed_at, sub.confirm_nonce = now, new_nonce()
            return sub

    def mark_confirm_sent(self, subscriber_id: int, when: datetime | None = None) -> None:
        with self.session() as s:
            sub = s.get(Subscriber, subscriber_id)
            if sub is not None:
                sub.confirm_sent_at = when or utcnow()

    def set_preferences(self, subscriber_id: int, prefs: dict[str, object]) -> None:
        with self.session() as s:
            sub = s.get(Subscriber, subscriber_id)
            if sub is not None:
                sub.preferences = dict(prefs)

    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        with self.session() as s:
            q = select(Subscriber).order_by(Subscriber.id)
            if status:
                q = q.where(Subscriber.status == status)
            return list(s.scalars(q))

    def confirmed_preferences(self, batch: int = 2000) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(id, preferences) of every confirmed subscriber, streamed (two columns, no ORM objects)."""
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch).execute(
                select(Subscriber.id, Subscriber.preferences).where(Subscriber.status == "confirmed")
                .order_by(Subscriber.id))
            yield from ((sid, prefs) for sid, prefs in result)

    def first_confirmed(self) -> Subscriber | None:
        with self.session() as s:
            return s.scalar(select(Subscriber).where(Subscriber.status == "confirmed").order_by(Subscriber.id)
                            .limit(1))

    def subscriber_counts(self) -> dict[str, int]:
        with self.session() as s:
            return dict(s.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all())

    # ---- issues -----------------------------------------------------------------------------
    def last_sent_issue(self) -> Issue | None:
        with self.session() as s:
            return s.scalar(select(Issue).where(Issue.status == "sent").order_by(Issue.id.desc()).limit(1))

    def issue(self, issue_id: int) -> Issue | None:
        with self.session() as s:
            return s.get(Issue, issue_id)

    def open_issue(self) -> Issue | None:
        """The newest issue whose sending started but did not finish: 'sending' (a run is at it, or
        crashed) or 'partial' (the last run ended with readers waiting); the next run resumes it."""
        with self.session() as s:
            return s.scalar(select(Issue).where(Issue.status.in_(("sending", "partial")))
                            .order_by(Issue.id.desc()).limit(1))

    def sent_issues(self, limit: int = 100) -> list[Issue]:
        """The issues readers have, newest first: sent, and those still being sent or partly sent
        once anyone received them (their mails link to the archive)."""
        with self.session() as s:
            return list(s.scalars(select(Issue).where(self._published()).order_by(Issue.id.desc()).limit(limit)))

    def published_issue(self, issue_id: int) -> Issue | None:
        """Issue ``issue_id`` if it is one of :meth:`sent_issues` (else None: not public yet)."""
        with self.session() as s:
            return s.scalar(select(Issue).where(Issue.id == issue_id, self._published()))

    @staticmethod
    def _published() -> Any:
        received = select(Delivery.id).where(Delivery.issue_id == Issue.id, Delivery.status == "sent").exists()
        return or_(Issue.status == "sent", and_(Issue.status.in_(("sending", "partial")), received))

    def sent_story_keys(self, since: datetime) -> dict[int, tuple[int, datetime]]:
        """article id -> (issue id, sent time) for articles included in issues sent since ``since``."""
        out: dict[int, tuple[int, datetime]] = {}
        with self.session() as s:
            for issue in s.scalars(select(Issue).where(Issue.status == "sent", Issue.sent_at >= since)
                                   .order_by(Issue.id)):
                for aid in issue.article_ids or []:
                    out.setdefault(int(aid), (issue.id, issue.sent_at or issue.created_at))
        return out

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            return {
                "feeds": s.scalar(select(func.count()).select_from(Feed)) or 0,
                "articles": s.scalar(select(func.count()).select_from(Article)) or 0,
                "issues": s.scalar(select(func.count()).select_from(Issue)) or 0,
            }

    def feed_failing(self, threshold: int) -> list[Feed]:
        with self.session() as s:
            return list(s.scalars(select(Feed).where(or_(Feed.consecutive_failures >= threshold))))


def _chunks(seq: Sequence[int], n: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]
