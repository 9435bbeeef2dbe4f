"""Compose an issue: articles since the last issue -> stories -> top stories, actor and topic sections.

Pure functions over plain records; the caller loads the records from the store. Actors are
re-resolved at compose time with every alias link learned so far, so an article stored before
a link was learned still lands in the right group. The editorial judgment each record carries
(:mod:`digest.intel.editorial`) decides where a story is filed (its primary actor, else the
section its topic names), which CVEs are flagged exploited, what stays out (sponsored) and, by
importance, which stories make the issue and in what order.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from digest.intel.editorial import Judgment, story_importance
from digest.issue.prefs import preference_key
from digest.models import ActorHit, Alias, IssueContent, Section, StoryItem

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


#: an actor named in a headline or in this much of an article's opening is one the story is about
LEDE_CHARS = 1500
#: the top-stories block: at least this many (when the issue has more than TOP_MAX stories), at most TOP_MAX
TOP_MIN, TOP_MAX = 3, 5
PREHEADER_CHARS = 180


def _ordered(members: Sequence[ArticleRecord], best: ArticleRecord) -> list[ArticleRecord]:
    return [best, *(m for m in members if m is not best)]


def _primary_id(ordered: Sequence[ArticleRecord], actors: dict[str, ActorHit]) -> str | None:
    """The actor a story is filed under: the primary of most of its articles (the best article's on a tie).

    Articles stored without a judgment keep the rule that came before it: the first actor found.
    """
    judged = [m.judgment for m in ordered if m.judgment is not None]
    if not judged:
        return next((a.id for m in ordered for a in m.actors), None)
    votes = Counter(j.primary for j in judged if j.primary in actors)
    return max(votes, key=lambda a: votes[a]) if votes else None  # insertion order: best article first on a tie


def _names_of(actor: ActorHit) -> re.Pattern[str]:
    names = sorted((n for n in {*actor.mentions, actor.name} if len(n) > 1), key=len, reverse=True)
    if not names:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in names), re.IGNORECASE)


def _prominent(actor: ActorHit, ordered: Sequence[ArticleRecord]) -> bool:
    """Named in a headline or an opening: the story is about this actor too, not just mentioning it."""
    pattern = _names_of(actor)
    return any(pattern.search(f"{m.title}\n{m.text[:LEDE_CHARS]}") for m in ordered
               if any(a.id == actor.id for a in m.actors))


def _together(headline: str, actors: dict[str, ActorHit], primary: str | None, named: Sequence[str]) -> tuple[str, ...]:
    """The named actors a headline puts beside the primary ("Linen Typhoon and Violet Typhoon exploit
    ..."): the story is equally about them, and gets one section headed by all of them."""
    if primary is None or not named or not _names_of(actors[primary]).search(headline):
        return ()
    return tuple(a for a in named if _names_of(actors[a]).search(headline))


def _named(ordered: Sequence[ArticleRecord], actors: dict[str, ActorHit], primary: str | None) -> tuple[str, ...]:
    """The other actors the story is about: another article's primary, or named in a headline or an opening.

    A story without a primary actor names none (its actors are incidental mentions).
    """
    if primary is None:
        return ()
    primaries = {m.judgment.primary for m in ordered if m.judgment is not None}
    return tuple(a.id for a in actors.values()
                 if a.id != primary and (a.id in primaries or _prominent(a, ordered)))


def _story(members: Sequence[ArticleRecord], best: ArticleRecord) -> StoryItem:
    ordered = _ordered(members, best)
    actors: dict[str, ActorHit] = {}
    for m in ordered:
        for a in m.actors:
            if a.id in actors:  # the same actor in several articles: keep every name they used
                have = actors[a.id]
                extra = tuple(x for x in a.mentions if x not in have.mentions)
                actors[a.id] = replace(have, mentions=have.mentions + extra)
            else:
                actors[a.id] = a
    primary = _primary_id(ordered, actors)
    named = _named(ordered, actors, primary)
    if primary is not None:  # the primary first, then the others the story is about, then mere mentions
        rank = {primary: 0, **{a: 1 for a in named}}
        actors = dict(sorted(actors.items(), key=lambda kv: rank.get(kv[0], 2)))
    cves: list[str] = []
    exploited: list[str] = []
    for m in ordered:
        ids = [c.id for c in m.judgment.cves] if m.judgment is not None else list(m.cves)
        cves.extend(c for c in ids if c not in cves)
        if m.judgment is not None:
            exploited.extend(c for c in m.judgment.exploited_cves if c not in exploited)
    # an article stored before the per-CVE judgment has only a story-wide flag
    legacy_flag = any(m.exploited for m in members if m.judgment is None)
    also: list[tuple[str, str]] = []
    seen_sources = {best.source}
    for m in members:
        if m.id != best.id and m.source not in seen_sources:
            seen_sources.add(m.source)
            also.append((m.source, m.url))
    topics = [m.judgment.topic if m.judgment is not None else m.topic for m in ordered]
    topic = next((t for t in topics if t != "other"), "other")
    judgments = [m.judgment for m in members if m.judgment is not None]
    published = min((m.published or m.fetched for m in members), default=best.published)
    return StoryItem(
        key=f"a{min(m.id for m in members)}", headline=best.title, url=best.url,
        summary=best.summary or next((m.summary for m in members if m.summary), ""), source=best.source,
        published=published,
        also=tuple(also), actors=tuple(actors.values()), topic=topic, cves=tuple(cves),
        exploited=bool(exploited) or legacy_flag, article_ids=tuple(sorted(m.id for m in members)),
        exploited_cves=tuple(exploited), importance=story_importance(judgments, outlets=len(seen_sources)),
        primary=primary, named=named, sponsored=bool(judgments) and all(j.sponsored for j in judgments),
        together=_together(best.title, actors, primary, named),
    )


def rank_key(s: StoryItem) -> tuple[float, int, float, str]:
    """Most important first; between equals, more outlets, then the newer story."""
    return (-s.importance, -(1 + len(s.also)), -(s.published.timestamp() if s.published else 0.0), s.key)


def weigh_coverage(stories: Sequence[StoryItem], records: Sequence[ArticleRecord]) -> list[StoryItem]:
    """Stories' importance with the batch's coverage, as ``digest analyse`` weighs it.

    A story counts the outlets that tell its event even where clustering split it off (the larger of
    its own outlets and those of its articles' loose neighbours, :func:`digest.intel.editorial.coverage`),
    and a story whose event another story of the window tells with more weight drops by
    :data:`digest.intel.editorial.REPEAT_PENALTY`, so a split event is ranked once, by its lead.
    """
    from digest.intel.editorial import REPEAT_PENALTY, coverage

    if len(stories) < 2:
        return list(stories)
    pos = {r.id: n for n, r in enumerate(records)}
    neighbours = coverage([r.title for r in records], [r.text for r in records],
                          [r.published or r.fetched for r in records], sources=[r.source for r in records])
    home = {i: n for n, s in enumerate(stories) for i in s.article_ids}
    weighed: list[float] = []
    near: list[set[int]] = []
    for s in stories:
        members = [pos[i] for i in s.article_ids if i in pos]
        around = {k for m in members for k in neighbours[m]}
        own = {s.source, *(src for src, _url in s.also)}
        covered = own | {records[k].source for k in around}
        judgments = [records[m].judgment for m in members if records[m].judgment is not None]
        weighed.append(story_importance(judgments, outlets=max(len(own), len(covered))) if judgments
                       else s.importance)
        near.append({home[records[k].id] for k in around if records[k].id in home} - {len(near)})
    out: list[StoryItem] = []
    for n, s in enumerate(stories):
        value = weighed[n]
        if any(weighed[o] > value or (weighed[o] == value and o < n) for o in near[n]):
            value -= REPEAT_PENALTY
        out.append(replace(s, importance=round(value, 4)) if value != s.importance else s)
    return out


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
    max_stories: int = 25,
    include: Callable[[StoryItem], bool] | None = None,
    include_sponsored: bool = False,
    published_since: datetime | None = None,
    summarize: Callable[[ArticleRecord], str] | None = None,
) -> IssueContent:
    """Build the issue from ``records`` (the window, including already-sent articles).

    A story is new when none of its articles was sent before and at least one was fetched
    since ``period_start``; it is an update when some were sent before and some are new; a
    story whose articles were all sent is left out. The ``max_stories`` most important new
    stories make the issue; the rest go to ``IssueContent.more`` (listed in the web archive).
    Articles judged sponsored are left out unless ``include_sponsored``. With ``published_since``
    (the first issue of a new install, or a window asked for) a new article must also have been
    published since then: a first poll fetches weeks of backlog at once. ``summarize`` writes the
    summary of the article a story shows when none was stored (``summarizer.when = "compose"``):
    only for the stories the issue holds, not for every article polled.
    """
    sent = sent or {}
    if not include_sponsored:
        records = [r for r in records if r.judgment is None or not r.judgment.sponsored]
    by_id = {r.id: r for r in records}
    groups = cluster(records) if cluster else [[r.id] for r in records]
    stories: list[StoryItem] = []
    updates: list[StoryItem] = []
    shown: dict[str, ArticleRecord] = {}  # story key -> the article it shows
    for ids in groups:
        members = [by_id[i] for i in ids if i in by_id]
        fresh = [m for m in members if m.id not in sent and m.fetched >= period_start
                 and (published_since is None or (m.published or m.fetched) >= published_since)]
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
                shown[story.key] = newest
            continue
        if include is None or include(story):
            stories.append(story)
            shown[story.key] = best

    stories = weigh_coverage(stories, records)
    stories.sort(key=rank_key)
    if summarize is not None:
        def summarized(s: StoryItem) -> StoryItem:
            return s if s.summary else replace(s, summary=summarize(shown[s.key]))

        stories[:max_stories] = [summarized(s) for s in stories[:max_stories]]
        updates = [summarized(s) for s in updates]
    return build_issue(stories[:max_stories], title=title, date=now, period_start=period_start, period_end=now,
                       updates=updates, more=stories[max_stories:], topic_titles=topic_titles)


def build_issue(stories: Sequence[StoryItem], *, title: str, date: datetime, period_start: datetime,
                period_end: datetime, updates: Sequence[StoryItem] = (), more: Sequence[StoryItem] = (),
                topic_titles: dict[str, str] | None = None) -> IssueContent:
    """Lay out chosen stories: top stories, sections by importance, pointers for further actors."""
    stories = sorted(stories, key=rank_key)
    sections = _arrange(stories, topic_titles or {"other": "Other News"})
    top = _top(stories)
    n_sources = sum(1 + len(s.also) for s in stories)
    counts = {"stories": len(stories), "actors": sum(1 + len(s.actors) for s in sections if s.actor is not None),
              "sources": n_sources, "updates": len(updates)}
    if more:
        counts["more"] = len(more)
    lead = [s.headline for s in stories if s.key in top] or [s.headline for s in stories[:TOP_MIN + 1]]
    return IssueContent(title=title, date=date, period_start=period_start, period_end=period_end,
                        sections=sections, updates=tuple(updates), counts=counts,
                        preheader=_preheader(lead[1:] or lead), top=top, more=tuple(sorted(more, key=rank_key)))


def _preheader(headlines: Sequence[str]) -> str:
    """The inbox preview after the subject (which has the lead story): the next top stories."""
    text = "; ".join(headlines)
    if len(text) <= PREHEADER_CHARS:
        return text
    return text[:PREHEADER_CHARS - 1].rsplit(" ", 1)[0].rstrip(";,:") + "…"


def _top(stories: Sequence[StoryItem]) -> tuple[str, ...]:
    """The 3-5 most important stories (the 4th and 5th when they are above the issue's median)."""
    if len(stories) <= TOP_MAX:
        return ()
    median = statistics.median(s.importance for s in stories)
    top = list(stories[:TOP_MIN])
    for s in stories[TOP_MIN:TOP_MAX]:
        if s.importance <= median:
            break
        top.append(s)
    return tuple(s.key for s in top)


def _home(s: StoryItem) -> str:
    """The section a story is filed in: its primary actor's (with the actors it is equally about)."""
    return "actor-" + "+".join((str(s.primary), *s.together))


def _arrange(stories: Sequence[StoryItem], titles: dict[str, str]) -> tuple[Section, ...]:
    """Sections in the order of their best story; a story's further actors get a pointer to it.

    ``stories`` are most important first, so the first story to open a section gives it its place.
    A section that only points at stories filed elsewhere comes right after the section holding
    the best of them, so the pointer reads "see above".
    """
    own: dict[str, list[StoryItem]] = {}
    refs: dict[str, list[StoryItem]] = defaultdict(list)
    raw: dict[str, ActorHit] = {}
    for s in stories:
        if s.primary is None or all(a.id != s.primary for a in s.actors):
            own.setdefault(f"topic-{s.topic}", []).append(s)
            continue
        own.setdefault(_home(s), []).append(s)
        for a in s.actors:
            if a.id == s.primary or a.id in s.named:
                raw.setdefault(a.id, a)
        for aid in s.named:
            if aid not in s.together:
                refs[f"actor-{aid}"].append(s)
    for s in stories:  # an actor of a combined section that has a section of its own points there too
        for aid in s.together:
            if f"actor-{aid}" in own:
                refs[f"actor-{aid}"].append(s)
    for items in refs.values():
        items.sort(key=rank_key)
    followers: dict[str, list[str]] = defaultdict(list)
    for key, items in refs.items():
        if key not in own:
            followers[_home(items[0])].append(key)
    order = [k for key in own for k in (key, *followers.get(key, ()))]
    sections: list[Section] = []
    for key in order:
        items, pointers = own.get(key, []), refs.get(key, [])
        if key.startswith("topic-"):
            topic = key.removeprefix("topic-")
            sections.append(Section(key=key, title=titles.get(topic, topic.title()), stories=tuple(items)))
            continue
        heads = [_display(raw[aid], [*items, *pointers]) for aid in key.removeprefix("actor-").split("+")]
        sections.append(Section(key=key, title=", ".join(a.name for a in heads), stories=tuple(items), actor=heads[0],
                                origin=origin_label(heads[0].country), refs=tuple(s.key for s in pointers),
                                actors=tuple(heads[1:])))
    return tuple(sections)


def _display(actor: ActorHit, stories: Sequence[StoryItem]) -> ActorHit:
    """The actor as a section heads it: the name and aka line the stories' own names suggest."""
    uses = Counter(m for st in stories for x in st.actors if x.id == actor.id for m in set(x.mentions))
    mentioned = sorted(uses, key=lambda m: (-uses[m], m))  # the name most stories use first
    a = replace(actor, name=display_name(actor, mentioned))
    return replace(a, aliases=display_aliases(a, mentioned))


def stories_of(issue: IssueContent) -> list[StoryItem]:
    """The issue's stories (each once), most important first."""
    return sorted((s for sec in issue.sections for s in sec.stories), key=rank_key)


def trim_issue(issue: IssueContent, keep: int, keep_updates: int | None = None) -> IssueContent:
    """The issue with only its ``keep`` most important stories (and ``keep_updates`` updates); the rest
    join ``more``. For the size budget: fewer stories rather than a clipped mail."""
    stories = stories_of(issue)
    updates = list(issue.updates) if keep_updates is None else list(issue.updates[:keep_updates])
    dropped = [*stories[keep:], *issue.updates[len(updates):], *issue.more]
    return build_issue(stories[:keep], title=issue.title, date=issue.date, period_start=issue.period_start,
                       period_end=issue.period_end, updates=updates, more=dropped, topic_titles=_titles(issue))


def _titles(issue: IssueContent) -> dict[str, str]:
    return {sec.key.removeprefix("topic-"): sec.title for sec in issue.sections if sec.actor is None}

def window_start(period_start: datetime, window_hours: int) -> datetime:
    return period_start - timedelta(hours=window_hours)


def filter_issue(issue: IssueContent, prefs: dict[str, object] | None) -> IssueContent:
    """The part of ``issue`` a subscriber follows ("custom" mode: chosen actors, countries, topics).

    A story counts for each actor it is about (its primary and the others named on it), so a reader
    following any of them gets it; it keeps its place under its primary actor.
    """
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
        if s.primary is None:
            return s.topic in topics
        return any(wanted_actor(a) for a in s.actors if a.id == s.primary or a.id in s.named)

    stories = [s for s in stories_of(issue) if wanted_story(s)]
    return build_issue(stories, title=issue.title, date=issue.date, period_start=issue.period_start,
                       period_end=issue.period_end, updates=[u for u in issue.updates if wanted_story(u)],
                       more=[m for m in issue.more if wanted_story(m)], topic_titles=_titles(issue))
