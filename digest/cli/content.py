"""Commands of the content stage: ``digest summarize``, ``digest stories cluster`` and the content evaluation.

Both data commands read JSON lines from a file or ``-`` (stdin) and write JSON lines to stdout. A
line that is not a JSON object with the needed fields gets a one-line error on stderr naming the
line number; the other lines go on, and the exit status stays 0 (the run did its work).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from digest.config import Config
from digest.eval.content import parse_published
from digest.eval.content_report import run_eval
from digest.intel.cluster import ClusterDoc, cluster
from digest.intel.summarizer import make_summarizer
from digest.intel.topics import extract_cves

__all__ = ["content_eval_cmd", "stories", "summarize_cmd"]


def _config(ctx: click.Context) -> Config:
    obj = ctx.find_object(object) if ctx.obj is None else ctx.obj
    config = getattr(obj, "config", None)
    if config is None:
        from digest.config import load_config

        config = load_config()
    return config


def _read_objects(stream: IO[str], required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each good line; bad lines are reported on stderr and skipped."""
    ctx = click.get_current_context()
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            where = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            click.echo(f"line {number}: not valid JSON ({where})", err=True)
            ctx.meta["content_bad_lines"] = ctx.meta.get("content_bad_lines", 0) + 1
            continue
        missing = [k for k in required if not isinstance(obj, dict) or k not in obj]
        if missing:
            what = "not a JSON object" if not isinstance(obj, dict) else f"missing {', '.join(missing)}"
            click.echo(f"line {number}: {what}", err=True)
            ctx.meta["content_bad_lines"] = ctx.meta.get("content_bad_lines", 0) + 1
            continue
        yield number, obj


@click.command("summarize")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.pass_context
def summarize_cmd(ctx: click.Context, source: IO[str]) -> None:
    """Summarize articles: JSON lines {"id", "title", "text"} in, {"id", "summary"} out.

    Uses the summarizer the config selects (extractive by default). A line that is not a JSON
    object with an "id" is reported on stderr and skipped; the others are summarized, and the
    exit status is then 1 (as for `actors detect`).
    """
    summarizer = make_summarizer(_config(ctx).summarizer)
    try:
        for _n, obj in _read_objects(source, ("id",)):
            title = str(obj.get("title") or "")
            text = str(obj.get("text") or "")
            summary = summarizer.summarize(title, text)
            click.echo(json.dumps({"id": obj["id"], "summary": summary}, ensure_ascii=False))
            sys.stdout.flush()
    finally:
        close = getattr(summarizer, "close", None)
        if callable(close):
            close()
    if ctx.meta.get("content_bad_lines"):
        ctx.exit(1)


@click.group("stories")
def stories() -> None:
    """Story clustering: articles about one event from several feeds."""


@stories.command("cluster")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--window-hours", type=click.IntRange(min=1), default=None,
              help="Articles this close in time may be one story (default: stories.window_hours).")
@click.pass_context
def cluster_cmd(ctx: click.Context, source: IO[str], window_hours: int | None) -> None:
    """Cluster one batch: JSON lines {"id", "title", "text", "source", "published"} in, {"story", "members"} out.

    Every input id is in exactly one story; members are listed best source first.
    """
    window = window_hours or _config(ctx).stories.window_hours
    docs: list[ClusterDoc] = []
    seen: set[str] = set()
    for number, obj in _read_objects(source, ("id",)):
        doc_id = str(obj["id"])
        if doc_id in seen:
            click.echo(f"line {number}: duplicate id {doc_id!r} (first one kept)", err=True)
            continue
        published = obj.get("published")
        when = parse_published(published)
        if published not in (None, "") and when is None:
            click.echo(f"line {number}: published {published!r} is not an ISO date; treated as unknown", err=True)
        seen.add(doc_id)
        title, text = str(obj.get("title") or ""), str(obj.get("text") or "")
        docs.append(ClusterDoc(
            id=doc_id, title=title, text=text, source=str(obj.get("source") or ""), published=when,
            source_kind=str(obj.get("source_kind") or "news"),
            actors=frozenset(str(a) for a in obj.get("actors") or ()),
            cves=frozenset(extract_cves(" ".join(str(c) for c in obj.get("cves") or ()))),
        ))
    by_id = {d.id: d for d in docs}
    for k, members in enumerate(cluster(docs, window_hours=window), 1):
        click.echo(json.dumps({"story": k, "members": members, "title": by_id[members[0]].title},
                              ensure_ascii=False))


@click.command("eval-content")
@click.option("--window-hours", type=click.IntRange(min=1), default=None,
              help="Story window (default: stories.window_hours).")
@click.option("--quiet", is_flag=True, help="Figures only, without the list of corpus stories.")
@click.pass_context
def content_eval_cmd(ctx: click.Context, window_hours: int | None, quiet: bool) -> None:
    """Evaluate the content stage: same-story precision/recall, corpus stories, summary rules and lengths."""
    window = window_hours or _config(ctx).stories.window_hours
    for line in run_eval(window_hours=window, show_clusters=not quiet):
        click.echo(line)


@click.command("eval-summaries")
@click.option("--shared", "shared_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The shared corpus folder (default: ../shared beside the project, or DIGEST_SHARED_DIR).")
@click.option("--max-words", type=click.IntRange(min=10), default=70, show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="List the first summaries that break a rule.")
def summaries_eval_cmd(shared_dir: Path | None, max_words: int, verbose: bool) -> None:
    """Summaries of real text, dev and test halves, beside a lead-3 baseline: rule breaks and lengths."""
    import os

    from digest.eval.content import default_shared_dir
    from digest.eval.summaries import run_summary_eval

    shared = shared_dir or Path(os.environ.get("DIGEST_SHARED_DIR") or default_shared_dir())
    for line in run_summary_eval(shared, max_words=max_words, verbose=verbose):
        click.echo(line)

