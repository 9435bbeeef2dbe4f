"""IssueContent <-> JSON, so a stored issue can be re-rendered (per-preference variants, archive)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.models import ActorHit, Alias, IssueContent, Section, StoryItem


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _pdt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _actor(a: ActorHit) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "aliases": [[x.name, x.vendor] for x in a.aliases],
            "mentions": list(a.mentions), "country": a.country, "description": a.description[:500],
            "motivation": a.motivation}


def _pactor(d: dict[str, Any]) -> ActorHit:
    return ActorHit(id=d["id"], name=d["name"], aliases=tuple(Alias(n, v) for n, v in d.get("aliases", [])),
                    mentions=tuple(d.get("mentions", [])), country=d.get("country"),
                    description=d.get("description", ""), motivation=d.get("motivation", ""))


def _story(s: StoryItem) -> dict[str, Any]:
    return {"key": s.key, "headline": s.headline, "url": s.url, "summary": s.summary, "source": s.source,
            "published": _dt(s.published), "also": [list(x) for x in s.also], "actors": [_actor(a) for a in s.actors],
            "topic": s.topic, "cves": list(s.cves), "exploited": s.exploited, "is_update": s.is_update,
            "first_sent": _dt(s.first_sent), "article_ids": list(s.article_ids),
            "exploited_cves": list(s.exploited_cves), "importance": s.importance, "primary": s.primary,
            "named": list(s.named), "sponsored": s.sponsored, "together": list(s.together)}


def _pstory(d: dict[str, Any]) -> StoryItem:
    actors = tuple(_pactor(a) for a in d.get("actors", []))
    # an issue stored before stories had a primary actor filed them under their first one
    primary = d["primary"] if "primary" in d else (actors[0].id if actors else None)
    return StoryItem(key=d["key"], headline=d["headline"], url=d["url"], summary=d["summary"], source=d["source"],
                     published=_pdt(d.get("published")), also=tuple((a, b) for a, b in d.get("also", [])),
                     actors=actors, topic=d.get("topic", "other"),
                     cves=tuple(d.get("cves", [])), exploited=bool(d.get("exploited")),
                     is_update=bool(d.get("is_update")), first_sent=_pdt(d.get("first_sent")),
                     article_ids=tuple(d.get("article_ids", [])), exploited_cves=tuple(d.get("exploited_cves", [])),
                     importance=float(d.get("importance", 0.0)), primary=primary, named=tuple(d.get("named", [])),
                     sponsored=bool(d.get("sponsored")), together=tuple(d.get("together", [])))


def issue_to_json(c: IssueContent) -> dict[str, Any]:
    return {
        "title": c.title, "date": _dt(c.date), "period_start": _dt(c.period_start), "period_end": _dt(c.period_end),
        "sections": [{"key": s.key, "title": s.title, "origin": s.origin,
                      "actor": _actor(s.actor) if s.actor else None,
                      "stories": [_story(x) for x in s.stories], "refs": list(s.refs),
                      "actors": [_actor(a) for a in s.actors]} for s in c.sections],
        "updates": [_story(x) for x in c.updates], "counts": dict(c.counts), "preheader": c.preheader,
        "top": list(c.top), "more": [_story(x) for x in c.more],
    }


def issue_from_json(d: dict[str, Any]) -> IssueContent:
    return IssueContent(
        title=d["title"], date=_pdt(d["date"]) or datetime.min, period_start=_pdt(d["period_start"]) or datetime.min,
        period_end=_pdt(d["period_end"]) or datetime.min,
        sections=tuple(Section(key=s["key"], title=s["title"], origin=s.get("origin"),
                               actor=_pactor(s["actor"]) if s.get("actor") else None,
                               stories=tuple(_pstory(x) for x in s["stories"]), refs=tuple(s.get("refs", [])),
                               actors=tuple(_pactor(a) for a in s.get("actors", [])))
                  for s in d.get("sections", [])),
        updates=tuple(_pstory(x) for x in d.get("updates", [])), counts=dict(d.get("counts", {})),
        preheader=d.get("preheader", ""), top=tuple(d.get("top", [])),
        more=tuple(_pstory(x) for x in d.get("more", [])))
