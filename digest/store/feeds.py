"""The Store's feed queries: adding, syncing with the feeds file, listing with health figures.

A mixin of :class:`digest.store.db.Store` (it uses ``self.session()``), kept apart so that the
store stays readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.ingest.limits import MAX_NAME_CHARS, cut_at_word
from digest.ingest.urls import feed_key
from digest.store.tables import Article, Feed, utcnow


@dataclass(frozen=True)
class FeedRow:
    """A feed with its health figures, for `feeds list` and `status`."""

    id: int
    url: str
    name: str
    kind: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    article_count: int
    recent_count: int
    last_latency_ms: int | None
    active: bool = True
    origin: str = ""
    category: str = ""
    last_polled_at: datetime | None = None


@dataclass(frozen=True)
class FeedSync:
    """What one sync with the feeds file changed."""

    added: int = 0
    removed: int = 0  # origin "file" feeds the file no longer lists: no longer polled
    returned: int = 0  # listed again after being removed


class FeedQueries:
    """Feed queries of the Store."""

    def session(self) -> AbstractContextManager[Session]:  # provided by Store
        raise NotImplementedError

    def add_feed(self, url: str, name: str = "", kind: str = "news", *, category: str = "",
                 origin: str = "command") -> tuple[Feed, bool]:
        """Add a feed; return it and whether it was new (an existing feed keeps its state).

        A URL with the key of a stored feed (http/https, a trailing slash) is that feed: the
        stored one is returned. A removed feed added again is polled again, now as a feed of
        this ``origin``.
        """
        name = cut_at_word(name, MAX_NAME_CHARS)  # an imported list is untrusted too
        with self.session() as s:
            feed = s.scalar(select(Feed).where(Feed.url == url))
            if feed is None:
                key = feed_key(url)
                feed = next((f for f in s.scalars(select(Feed)) if feed_key(f.url) == key), None)
            if feed is not None:
                if name and not feed.name:
                    feed.name = name
                if category and not feed.category:
                    feed.category = category[:300]
                if not feed.active:  # added again after `feeds remove`, or after leaving the file
                    feed.active = True
                    feed.origin = origin
                    return feed, True
                return feed, False
            feed = Feed(url=url, name=name, kind=kind, category=category[:300], origin=origin,
                        consecutive_failures=0, error_count=0, active=True)
            s.add(feed)
            s.flush()
            return feed, True

    def find_feed(self, url: str) -> Feed | None:
        """The stored feed with this URL or its identity (http/https, a trailing slash), if any."""
        key = feed_key(url)
        with self.session() as s:
            exact = s.scalar(select(Feed).where(Feed.url == url))
            return exact or next((f for f in s.scalars(select(Feed).order_by(Feed.id)) if feed_key(f.url) == key), None)

    def add_feeds(self, specs: Iterable[Any], origin: str = "command") -> list[tuple[Any, str, str]]:
        """Add many feeds in one transaction: (spec, "added" | "present" | "returned", stored URL) each."""
        out: list[tuple[Any, str, str]] = []
        with self.session() as s:
            by_key = {feed_key(f.url): f for f in s.scalars(select(Feed).order_by(Feed.id))}
            for spec in specs:
                feed = by_key.get(feed_key(spec.url))
                category = str(getattr(spec, "category", "") or "")[:300]
                if feed is None:
                    feed = Feed(url=spec.url, name=cut_at_word(spec.name, MAX_NAME_CHARS), kind=spec.kind,
                                category=category, origin=origin, consecutive_failures=0, error_count=0,
                                active=True)
                    s.add(feed)
                    by_key[feed_key(spec.url)] = feed
                    out.append((spec, "added", spec.url))
                    continue
                if category and not feed.category:
                    feed.category = category
                if feed.active:
                    out.append((spec, "present", feed.url))
                else:
                    feed.active, feed.origin = True, origin
                    out.append((spec, "returned", feed.url))
        return out

    def sync_feeds(self, specs: Iterable[Any]) -> FeedSync:
        """Make the database follow the feeds file: it is the source of truth for what it lists.

        Every listed feed exists, is polled and takes the file's name, kind, category and rules
        (origin "file"). A feed of origin "file" that the file no longer lists stops being polled
        (its articles are kept). Feeds added by command are left alone; rows from before origins
        were kept ("") become "file" when listed and "command" when not.
        """
        added = removed = returned = 0
        with self.session() as s:
            feeds = list(s.scalars(select(Feed).order_by(Feed.id)))
            existing = {f.url: f for f in feeds}
            by_key = {feed_key(f.url): f for f in feeds}
            listed: set[int] = set()
            for spec in specs:
                feed = existing.get(spec.url) or by_key.get(feed_key(spec.url))
                name = cut_at_word(spec.name, MAX_NAME_CHARS)
                category = str(getattr(spec, "category", "") or "")[:300]
                rules = spec.rules() if hasattr(spec, "rules") else None
                if feed is None:
                    feed = Feed(url=spec.url, name=name, kind=spec.kind, category=category, rules=rules,
                                origin="file", consecutive_failures=0, error_count=0, active=True)
                    s.add(feed)
                    existing[spec.url] = by_key[feed_key(spec.url)] = feed
                    added += 1
                    continue
                if feed.id is not None:
                    listed.add(feed.id)
                if not feed.active:
                    feed.active = True
                    returned += 1
                feed.origin = "file"
                feed.name = name or feed.name
                feed.kind = spec.kind or feed.kind
                feed.category = category or feed.category
                feed.rules = rules
            for feed in feeds:
                if feed.id in listed:
                    continue
                if feed.origin == "file" and feed.active:
                    feed.active = False
                    removed += 1
                elif feed.origin == "":
                    feed.origin = "command"
        return FeedSync(added, removed, returned)

    def feeds(self, *, active_only: bool = True) -> list[Feed]:
        with self.session() as s:
            q = select(Feed).order_by(Feed.id)
            if active_only:
                q = q.where(Feed.active.is_(True))
            return list(s.scalars(q))

    def due_feeds(self, now: datetime, interval: timedelta) -> list[Feed]:
        """Feeds never polled, or last polled at least ``interval`` ago."""
        return [f for f in self.feeds() if f.last_polled_at is None or f.last_polled_at + interval <= now]

    def feed_rows(self, now: datetime | None = None) -> list[FeedRow]:
        now = now or utcnow()
        week = now - timedelta(days=7)
        with self.session() as s:
            counts = dict(s.execute(select(Article.feed_id, func.count()).group_by(Article.feed_id)).all())
            recent = dict(s.execute(select(Article.feed_id, func.count()).where(Article.fetched_at >= week)
                                    .group_by(Article.feed_id)).all())
            return [FeedRow(f.id, f.url, f.name, f.kind, f.last_success_at, f.last_error, f.last_error_at,
                            f.consecutive_failures, counts.get(f.id, 0), recent.get(f.id, 0), f.last_latency_ms,
                            f.active, f.origin or "command", f.category, f.last_polled_at)
                    for f in s.scalars(select(Feed).order_by(Feed.id))]

    # ---- articles ---------------------------------------------------------------------------
