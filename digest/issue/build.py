"""From stored articles to a stored, rendered issue, and from an issue to the mailbox.

``prepare`` composes and renders (no writes); ``create`` stores the issue; ``send`` delivers it
through the ledger; ``dry_run`` writes what would go out to files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest.config import Config
from digest.intel.analysis import Analyzer
from digest.issue.compose import ArticleRecord, compose_issue
from digest.issue.factory import factory_for, former_actor_ids, make_factory, rendered_of  # noqa: F401 (re-exported)
from digest.issue.render import RenderedIssue, render_issue, render_within_budget
from digest.issue.serialize import issue_to_json
from digest.mail.message import Recipient
from digest.models import ActorHit, IssueContent
from digest.store import Issue, Store, utcnow


@dataclass(frozen=True)
class Prepared:
    content: IssueContent
    rendered: RenderedIssue
    period_start: datetime
    period_end: datetime
    article_ids: tuple[int, ...]


log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime, tz: str = "UTC") -> datetime:
    """The start of a window: a duration back from ``now`` (90m, 36h, 7d, 2w) or a date or time
    (2026-01-05 is midnight in the newsletter's time zone ``tz``)."""
    from digest.errors import DigestError

    m = _DURATION.match(value)
    if m:
        start = now - timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
    else:
        try:
            start = datetime.fromisoformat(value.strip())
        except ValueError:
            raise DigestError(f"--since {value!r}: give a duration (7d, 36h, 90m, 2w) or a date (2026-01-05)") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(tz))
    if start >= now:
        raise DigestError(f"--since {value!r} is not in the past")
    return start


def period_start_for(store: Store, now: datetime, first_issue_hours: int = 24) -> datetime:
    """Since the last sent issue; the first issue of a new install covers the last ``first_issue_hours``
    (newsletter.first_issue_hours), not the whole backlog a first poll brings in."""
    last = store.last_sent_issue()
    return last.period_end if last is not None else now - timedelta(hours=first_issue_hours)


def load_records(store: Store, config: Config, start: datetime, end: datetime) -> list[ArticleRecord]:
    """Articles in [start, end) with actors re-resolved against every alias link learned so far."""
    rows = store.articles_between(start, end)
    analyzer: Analyzer | None = None
    if rows:
        analyzer = Analyzer(config, store.alias_links())
    out: list[ArticleRecord] = []
    for art, feed, _mentions in rows:
        actors: tuple[ActorHit, ...] = tuple(analyzer.detect(art.title, art.text)) if analyzer else ()
        judgment = analyzer.judge(art.title, art.text, actors=actors, source=feed.name or feed.url,
                                  source_kind=feed.kind, published=art.published_at) if analyzer else None
        out.append(ArticleRecord(
            id=art.id, title=art.title, url=art.url, text=art.text, summary=art.summary,
            source=feed.name or feed.url, source_kind=feed.kind, published=art.published_at,
            fetched=art.fetched_at, topic=art.topic, cves=tuple(art.cves or ()), exploited=art.exploited,
            actors=actors, judgment=judgment))
    return out


def _cluster_fn(config: Config):  # type: ignore[no-untyped-def]
    from digest.intel.cluster import ClusterDoc, cluster

    def run(records: Sequence[ArticleRecord]) -> list[list[int]]:
        docs = [ClusterDoc(id=str(r.id), title=r.title, text=r.text, source=r.source,
                           published=r.published or r.fetched, source_kind=r.source_kind,
                           actors=frozenset(a.id for a in r.actors), cves=frozenset(r.cves)) for r in records]
        return [[int(i) for i in group] for group in cluster(docs, window_hours=config.stories.window_hours)]

    return run


def _best_fn(records: Sequence[ArticleRecord]) -> ArticleRecord:
    rank = {"vendor": 0, "government": 1, "news": 2}
    return min(records, key=lambda r: (rank.get(r.source_kind, 3), -len(r.text), r.id))


@contextmanager
def _summarizer(config: Config) -> Iterator[Callable[[ArticleRecord], str]]:
    """What summarizes the article a story shows when poll stored no summary (``summarizer.when``),
    with its actors' names and its CVEs as key terms, as poll would have; built on first use."""
    made: list[Any] = []

    def summarize(r: ArticleRecord) -> str:
        if not made:
            from digest.intel.summarizer import make_summarizer

            made.append(make_summarizer(config.summarizer))
        try:
            return str(made[0].summarize(r.title, r.text,
                                         key_terms=[*(m for a in r.actors for m in a.mentions), *r.cves]))
        except Exception as exc:  # noqa: BLE001 - one article's text must never stop the issue
            log.warning("summary failed for article %s (%s): %s; the story goes out without one",
                        r.id, r.url[:200], " ".join(str(exc).split())[:200])
            return ""

    try:
        yield summarize
    finally:
        close = getattr(made[0], "close", None) if made else None
        if callable(close):
            close()


def prepare(store: Store, config: Config, now: datetime | None = None, *,
            since: datetime | None = None) -> Prepared:
    """Compose and render the next issue from what is stored; writes nothing.

    ``since`` composes a digest of everything since then, sent before or not (the weekly variant).
    """
    from digest.intel.topics import TOPICS

    now = now or utcnow()
    first = since is None and store.last_sent_issue() is None
    start = since or period_start_for(store, now, config.newsletter.first_issue_hours)
    window = timedelta(hours=config.stories.window_hours)
    records = load_records(store, config, start - window, now + timedelta(seconds=1))
    sent = {} if since else store.sent_story_keys(start - window - timedelta(days=1))
    tz = ZoneInfo(config.schedule.timezone)
    with _summarizer(config) as summarize:
        content = compose_issue(records, title=config.newsletter.title, now=now.astimezone(tz), period_start=start,
                                sent=sent, cluster=_cluster_fn(config), pick_best=_best_fn,
                                topic_titles=dict(TOPICS), max_stories=config.newsletter.max_stories,
                                include_sponsored=config.newsletter.include_sponsored,
                                published_since=start if (since or first) else None, summarize=summarize)
    content, rendered = render_within_budget(content, base_url=config.newsletter.base_url, now=now,
                                             postal_address=config.newsletter.postal_address)
    ids = tuple(sorted({i for sec in content.sections for s in sec.stories for i in s.article_ids}
                       | {i for s in content.updates for i in s.article_ids}))
    return Prepared(content, rendered, start, now, ids)


def create(store: Store, config: Config, prepared: Prepared) -> Issue:
    """Store a prepared issue (status 'composed') and point its archive link at itself."""
    c = prepared.content
    with store.session() as s:
        issue = Issue(issue_date=c.date.strftime("%Y-%m-%d"), period_start=prepared.period_start,
                      period_end=prepared.period_end, subject=prepared.rendered.subject, html="", text="",
                      status="composed", story_count=c.counts.get("stories", 0),
                      actor_count=c.counts.get("actors", 0), article_ids=list(prepared.article_ids),
                      story_keys=[st.key for sec in c.sections for st in sec.stories],
                      content=issue_to_json(c))
        s.add(issue)
        s.flush()
        archive = f"{config.newsletter.base_url.rstrip('/')}/archive/{issue.id}"
        rendered = render_issue(c, base_url=config.newsletter.base_url, archive_url=archive, now=prepared.period_end,
                                postal_address=config.newsletter.postal_address)
        issue.html, issue.text, issue.subject = rendered.html, rendered.text, rendered.subject
        return issue


def archive_html(issue: Issue, base_url: str, postal_address: str = "") -> str:
    """The web archive's page of an issue: the issue as mailed, with every story (those that did not
    fit the mail too: its "N more stories" line links here) and the archive's footer instead of a
    subscriber's: no "you get this because you subscribed", no preferences or unsubscribe links.

    An issue stored without its content (before migration 0002) is the mail as sent, its footer
    replaced the same way.
    """
    from digest.issue.serialize import issue_from_json

    base = base_url.rstrip("/")
    if issue.content:
        content = issue_from_json(issue.content)
        return render_issue(content, base_url=base_url, archive_url=f"{base}/archive/{issue.id}",
                            now=issue.period_end, archive=True, postal_address=postal_address).html
    footer = (f'This is the web archive of this newsletter.<br><a href="{escape(base, quote=True)}/subscribe">'
              f'Subscribe</a> · <a href="{escape(base, quote=True)}/archive/">All issues</a>')
    html = _FOOTER.sub(lambda m: m.group(1) + footer + m.group(2), issue.html or "", count=1)
    return _PLACEHOLDER_LINK.sub("", html)


#: the footer cell of a rendered mail (the CSS inliner adds a style attribute), and a link to a reader's
#: own page (a placeholder filled in at send time) wherever else it appears
_FOOTER = re.compile(r'(<td class="footer"[^>]*>).*?(</td>)', re.DOTALL)
_PLACEHOLDER_LINK = re.compile(r'<a [^>]*href="%%[A-Z_]+%%"[^>]*>.*?</a>(\s*·\s*)?', re.DOTALL)


def is_public(issue: Issue) -> bool:
    """Whether a sent issue belongs in the public archive and feed: not an empty one (``send --send-empty``)."""
    if issue.content is not None:
        return bool(issue.content.get("sections") or issue.content.get("updates"))
    return (issue.story_count or 0) > 0


@dataclass(frozen=True)
class DryRunResult:
    out_dir: Path
    html: Path
    text: Path
    eml: Path
    recipients: int
    content: IssueContent


def dry_run(store: Store, config: Config, out_dir: Path | None = None, now: datetime | None = None,
            to: str | None = None, since: datetime | None = None) -> DryRunResult:
    """Write digest.html, digest.txt and digest.eml for what `send` would deliver; change nothing.

    ``to`` previews what one subscriber would get (their preferences applied); otherwise the
    first confirmed subscriber (or the configured sample address) gets the full issue. ``since``
    composes over the window from then to now instead (sent before or not: a weekly issue).
    """
    from digest.errors import DigestError
    from digest.issue.render import personalise
    from digest.issue.variants import VariantChooser
    from digest.mail.ledger import Claimed
    from digest.private import private_dir, write_private

    now = now or utcnow()
    prepared = prepare(store, config, now, since=since)
    day = prepared.content.date.strftime("%Y-%m-%d")
    out = out_dir or private_dir(config.path(config.outbox.dir)) / day
    private_dir(out)  # the files carry a reader's live tokens: owner-only, whatever the umask
    key = store.secret_key(config.security.secret_key)
    factory = make_factory(config, key, None, prepared.rendered)
    n_confirmed = store.subscriber_counts().get("confirmed", 0)
    shown = prepared.content
    if to is not None:
        sub = store.subscriber(email=to.strip().lower())
        if sub is None:
            raise DigestError(f"{to} is not a subscriber; `digest subscribers list` shows them")
        if sub.status != "confirmed":
            raise DigestError(f"{to} would get nothing: the subscription is {sub.status}")
        weekly = None
        if (sub.preferences or {}).get("frequency") == "weekly":
            weekly = issue_to_json(prepare(store, config, now, since=now - timedelta(days=7)).content)
        chooser = VariantChooser(config, key, 0, factory, issue_to_json(prepared.content), weekly,
                                 f"{config.newsletter.base_url.rstrip('/')}/archive/", now,
                                 make_factory=make_factory, former_ids=former_actor_ids(store, config))
        chosen = chooser(Claimed(0, sub.id, sub.email, sub.token_nonce or "", 0, sub.preferences or None))
        if chosen is None:
            raise DigestError(f"{to} would get nothing today: nothing they follow is in this issue, "
                              f"or they read weekly on another day")
        factory, sample = chosen, sub
        # the counts of what this reader gets (their topics, actors, weekly digest), not the whole issue's
        shown = chooser.contents.get(VariantChooser.key_of(sub.preferences), shown)
    else:
        sample = store.first_confirmed()
    recipient = Recipient(sample.id, sample.email, sample.token_nonce) if sample else \
        Recipient(0, config.outbox.sample_recipient, "")
    rendered = factory.rendered
    html_path, text_path, eml_path = out / "digest.html", out / "digest.txt", out / "digest.eml"
    unsub, prefs = factory.links(recipient)
    write_private(html_path, personalise(rendered.html, unsubscribe_url=unsub, preferences_url=prefs))
    write_private(text_path, personalise(rendered.text, unsubscribe_url=unsub, preferences_url=prefs))
    write_private(eml_path, factory.build(recipient))
    return DryRunResult(out, html_path, text_path, eml_path, 1 if to is not None else n_confirmed, shown)
