"""Frozen dataclasses passed between pipeline stages. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FeedEntry:
    """One item of a parsed feed, before its page is fetched."""

    feed_url: str
    guid: str
    link: str
    title: str
    published: datetime | None
    summary: str = ""  # plain text of the feed's own summary/content (fallback text)
    author: str = ""


@dataclass(frozen=True)
class Alias:
    """One name an actor goes by, and the vendor that uses it ('' when unknown)."""

    name: str
    vendor: str = ""


@dataclass(frozen=True)
class ActorHit:
    """An actor recognised in one document.

    ``id`` is stable across documents and runs (a slug of the canonical name);
    ``mentions`` are the exact strings found in that document.
    """

    id: str
    name: str
    aliases: tuple[Alias, ...] = ()
    mentions: tuple[str, ...] = ()
    country: str | None = None
    description: str = ""
    motivation: str = ""


@dataclass(frozen=True)
class AliasLink:
    """A link between two actor names stated by an article.

    ``relation`` is "same" (also known as, tracked as, formerly) or "overlaps" (weaker).
    """

    name_a: str
    name_b: str
    relation: str = "same"
    vendor: str = ""
    source_id: str = ""
    sentence: str = ""


@dataclass(frozen=True)
class TopicInfo:
    """What a story without an actor is about."""

    topic: str  # one of digest.intel.topics.TOPICS keys, "other" when none fits
    cves: tuple[str, ...] = ()
    exploited: bool = False


@dataclass(frozen=True)
class StoryItem:
    """One story in a composed issue: the best source plus the others that covered it."""

    key: str
    headline: str
    url: str
    summary: str
    source: str
    published: datetime | None
    also: tuple[tuple[str, str], ...] = ()  # (source name, url)
    actors: tuple[ActorHit, ...] = ()
    topic: str = "other"
    cves: tuple[str, ...] = ()
    exploited: bool = False
    is_update: bool = False
    first_sent: datetime | None = None
    article_ids: tuple[int, ...] = ()
    exploited_cves: tuple[str, ...] = ()  # the CVEs of ``cves`` known exploited (the flag is per CVE)
    importance: float = 0.0  # digest.intel.editorial.story_importance: selection and order
    primary: str | None = None  # id of the actor the story is filed under (None: a topic section)
    named: tuple[str, ...] = ()  # the other actors the story is about, named on the item ("also: ...")
    sponsored: bool = False  # only ever in an issue with newsletter.include_sponsored
    together: tuple[str, ...] = ()  # of ``named``, those the headline names beside the primary: one section


@dataclass(frozen=True)
class Section:
    """An actor section (``actor`` set) or a topic section."""

    key: str
    title: str
    stories: tuple[StoryItem, ...]
    actor: ActorHit | None = None
    origin: str | None = None
    refs: tuple[str, ...] = ()  # keys of stories filed in another section that are also about this actor
    actors: tuple[ActorHit, ...] = ()  # a combined section's further actors (a story equally about several)


@dataclass(frozen=True)
class IssueContent:
    """A composed issue, ready to render."""

    title: str
    date: datetime
    period_start: datetime
    period_end: datetime
    sections: tuple[Section, ...]
    updates: tuple[StoryItem, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    preheader: str = ""
    top: tuple[str, ...] = ()  # keys of the few most important stories, listed at the head
    more: tuple[StoryItem, ...] = ()  # what did not fit, most important first (listed in the web archive)

    @property
    def empty(self) -> bool:
        return not self.sections and not self.updates
