"""The judgments of `digest analyse` for one batch of documents (the contract of the editorial issue):
actors with the primary one, topic, CVEs with the exploited flag, sponsored, importance and summary.
The command (:mod:`digest.cli.analyse`) only reads and writes JSON lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest.config import Config


@dataclass(frozen=True)
class AnalyseDoc:
    """One input line of ``digest analyse``."""

    id: Any
    title: str
    text: str
    source: str = ""
    published: datetime | None = None
    source_kind: str = "news"


def batch_stories(config: Config, docs: Sequence[AnalyseDoc], actor_ids: Sequence[Sequence[str]],
                  cves: Sequence[Sequence[str]]) -> list[list[int]]:
    """The batch's stories (:func:`digest.intel.cluster.cluster`), as lists of document positions."""
    from digest.intel.cluster import ClusterDoc, cluster

    cdocs = [ClusterDoc(id=str(i), title=d.title, text=d.text, source=d.source or f"#{i}", published=d.published,
                        source_kind=d.source_kind, actors=frozenset(actor_ids[i]), cves=frozenset(cves[i]))
             for i, d in enumerate(docs)]
    return [[int(m) for m in members] for members in cluster(cdocs, window_hours=config.stories.window_hours)]


def count_outlets(config: Config, docs: Sequence[AnalyseDoc], actor_ids: Sequence[Sequence[str]],
             cves: Sequence[Sequence[str]]) -> list[int]:
    """For each document, how many distinct outlets of the batch carry its story."""
    out = [1] * len(docs)
    for members in batch_stories(config, docs, actor_ids, cves):
        n = len({docs[m].source or f"#{m}" for m in members})
        for m in members:
            out[m] = n
    return out


def analyse_batch(config: Config, docs: Sequence[AnalyseDoc], *, explain: bool = False,
                  baseline: bool = False, summaries: bool = True) -> list[dict[str, Any]]:
    """The contract's output objects for one batch, in input order (what ``digest analyse`` prints).

    ``baseline`` gives the judgments of the keyword rules (for ``make eval``); ``summaries=False``
    leaves "summary" empty (the evaluation does not score it).
    """
    from digest.intel.actors.recognize import ActorRecognizer
    from digest.intel.actors.salience import rank_actors
    from digest.intel.analysis import kb_dir
    from digest.intel.editorial import batch_importance, coverage, judge
    from digest.intel.kev import load_kev
    from digest.intel.summarizer import make_summarizer

    rec = ActorRecognizer.default(kb_dir(config))
    hits = rec.detect_batch([(str(i), d.title, d.text) for i, d in enumerate(docs)])
    kev = load_kev(kb_dir(config))
    dates = [d.published for d in docs if d.published is not None]
    now = max(dates) if dates else None
    summarizer = make_summarizer(config.summarizer) if summaries else None
    judgments, roles = [], []
    from digest.intel import section_model

    # the section model's embedding block for the whole batch in one model call
    embs = section_model.embeddings([(d.title, d.text) for d in docs]) \
        if not baseline and section_model.needs_embedding() else [None] * len(docs)
    for i, d in enumerate(docs):
        r = rank_actors(d.title, d.text, hits[str(i)])
        roles.append(r)
        judgments.append(judge(d.title, d.text, actors=[x.actor for x in r], source=d.source,
                               source_kind=d.source_kind, published=d.published, kev=kev, now=now,
                               explain=explain, baseline=baseline, emb=embs[i]))
    outlets = count_outlets(config, docs, [[x.actor.id for x in r] for r in roles],
                       [[c.id for c in j.cves] for j in judgments])
    if baseline:
        batch = [(j.importance + 0.5 * max(n - 1, 0), f"outlets in batch: {n}") for j, n in zip(judgments, outlets)]
    else:
        neighbours = coverage([d.title for d in docs], [d.text for d in docs], [d.published for d in docs],
                              sources=[d.source for d in docs])
        batch = batch_importance(judgments, [d.source for d in docs], outlets, neighbours,
                                 [d.published for d in docs])
    results: list[dict[str, Any]] = []
    try:
        for d, r, j, (importance, batch_why) in zip(docs, roles, judgments, batch):
            primary = j.primary
            actors = [{"id": x.actor.id, "name": x.actor.name, "mentions": list(x.actor.mentions),
                       "primary": primary is not None and x.actor.id == primary} for x in r]
            key_terms = [m for x in r for m in x.actor.mentions] + [c.id for c in j.cves]
            summary = summarizer.summarize(d.title, d.text, key_terms=key_terms) if summarizer else ""
            obj: dict[str, Any] = {
                "id": d.id, "actors": actors, "topic": j.topic,
                "cves": [{"id": c.id, "exploited": c.exploited} for c in j.cves],
                "sponsored": j.sponsored, "importance": round(importance, 4), "summary": summary,
            }
            if explain:
                obj["why"] = [*j.why, batch_why]
            results.append(obj)
    finally:
        close = getattr(summarizer, "close", None)
        if callable(close):
            close()
    return results
