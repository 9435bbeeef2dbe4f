"""`digest feeds ...`: the feeds that are polled."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from digest.cli.common import app_context, err, feed_specs, out, when


# ---- feeds -------------------------------------------------------------------------------------
@click.group("feeds")
def feeds_group() -> None:
    """Manage the feeds that are polled."""


@feeds_group.command("add")
@click.argument("url")
@click.option("--name", default="", help="Display name (default: the feed's own title).")
@click.option("--kind", type=click.Choice(["news", "vendor", "government"]), default="news", show_default=True)
@click.pass_context
def feeds_add(ctx: click.Context, url: str, name: str, kind: str) -> None:
    """Add a feed by URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.ClickException(f"not a feed URL: {url!r} (expected http:// or https:// with a host)")
    _feed, created = app_context(ctx).open_store().add_feed(url.strip(), name, kind)
    click.echo(f"added {url}" if created else f"already present: {url}")


@feeds_group.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str) -> None:
    """Stop polling the feed at URL (its stored articles are kept)."""
    from digest.store import Feed

    app = app_context(ctx)
    store = app.open_store()
    with store.session() as s:
        feed = s.query(Feed).filter(Feed.url == url.strip()).one_or_none()
        if feed is None:
            raise click.ClickException(f"no feed with URL {url!r}; `digest feeds list` shows them")
        feed.active = False
    click.echo(f"removed {url}: it is no longer polled; its articles are kept")
    path = app.config.feeds_path()
    if path.exists() and url.strip() in path.read_text(encoding="utf-8", errors="replace"):
        err.print(f"[yellow]note[/]: {escape(str(path))} still lists it; delete it there too, or it stays in the list as removed")


@feeds_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def feeds_import(ctx: click.Context, file: Path) -> None:
    """Add the feeds in FILE: OPML, a feeds.toml, or one URL a line."""
    from digest.ingest.feedlist import read_feed_list

    specs, problems = read_feed_list(file)
    store = app_context(ctx).open_store()
    added = sum(1 for spec in specs if store.add_feed(spec.url, spec.name, spec.kind)[1])
    for p in problems[:50]:
        err.print(f"[yellow]skipped[/] {escape(str(p))}", highlight=False)
    if len(problems) > 50:
        err.print(f"... and {len(problems) - 50} more skipped")
    click.echo(f"imported {file}: {added} added, {len(specs) - added} already present, {len(problems)} skipped")


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """List feeds with last success, last error and article count.

    Feeds in the feeds file (config [feeds] file) are added to the database first, as `poll` does.
    """
    app = app_context(ctx)
    store = app.open_store()
    store.sync_feeds(feed_specs(app))
    rows = store.feed_rows()
    if as_json:
        for r in rows:
            click.echo(json.dumps({"url": r.url, "name": r.name, "kind": r.kind,
                                   "last_success": r.last_success_at.isoformat() if r.last_success_at else None,
                                   "last_error": r.last_error, "consecutive_failures": r.consecutive_failures,
                                   "articles": r.article_count, "active": r.active}))
        return
    table = Table(show_lines=False)
    for col in ("feed", "kind", "last success", "last error", "fails", "articles"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(escape(r.name or r.url) + ("" if r.active else " (removed)"), r.kind, when(r.last_success_at),
                      escape((r.last_error or "")[:60]),
                      str(r.consecutive_failures), str(r.article_count))
    out.print(table)
    click.echo(f"{len(rows)} feeds")
