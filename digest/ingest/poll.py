"""`digest poll`: fetch due feeds, find new entries, fetch and extract their pages, analyse, store.

Fetching is async (the fetcher's own HTTP/1.1) with per-host limits; extraction and analysis
(actors, topic; the summary when ``summarizer.when = "poll"``) are CPU-bound and run in worker
processes (:mod:`digest.ingest.workers`) whose results the event loop reads. Each feed's failure is
recorded on the feed and the run goes on.

Poll state never runs ahead of the data. A feed's validators (ETag, Last-Modified) and poll
times are what make the next poll skip it (304, or not yet due), so for a feed with new entries
they are written in the same transaction as the last of its new articles; until then the stored
state is the previous one. A poll killed half-way therefore leaves each feed either complete or
still "changed": the next poll fetches it again, the guid check skips what was stored, and the
missing articles are fetched and stored then. Feeds with nothing new (304, or only known
entries) and failures are recorded at once: there is no article they could lose.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from digest.config import Config
from digest.errors import DigestError, ExtractError, FeedError
from digest.ingest.extract import Extracted, extract_article
from digest.ingest.feeds import content_hash, parse_feed
from digest.ingest.fetch import Fetcher
from digest.ingest.limits import (
    MAX_CVES,
    MAX_NAME_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    cut_at_word,
)
from digest.ingest.rules import FeedRules
from digest.ingest.workers import WorkerPool
from digest.intel.analysis import Analysis, Analyzer
from digest.models import FeedEntry
from digest.store import Article, ArticleActor, Feed, Store, utcnow

log = logging.getLogger("digest.poll")

Progress = Callable[[str, int, int], None]  # (stage, done, total)
STORE_BATCH = 200


@dataclass
class PollReport:
    """What one poll did; ``summary()`` is the one-line report the CLI prints."""

    feeds: int = 0
    #: feeds a due-only poll left alone: not due yet (polled less than an interval ago), and failing
    #: feeds waiting out their backoff; with the earliest time one of each comes due
    not_due: int = 0
    not_due_until: datetime | None = None
    backoff: int = 0
    backoff_until: datetime | None = None
    not_modified: int = 0
    failed: int = 0
    new_articles: int = 0
    fallbacks: int = 0
    dropped: int = 0  # entries the feeds file's drop rules left out
    errors: list[tuple[str, str]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def summary(self) -> str:
        line = (f"polled {self.feeds} feeds: {self.feeds - self.not_modified - self.failed} updated, "
                f"{self.not_modified} not modified, {self.failed} failed; {self.new_articles} new articles"
                + (f" ({self.fallbacks} from feed text)" if self.fallbacks else "")
                + (f"; {self.dropped} entries dropped by feed rules" if self.dropped else ""))
        if not self.feeds:
            line = "polled 0 feeds"
        skipped = []
        if self.backoff:
            skipped.append(f"{self.backoff} in backoff until {_hhmm(self.backoff_until)} (failing)")
        if self.not_due:
            skipped.append(f"{self.not_due} not due until {_hhmm(self.not_due_until)}")
        return line + (", " + ", ".join(skipped) if skipped else "")


def _hhmm(when: datetime | None) -> str:
    return when.strftime("%H:%M UTC") if when else "?"


#: a failing feed waits interval x 2^(failures-1) before the next due-only poll, at most this long
MAX_BACKOFF = timedelta(hours=12)


def next_due(feed: Feed, interval: timedelta) -> tuple[datetime | None, bool]:
    """When a due-only poll takes ``feed`` next (None: now, never polled) and whether that is a backoff.

    A feed failing again and again (a dead site among hundreds) is polled less and less often:
    after 1 failure at the interval, after 2 at twice it, then 4x ... up to ``MAX_BACKOFF``.
    """
    if feed.last_polled_at is None:
        return None, False
    failures = feed.consecutive_failures or 0
    wait = interval
    if failures > 1:
        wait = max(interval, min(interval * 2 ** min(failures - 1, 16), MAX_BACKOFF))
    return feed.last_polled_at + wait, wait > interval


#: (feed, etag, last_modified, latency ms, had new entries, feed name from the feed document)
_Outcome = tuple[Feed, str | None, str | None, int, bool, str | None]


@dataclass
class _Pending:
    """Feeds whose state waits for their new articles: written with the last of them."""

    outcomes: dict[int, _Outcome] = field(default_factory=dict)
    left: Counter[int] = field(default_factory=Counter)  # feed id -> new articles not stored yet

    def add(self, outcome: _Outcome, fresh: int) -> None:
        self.outcomes[outcome[0].id] = outcome
        self.left[outcome[0].id] += fresh

    def stored(self, feed_ids: Sequence[int]) -> list[_Outcome]:
        """Count these articles as stored; the outcomes of the feeds that are now complete."""
        done: list[_Outcome] = []
        for fid in feed_ids:
            self.left[fid] -= 1
            if self.left[fid] == 0 and fid in self.outcomes:
                done.append(self.outcomes.pop(fid))
        return done


@dataclass
class _NewEntry:
    feed: Feed
    entry: FeedEntry
    hash: str
    shared_link: bool = False  # the feed gives this link to other entries too: it is not this entry's page
    text: str = ""
    note: str = ""
    analysis: Analysis | None = None
    published: datetime | None = None  # from the page, when the feed gave no date


@dataclass(frozen=True)
class _Job:
    """What a pool worker needs for one article: the page (or None) and the feed's own text."""

    html: bytes | None
    url: str
    title: str
    fallback: str
    fallback_note: str
    need_date: bool = False
    analyse: bool = True


@dataclass(frozen=True)
class _Done:
    text: str
    note: str
    analysis: Analysis | None
    published: datetime | None
    extract_seconds: float
    analyse_seconds: dict[str, float] = field(default_factory=dict)  # per step: actors, topic, summarize


_ANALYZER: Analyzer | None = None


def _init_worker(config: Config, links: list[Any]) -> None:
    """Pool initializer: build the analyzer (actor automaton, summarizer) once per process."""
    global _ANALYZER
    _ANALYZER = Analyzer(config, links)


def process_article(job: _Job) -> _Done:
    """Extract the page text (falling back to the feed's text) and analyse it. Runs in the pool."""
    t0 = time.perf_counter()
    text, note = job.fallback, job.fallback_note
    published: datetime | None = None
    if job.html is not None:
        try:
            ext: Extracted = extract_article(job.html, job.url, metadata=job.need_date)
            published = ext.published
            if len(ext.text) >= len(job.fallback):
                text, note = ext.text, ext.note
            else:
                note = "page text shorter than the feed's own content"
        except ExtractError as exc:
            note = f"used the feed's text: {exc}"
    t1 = time.perf_counter()
    analysis: Analysis | None = None
    seconds: dict[str, float] = {}
    if _ANALYZER is not None and job.analyse:
        try:
            analysis = _ANALYZER.analyse(job.title, text or job.title, source_id=job.url, seconds=seconds,
                                         summarize=_ANALYZER.config.summarizer.when == "poll")
        except DigestError as exc:  # analysis must never lose an article
            log.warning("analysis failed for %s: %s", job.url, exc)
    return _Done(text, note, analysis, published, t1 - t0, seconds)


def select_new(entries: Sequence[FeedEntry], known_guids: set[str], known_links: set[str],
               known_hashes: set[str], hashes: Sequence[str] | None = None) -> list[tuple[FeedEntry, str]]:
    """New entries of one feed: dedup by guid, then link, then content hash.

    ``known_links`` are links stored by *other* feeds: another outlet's feed pointing at the
    same page is the same article. Within one feed the guid says which entry is which; a link
    that several of its entries share (some feeds reuse one link for every item, or for the
    latest one) says nothing about identity, so those entries fall through to the content hash.
    """
    link_uses = Counter(e.link for e in entries)
    seen_guids: set[str] = set()
    seen_hashes: set[str] = set()
    out: list[tuple[FeedEntry, str]] = []
    for i, e in enumerate(entries):
        h = hashes[i] if hashes is not None else content_hash(e)
        if e.guid in known_guids or e.guid in seen_guids:
            continue
        if e.link and link_uses[e.link] == 1 and e.link in known_links:
            continue
        if h in known_hashes or h in seen_hashes:
            continue
        seen_guids.add(e.guid)
        seen_hashes.add(h)
        out.append((e, h))
    return out


def _workers(config: Config) -> int:
    return config.feeds.extract_workers or max(1, os.cpu_count() or 1)


class _Pool:
    """The extraction/analysis pool, started only when a poll finds something new.

    A poll with nothing new (the common case for a worker polling every few minutes) then loads
    neither the stored alias links nor an analyzer, and starts no processes.
    """

    def __init__(self, store: Store, config: Config, workers: int, analyse: bool) -> None:
        self.store, self.config, self.workers, self.analyse = store, config, workers, analyse
        self.executor: WorkerPool | None = None
        self.started = False

    def start(self) -> WorkerPool | None:
        """The pool (None: work in this process), started on first use.

        The analyzer (actor automata, summarizer: about 0.45 s of CPU) is built once, here, and the
        workers forked from this process inherit it; a worker builds its own only where processes
        are spawned rather than forked. In a running worker the knowledge base is cached between
        polls (``ActorRecognizer.default``), so later polls pay only for the stored links.
        """
        if not self.started:
            self.started = True
            links = self.store.alias_links() if self.analyse else []
            global _ANALYZER
            _ANALYZER = None
            forked = multiprocessing.get_start_method(allow_none=False) == "fork"
            if self.analyse and (self.workers == 1 or forked):
                _init_worker(self.config, links)
            if self.workers > 1:  # (started in the poll's event loop, which reads their results)
                self.executor = WorkerPool(
                    self.workers, process_article,
                    initializer=None if forked or not self.analyse else _init_worker,
                    initargs=() if forked or not self.analyse else (self.config, links))
        return self.executor

    def close(self) -> None:
        global _ANALYZER
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        _ANALYZER = None


async def _poll(store: Store, config: Config, feeds: Sequence[Feed], progress: Progress | None,
                pool: _Pool, analyse: bool = True) -> PollReport:
    report = PollReport(feeds=len(feeds))
    fc = config.feeds
    t0 = time.perf_counter()
    new: list[_NewEntry] = []
    outcomes: list[_Outcome] = []
    pending = _Pending()
    failures: list[tuple[Feed, str]] = []
    done = 0

    async with Fetcher(fc) as fetcher:
        async def poll_one(feed: Feed) -> None:
            nonlocal done
            started = time.perf_counter()
            try:
                result = await fetcher.get(feed.url, etag=feed.etag, last_modified=feed.last_modified,
                                           accept="application/rss+xml, application/atom+xml, "
                                                  "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
                latency = int((time.perf_counter() - started) * 1000)
                if result.not_modified:
                    report.not_modified += 1
                    outcomes.append((feed, result.etag or feed.etag, result.last_modified or feed.last_modified,
                                     latency, False, None))
                    return
                p0 = time.perf_counter()
                parsed = parse_feed(feed.url, result.content, content_type=result.content_type,
                                    max_entries=fc.max_entries_per_feed)
                report.stage_seconds["parse"] += time.perf_counter() - p0
                entries = parsed.entries
                hashes = parsed.hashes
                rules = FeedRules.from_stored(feed.rules)
                if rules is not None:  # the feeds file's drop/keep rules for this feed
                    kept = [i for i, e in enumerate(entries) if rules.keeps(e.title, e.summary)]
                    report.dropped += len(entries) - len(kept)
                    entries, hashes = [entries[i] for i in kept], [hashes[i] for i in kept] if hashes else hashes
                g, _, h = store.known_keys(feed.id, [e.guid for e in entries], [], hashes)
                elsewhere, here = store.known_links(feed.id, list({e.link for e in entries}))
                fresh = select_new(entries, g, elsewhere, h, hashes)
                uses = Counter(e.link for e in entries)
                shared = {lk for lk, n in uses.items() if n > 1} | here  # `here`: stored for another guid
                new.extend(_NewEntry(feed, e, hh, shared_link=e.link in shared) for e, hh in fresh)
                if not feed.name and parsed.title:
                    feed.name = cut_at_word(parsed.title, MAX_NAME_CHARS)
                outcome = (feed, result.etag, result.last_modified, latency, bool(fresh), feed.name)
                if fresh:
                    pending.add(outcome, len(fresh))  # written with the feed's last new article
                else:
                    outcomes.append(outcome)
            except FeedError as exc:
                report.failed += 1
                report.errors.append((feed.url, exc.reason))
                log.debug("feed failed: %s: %s", feed.url, exc.reason, extra={"feed": feed.url})
                failures.append((feed, exc.reason))
            except Exception as exc:  # noqa: BLE001 - a bug or a reply nothing foresaw: this feed fails
                reason = _unexpected(exc)
                report.failed += 1
                report.errors.append((feed.url, reason))
                log.warning("feed failed: %s: %s", feed.url, reason, extra={"feed": feed.url})
                failures.append((feed, reason))
            finally:
                done += 1
                if progress:
                    progress("feeds", done, len(feeds))

        await asyncio.gather(*(poll_one(f) for f in feeds))
        _record_feed_states(store, outcomes, failures)
        report.stage_seconds["fetch"] += time.perf_counter() - t0 - report.stage_seconds["parse"]
        if not new:
            return report
        executor = pool.start() if fc.fetch_pages or analyse else None

        # pages: fetch concurrently; extract and analyse in the pool as each page arrives
        pages_done = 0

        async def page_one_inner(item: _NewEntry) -> None:
            nonlocal pages_done
            html: bytes | None = None
            note = ""
            try:
                if not fc.fetch_pages:
                    note = "page fetching is off"
                elif not item.entry.link.startswith(("http://", "https://")):
                    note = "used the feed's text: entry has no web link"
                elif item.shared_link:  # its text would be every such entry's, making them one story
                    note = "used the feed's text: the feed gives this link to several entries"
                else:
                    f0 = time.perf_counter()
                    page = await fetcher.get(item.entry.link,
                                             accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
                    report.stage_seconds["fetch_pages"] += time.perf_counter() - f0
                    html = page.content
            except FeedError as exc:
                note = f"used the feed's text: {exc.reason}"
                report.fallbacks += 1
            except Exception as exc:  # noqa: BLE001 - this page fails alone: the feed's text is kept
                note = f"used the feed's text: {_unexpected(exc)}"
                report.fallbacks += 1
                log.warning("page failed: %s: %s", item.entry.link, _unexpected(exc), extra={"feed": item.feed.url})
            job = _Job(html, item.entry.link, item.entry.title, item.entry.summary, note,
                       need_date=item.entry.published is None, analyse=analyse)
            if not analyse and html is None:  # the polling step alone: store the feed's own text as is
                done_ = _Done(job.fallback, job.fallback_note, None, None, 0.0)
            elif executor is not None:
                done_ = await executor.run(job)
            else:
                done_ = process_article(job)
            if html is not None and done_.note.startswith("used the feed's text"):
                report.fallbacks += 1
            report.stage_seconds["extract"] += done_.extract_seconds
            for step, secs in done_.analyse_seconds.items():
                report.stage_seconds[step] += secs
            item.text, item.note, item.analysis = done_.text, done_.note, done_.analysis
            item.published = done_.published
            pages_done += 1
            if progress:
                progress("articles", pages_done, len(new))
            ready.append(item)
            if len(ready) >= STORE_BATCH:
                flush_ready()

        # Bounded: a page is fetched only when the pool can take it soon, so pages never pile up
        # in memory behind the extractors, and finished articles are stored (and let go) in batches.
        in_flight = asyncio.Semaphore(max(fc.concurrency, 4 * _workers(config)))
        ready: list[_NewEntry] = []

        def flush_ready() -> None:
            a0 = time.perf_counter()
            _store_articles(store, ready, report, pending)
            report.stage_seconds["store"] += time.perf_counter() - a0
            for done_item in ready:  # stored: keep only what dedup needs
                done_item.text, done_item.analysis = "", None
            ready.clear()

        async def page_one(item: _NewEntry) -> None:
            async with in_flight:
                try:
                    await page_one_inner(item)
                except Exception as exc:  # noqa: BLE001 - not stored; its feed is polled again next time
                    log.warning("article not stored: %s: %s", item.entry.link, _unexpected(exc),
                                extra={"feed": item.feed.url})

        if not fc.fetch_pages and not analyse:  # the polling step alone: nothing to wait for per entry
            for item in new:
                item.text, item.note = item.entry.summary, "page fetching is off"
                ready.append(item)
                if len(ready) >= STORE_BATCH:
                    flush_ready()
        else:
            await asyncio.gather(*(page_one(i) for i in new))
        flush_ready()

    return report


def _unexpected(exc: BaseException) -> str:
    """One line for an exception no handler expected: its type and message."""
    text = " ".join(str(exc).split())
    return f"unexpected error: {type(exc).__name__}" + (f": {text[:200]}" if text else "")


def _record_feed_states(store: Store, outcomes: list[_Outcome], failures: list[tuple[Feed, str]]) -> None:
    """Write these feeds' conditional-GET validators and health figures in one transaction."""
    now = utcnow()
    with store.session() as s:
        rows = {f.id: f for f in s.scalars(select(Feed).where(Feed.id.in_([o[0].id for o in outcomes]
                                                                            + [f[0].id for f in failures])))}
        _apply_outcomes(rows, outcomes, now)
        for feed, reason in failures:
            row = rows.get(feed.id)
            if row is None:
                continue
            row.last_polled_at = row.last_error_at = now
            row.last_error = reason[:2000]
            row.consecutive_failures += 1
            row.error_count += 1


def _apply_outcomes(rows: dict[int, Feed], outcomes: Sequence[_Outcome], now: datetime) -> None:
    """Set validators and health figures of successfully polled feeds on their loaded rows."""
    for feed, etag, last_modified, latency, new, name in outcomes:
        row = rows.get(feed.id)
        if row is None:
            continue
        row.etag, row.last_modified = etag, last_modified
        row.last_polled_at = row.last_success_at = now
        row.consecutive_failures = 0
        row.alerted_at = None  # recovered: a later failure streak alerts again
        row.last_latency_ms = latency
        if new:
            row.last_new_at = now
        if name and not row.name:
            row.name = name


def _store_articles(store: Store, new: list[_NewEntry], report: PollReport, pending: _Pending | None = None,
                    batch: int = 500) -> None:
    """Store analysed articles, ``batch`` per transaction (one multi-row INSERT per batch).

    The feeds whose last new article is in a batch get their state (``pending``) in the same
    transaction: committed together or not at all.
    """
    now = utcnow()
    for i in range(0, len(new), batch):
        chunk = new[i:i + batch]
        with store.session() as s:
            rows: list[dict[str, Any]] = []
            for item in chunk:
                e, result = item.entry, item.analysis
                published = e.published or item.published
                if published is not None and published > now:
                    published = now
                # capped here, where every later reader (compose, render, archive) benefits: see limits.py
                rows.append({"feed_id": item.feed.id, "guid": e.guid[:2048],
                             "url": e.link if len(e.link) <= MAX_URL_CHARS else "",
                             "title": cut_at_word(e.title, MAX_TITLE_CHARS),
                             "published_at": published, "fetched_at": now,
                             "text": item.text or e.summary or e.title, "content_hash": item.hash,
                             "summary": cut_at_word(result.summary, MAX_SUMMARY_CHARS) if result else "",
                             "extract_note": item.note,
                             "topic": result.topic.topic if result else "other",
                             "cves": list(result.topic.cves[:MAX_CVES]) if result else [],
                             "exploited": result.topic.exploited if result else False})
            # one multi-row INSERT ... RETURNING per batch (Core, not ORM units of work: 3x cheaper)
            ids = list(s.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), rows))
            hits = {h.id: h for item in chunk if item.analysis for h in item.analysis.actors}
            if hits:
                store.upsert_actors(s, hits.values())
            # Core rows, not ORM objects (one executemany per batch); the refusals are read once per batch
            mentions = [{"article_id": art_id, "actor_id": h.id, "mentions": list(h.mentions)}
                        for art_id, item in zip(ids, chunk, strict=True) if item.analysis
                        for h in item.analysis.actors]
            if mentions:
                s.execute(insert(ArticleActor), mentions)
            refused = None
            for art_id, item in zip(ids, chunk, strict=True):
                if item.analysis and item.analysis.links:
                    if refused is None:
                        refused = store.refused_pairs(s)
                    store.save_links(s, item.analysis.links, art_id, refused=refused)
            complete = pending.stored([item.feed.id for item in chunk]) if pending is not None else []
            if complete:
                ids_ = [o[0].id for o in complete]
                _apply_outcomes({f.id: f for f in s.scalars(select(Feed).where(Feed.id.in_(ids_)))}, complete, now)
            report.new_articles += len(chunk)


def poll(store: Store, config: Config, *, due_only: bool = False, progress: Progress | None = None,
         feed_specs: Sequence[Any] | None = None, analyse: bool = True) -> PollReport:
    """Poll the active feeds (only those due when ``due_only``) and store what is new.

    ``analyse=False`` stores articles without summary, actors or topic; with ``feeds.fetch_pages``
    off it is the polling step alone (fetch, parse, dedup, store the feed's own text): what
    bench/poll.py sets beside the ``reader`` library, which does no more.
    """
    if feed_specs is not None:
        store.sync_feeds(feed_specs)
    skipped = PollReport()
    if due_only:
        feeds, skipped = due_feeds(store.feeds(), utcnow(), timedelta(minutes=config.feeds.poll_interval_minutes))
    else:
        feeds = store.feeds()
    if not feeds:
        return skipped
    workers = _workers(config) if analyse or config.feeds.fetch_pages else 1  # nothing for a pool to do
    pool = _Pool(store, config, workers, analyse)
    try:
        report = asyncio.run(_poll(store, config, feeds, progress, pool, analyse))
    finally:
        pool.close()
    report.not_due, report.not_due_until = skipped.not_due, skipped.not_due_until
    report.backoff, report.backoff_until = skipped.backoff, skipped.backoff_until
    return report


def due_feeds(feeds: Sequence[Feed], now: datetime, interval: timedelta) -> tuple[list[Feed], PollReport]:
    """The feeds a due-only poll takes now, and a report counting the others (not due, in backoff)."""
    due: list[Feed] = []
    skipped = PollReport()
    for feed in feeds:
        when, backoff = next_due(feed, interval)
        if when is None or when <= now:
            due.append(feed)
        elif backoff and feed.last_polled_at is not None and feed.last_polled_at + interval <= now:
            skipped.backoff += 1  # due but for its failures
            skipped.backoff_until = min(skipped.backoff_until or when, when)
        else:
            skipped.not_due += 1
            skipped.not_due_until = min(skipped.not_due_until or when, when)
    return due, skipped
