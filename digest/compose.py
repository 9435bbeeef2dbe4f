"""Compose an issue: articles since the last issue -> stories -> actor and topic sections.

Pure functions over plain records; the caller loads the records from the store. Actors are
re-resolved at compose time with every alias link learned so far, so an article stored before
a link was learned still lands in the right group.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .intel.editorial import Judgment
from .models import ActorHit, Alias, IssueContent, Section, StoryItem

ORIGIN_NAMES = {
    "CN": "China", "RU": "Russia", "IR": "Iran", "KP": "North Korea", "KR": "South Korea",
    "IN": "India", "PK": "Pakistan", "VN": "Vietnam", "US": "United States", "IL": "Israel",
    "TR": "Turkey", "BY": "Belarus", "UA": "Ukraine", "LB": "Lebanon", "AE": "United Arab Emirates",
    "SY": "Syria", "PS": "Palestine", "KZ": "Kazakhstan", "GB": "United Kingdom", "NG": "Nigeria",
}


@dataclass(frozen=True)
class ArticleRecord:
    """What compose needs of one stored article."""

    id: int
    title: str
    url: str
    text: str
    summary: str
    source: str
    source_kind: str
    published: datetime | None
    fetched: datetime
    topic: str = "other"
    cves: tuple[str, ...] = ()
    exploited: bool = False
    actors: tuple[ActorHit, ...] = field(default=())
    judgment: Judgment | None = None  # digest.intel.editorial: primary actor, section, CVE flags, importance


MAX_AKA = 6
# vendors whose names readers recognise first, in the order the aka line prefers them
VENDOR_ORDER = ("Microsoft", "Mandiant", "Google", "CrowdStrike", "Palo Alto Networks Unit 42", "Symantec",
                "Trend Micro", "Elastic Security Labs", "Proofpoint", "Cisco Talos", "Secureworks", "ESET",
                "Kaspersky", "Recorded Future", "IBM X-Force")


def display_aliases(actor: ActorHit, mentioned: Iterable[str] = ()) -> tuple[Alias, ...]:
    """The aka line: the names the stories used first, then one name per well-known vendor.

    The galaxy can list forty names for one actor; a digest shows the few a reader will meet,
    each with the vendor that uses it, as the Concise Cyber seed does.
    """
    seen = {actor.name.casefold()}
    picked: list[Alias] = []
    mentioned_cf = {m.casefold() for m in mentioned}

    def take(a: Alias) -> None:
        if a.name.casefold() not in seen and len(picked) < MAX_AKA:
            seen.add(a.name.casefold())
            picked.append(a)

    for a in actor.aliases:
        if a.name.casefold() in mentioned_cf:
            take(a)
    vendors_done = {a.vendor for a in picked}
    rank = {v: i for i, v in enumerate(VENDOR_ORDER)}
    for a in sorted((a for a in actor.aliases if a.vendor), key=lambda a: rank.get(a.vendor, len(rank))):
        if a.vendor not in vendors_done:
            vendors_done.add(a.vendor)
            take(a)
    return tuple(picked)


def display_name(actor: ActorHit, mentioned: Iterable[str] = ()) -> str:
    """The section title: the canonical name, as the stories spell it where the galaxy does not.

    A galaxy name in lower case ("medusa") takes the stories' spelling ("Medusa"). A name the galaxy
    shouts in capitals without a digit (CrowdStrike's "QUILTED TIGER") gives way to the name the
    stories use most ("Patchwork"), and stays in the aka line. ``mentioned`` is most used first.
    """
    mentioned = list(mentioned)
    if actor.name.isupper() and not any(ch.isdigit() for ch in actor.name):
        return next((m for m in mentioned if not m.isupper()), actor.name)
    if not actor.name.islower():
        return actor.name
    mentioned = sorted(mentioned, key=str.isupper)  # "Medusa" before "MEDUSA"
    return next((m for m in mentioned if m.casefold() == actor.name.casefold() and not m.islower()),
                next((m for m in mentioned if not m.islower()), actor.name.title()))


def origin_label(country: str | None) -> str | None:
    if not country:
        return None
    return ORIGIN_NAMES.get(country.upper(), country) if len(country) == 2 else country


def _story(members: Sequence[ArticleRecord], best: ArticleRecord) -> StoryItem:
    actors: dict[str, ActorHit] = {}
    for m in [best, *members]:
        for a in m.actors:
            if a.id in actors:  # the same actor in several articles: keep every name they used
                have = actors[a.id]
                extra = tuple(x for x in a.mentions if x not in have.mentions)
                actors[a.id] = replace(have, mentions=have.mentions + extra)
            else:
                actors[a.id] = a
    cves: list[str] = []
    for m in [best, *members]:
        cves.extend(c for c in m.cves if c not in cves)
    also: list[tuple[str, str]] = []
    seen_sources = {best.source}
    for m in members:
        if m.id != best.id and m.source not in seen_sources:
            seen_sources.add(m.source)
            also.append((m.source, m.url))
    topic = best.topic
    if topic == "other":
        topic = next((m.topic for m in members if m.topic != "other"), "other")
    published = min((m.published or m.fetched for m in members), default=best.published)
    return StoryItem(
        key=f"a{min(m.id for m in members)}", headline=best.title, url=best.url,
        summary=best.summary or next((m.summary for m in members if m.summary), ""), source=best.source,
        published=published,
        also=tuple(also), actors=tuple(actors.values()), topic=topic, cves=tuple(cves),
        exploited=any(m.exploited for m in members), article_ids=tuple(sorted(m.id for m in members)),
    )


def compose_issue(
    records: Sequence[ArticleRecord],
    *,
    title: str,
    now: datetime,
    period_start: datetime,
    sent: dict[int, tuple[int, datetime]] | None = None,
    cluster: Callable[[Sequence[ArticleRecord]], list[list[int]]] | None = None,
    pick_best: Callable[[Sequence[ArticleRecord]], ArticleRecord] | None = None,
    topic_titles: dict[str, str] | None = None,
    max_stories: int = 60,
    include: Callable[[StoryItem], bool] | None = None,
) -> IssueContent:
    """Build the issue from ``records`` (the window, including already-sent articles).

    A story is new when none of its articles was sent before and at least one was fetched
    since ``period_start``; it is an update when some were sent before and some are new; a
    story whose articles were all sent is left out.
    """
    sent = sent or {}
    by_id = {r.id: r for r in records}
    groups = cluster(records) if cluster else [[r.id] for r in records]
    stories: list[StoryItem] = []
    updates: list[StoryItem] = []
    for ids in groups:
        members = [by_id[i] for i in ids if i in by_id]
        fresh = [m for m in members if m.id not in sent and m.fetched >= period_start]
        if not fresh:
            continue
        old = [m for m in members if m.id in sent]
        best = pick_best(members) if pick_best else members[0]
        story = _story(members, best)
        if old:
            first = min(sent[m.id][1] for m in old)
            newest = pick_best(fresh) if pick_best else fresh[0]
            story = replace(_story(fresh, newest), is_update=True, first_sent=first,
                            key=story.key, also=story.also)
            if include is None or include(story):
                updates.append(story)
            continue
        if include is None or include(story):
            stories.append(story)

    def rank(s: StoryItem) -> tuple[int, float]:
        return (-(1 + len(s.also)), -(s.published.timestamp() if s.published else 0.0))

    stories.sort(key=rank)
    stories = stories[:max_stories]

    actor_sections: dict[str, list[StoryItem]] = defaultdict(list)
    actors: dict[str, ActorHit] = {}
    topical: dict[str, list[StoryItem]] = defaultdict(list)
    for s in stories:
        if s.actors:
            primary = s.actors[0]
            actors.setdefault(primary.id, primary)
            actor_sections[primary.id].append(s)
        else:
            topical[s.topic].append(s)

    def coverage(items: Iterable[StoryItem]) -> int:
        return sum(1 + len(s.also) for s in items)

    sections: list[Section] = []
    for actor_id in sorted(actor_sections, key=lambda a: (-len(actor_sections[a]), -coverage(actor_sections[a]),
                                                             actors[a].name.lower())):
        a = actors[actor_id]
        uses = Counter(m for st in actor_sections[actor_id] for x in st.actors if x.id == actor_id
                       for m in set(x.mentions))
        mentioned = sorted(uses, key=lambda m: (-uses[m], m))  # the name most stories use first
        a = replace(a, name=display_name(a, mentioned))
        a = replace(a, aliases=display_aliases(a, mentioned))
        sections.append(Section(key=f"actor-{a.id}", title=a.name, stories=tuple(actor_sections[actor_id]),
                                actor=a, origin=origin_label(a.country)))
    titles = topic_titles or {"other": "Other News"}
    for topic in [*titles, *sorted(set(topical) - set(titles))]:
        if topical.get(topic):
            sections.append(Section(key=f"topic-{topic}", title=titles.get(topic, topic.title()),
                                    stories=tuple(topical[topic])))

    n_sources = sum(1 + len(s.also) for s in stories)
    counts = {"stories": len(stories), "actors": len(actor_sections), "sources": n_sources,
              "updates": len(updates)}
    lead = [s.headline for s in stories[:3]]
    preheader = "; ".join(lead)[:180]
    return IssueContent(title=title, date=now, period_start=period_start, period_end=now,
                        sections=tuple(sections), updates=tuple(updates), counts=counts, preheader=preheader)


def window_start(period_start: datetime, window_hours: int) -> datetime:
    return period_start - timedelta(hours=window_hours)


def preference_key(prefs: dict[str, object] | None) -> str:
    """A stable key for what a subscriber follows: subscribers with the same key get the same variant."""
    import json

    if not prefs or prefs.get("mode", "all") != "custom":
        return "all"
    keep = {k: sorted(str(x) for x in prefs.get(k, []) or []) for k in ("actors", "countries", "topics")}  # type: ignore[union-attr]
    return json.dumps(keep, sort_keys=True)


def filter_issue(issue: IssueContent, prefs: dict[str, object] | None) -> IssueContent:
    """The part of ``issue`` a subscriber follows ("custom" mode: chosen actors, countries, topics)."""
    if preference_key(prefs) == "all":
        return issue
    assert prefs is not None
    actors = {str(a) for a in prefs.get("actors", []) or []}  # type: ignore[union-attr]
    countries = {str(c).lower() for c in prefs.get("countries", []) or []}  # type: ignore[union-attr]
    topics = {str(t) for t in prefs.get("topics", []) or []}  # type: ignore[union-attr]

    def wanted_actor(a: ActorHit) -> bool:
        origin = (origin_label(a.country) or "").lower()
        return a.id in actors or (bool(origin) and origin in countries) or (a.country or "").lower() in countries

    def wanted_story(s: StoryItem) -> bool:
        return any(wanted_actor(a) for a in s.actors) or (not s.actors and s.topic in topics)

    sections = tuple(sec for sec in issue.sections
                     if (sec.actor is not None and wanted_actor(sec.actor))
                     or (sec.actor is None and sec.key.removeprefix("topic-") in topics))
    updates = tuple(u for u in issue.updates if wanted_story(u))
    stories = [s for sec in sections for s in sec.stories]
    counts = {"stories": len(stories), "actors": sum(1 for s in sections if s.actor),
              "sources": sum(1 + len(s.also) for s in stories), "updates": len(updates)}
    return replace(issue, sections=sections, updates=updates, counts=counts,
                   preheader="; ".join(s.headline for s in stories[:3])[:180])
