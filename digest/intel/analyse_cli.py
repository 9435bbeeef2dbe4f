"""``digest analyse [FILE|-]``: the editorial judgments the digest prints, one JSON line per article.

Input: JSON lines ``{"id", "title", "text", "source", "published"}`` (``source_kind`` optional:
"news", "vendor" or "government"), read as one batch: an alias stated in one document applies to
all, as in ``digest actors detect``, and importance may use the batch (how many outlets of the
batch tell the same story, recency against the batch's newest article). Output, one line per
good input line, in input order::

    {"id", "actors": [{"id", "name", "mentions", "primary"}], "topic", "cves": [{"id", "exploited"}],
     "sponsored", "importance", "summary"}

At most one actor is primary (:func:`digest.intel.salience.rank_actors`). ``--explain`` adds a
``"why"`` list: the rules and features that fired. A bad line gets a one-line error on stderr
naming its line number; the other lines are still answered, and the exit status is 1 at the end.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click

from digest.config import Config

from .content_cli import _config, _read_objects
from .content_eval import parse_published

__all__ = ["AnalyseDoc", "analyse_batch", "analyse_cmd", "eval_editorial_cmd"]

SOURCE_KINDS = ("news", "vendor", "government")


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
    from .cluster import ClusterDoc, cluster

    cdocs = [ClusterDoc(id=str(i), title=d.title, text=d.text, source=d.source or f"#{i}", published=d.published,
                        source_kind=d.source_kind, actors=frozenset(actor_ids[i]), cves=frozenset(cves[i]))
             for i, d in enumerate(docs)]
    return [[int(m) for m in members] for members in cluster(cdocs, window_hours=config.stories.window_hours)]


def _outlets(config: Config, docs: Sequence[AnalyseDoc], actor_ids: Sequence[Sequence[str]],
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
    from digest.analysis import kb_dir

    from .actors import ActorRecognizer
    from .editorial import batch_importance, coverage, judge
    from .kev import load_kev
    from .salience import rank_actors
    from .summarize import make_summarizer

    rec = ActorRecognizer.default(kb_dir(config))
    hits = rec.detect_batch([(str(i), d.title, d.text) for i, d in enumerate(docs)])
    kev = load_kev(kb_dir(config))
    dates = [d.published for d in docs if d.published is not None]
    now = max(dates) if dates else None
    summarizer = make_summarizer(config.summarizer) if summaries else None
    judgments, roles = [], []
    for i, d in enumerate(docs):
        r = rank_actors(d.title, d.text, hits[str(i)])
        roles.append(r)
        judgments.append(judge(d.title, d.text, actors=[x.actor for x in r], source=d.source,
                               source_kind=d.source_kind, published=d.published, kev=kev, now=now,
                               explain=explain, baseline=baseline))
    outlets = _outlets(config, docs, [[x.actor.id for x in r] for r in roles],
                       [[c.id for c in j.cves] for j in judgments])
    if baseline:
        batch = [(j.importance + 0.5 * max(n - 1, 0), f"outlets in batch: {n}") for j, n in zip(judgments, outlets)]
    else:
        neighbours = coverage([d.title for d in docs], [d.text for d in docs], [d.published for d in docs])
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


def _doc(number: int, obj: dict[str, Any]) -> AnalyseDoc:
    """The document of one input object; ValueError saying what is wrong."""
    title, text = obj.get("title") or "", obj.get("text") or ""
    source = obj.get("source") or ""
    if not isinstance(title, str) or not isinstance(text, str) or not isinstance(source, str):
        raise ValueError("title, text and source must be strings")  # noqa: TRY004
    if not title.strip() and not text.strip():
        raise ValueError("no title and no text")
    kind = obj.get("source_kind") or "news"
    if kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind must be one of {', '.join(SOURCE_KINDS)}")
    published = obj.get("published")
    when = parse_published(published)
    if published not in (None, "") and when is None:
        raise ValueError(f"published {published!r} is not an ISO date")
    return AnalyseDoc(id=obj["id"], title=title, text=text, source=source, published=when, source_kind=kind)


@click.command("analyse")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--explain", is_flag=True, help='Add a "why" list to each line: the rules and features that fired.')
@click.pass_context
def analyse_cmd(ctx: click.Context, source: IO[str], explain: bool) -> None:
    """Editorial judgments: JSON lines {"id", "title", "text", "source", "published"} in, one batch.

    Out, one line per input: {"id", "actors": [{"id", "name", "mentions", "primary"}], "topic",
    "cves": [{"id", "exploited"}], "sponsored", "importance", "summary"}.
    """
    config = _config(ctx)
    docs: list[AnalyseDoc] = []
    bad = 0
    try:
        for number, obj in _read_objects(source, ("id",)):
            try:
                docs.append(_doc(number, obj))
            except ValueError as exc:
                click.echo(f"line {number}: {exc}", err=True)
                bad += 1
    except UnicodeDecodeError as exc:
        click.echo(f"input is not UTF-8 text ({exc.reason} at byte {exc.start}); lines after it were not read",
                   err=True)
        bad += 1
    for obj in analyse_batch(config, docs, explain=explain):
        click.echo(json.dumps(obj, ensure_ascii=False))
    if bad or ctx.meta.get("content_bad_lines"):
        ctx.exit(1)


@click.command("eval-editorial")
@click.option("--labels", "labels", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with editorial.jsonl and weeks.jsonl (default tests/data/realnews; env DIGEST_REALNEWS_DIR).")
@click.option("--train", is_flag=True, help="Fit the section model and importance weights on the dev half first.")
@click.option("--errors", is_flag=True, help="List the dev half's errors (never the test half's).")
@click.pass_context
def eval_editorial_cmd(ctx: click.Context, labels: Path | None, train: bool, errors: bool) -> None:
    """Evaluate section, exploited per CVE, sponsored, importance and primary actor on the real-news labels."""
    from .editorial_eval import run_eval

    run_eval(_config(ctx), directory=labels, train=train, errors=errors, echo=click.echo)
