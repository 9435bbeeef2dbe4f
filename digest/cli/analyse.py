"""``digest analyse [FILE|-]``: the editorial judgments the digest prints, one JSON line per article.

Input: JSON lines ``{"id", "title", "text", "source", "published"}`` (``source_kind`` optional:
"news", "vendor" or "government"), read as one batch: an alias stated in one document applies to
all, as in ``digest actors detect``, and importance may use the batch (how many outlets of the
batch tell the same story, recency against the batch's newest article). Output, one line per
good input line, in input order::

    {"id", "actors": [{"id", "name", "mentions", "primary"}], "topic", "cves": [{"id", "exploited"}],
     "sponsored", "importance", "summary"}

At most one actor is primary (:func:`digest.intel.actors.salience.rank_actors`). ``--explain`` adds a
``"why"`` list: the rules and features that fired. A bad line gets a one-line error on stderr
naming its line number; the other lines are still answered, and the exit status is 1 at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import click

from digest.cli.content import _config, _read_objects
from digest.eval.content import parse_published
from digest.intel.analyse import AnalyseDoc, analyse_batch

__all__ = ["AnalyseDoc", "analyse_batch", "analyse_cmd", "eval_editorial_cmd"]

SOURCE_KINDS = ("news", "vendor", "government")


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
@click.option("--train-importance", is_flag=True,
              help="Fit only the importance weights on the dev half first (the installed section model stays).")
@click.option("--errors", is_flag=True, help="List the dev half's errors (never the test half's).")
@click.option("--dev-only", is_flag=True, help="Run the dev half only (tuning; no look at the test half).")
@click.pass_context
def eval_editorial_cmd(ctx: click.Context, labels: Path | None, train: bool, train_importance: bool,
                       errors: bool, dev_only: bool) -> None:
    """Evaluate section, exploited per CVE, sponsored, importance and primary actor on the real-news labels."""
    from digest.eval.editorial import run_eval

    run_eval(_config(ctx), directory=labels, train=train, errors=errors, echo=click.echo,
             train_importance_only=train_importance, dev_only=dev_only)
