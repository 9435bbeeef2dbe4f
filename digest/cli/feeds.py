"""`digest feeds ...`: the feeds that are polled.

Two kinds of feed, shown as ``origin`` by `feeds list`: those of the feeds file (config
``[feeds] file``), which the file decides (a feed taken out of the file is no longer polled,
its articles are kept), and those added by `feeds add` / `feeds import`, which stay until
`feeds remove`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from digest.cli.common import app_context, err, feed_specs, out, when

MAX_SHOWN_PROBLEMS = 50


# ---- feeds -------------------------------------------------------------------------------------
@click.group("feeds")
def feeds_group() -> None:
    """Manage the feeds that are polled (the feeds file's, and those added by command)."""


@feeds_group.command("add")
@click.argument("url")
@click.option("--name", default="", help="Display name (default: the feed's own title).")
@click.option("--kind", type=click.Choice(["news", "vendor", "government"]), default="news", show_default=True)
@click.option("--category", default="", help="A category (the folder of `feeds export`).")
@click.option("--no-check", is_flag=True,
              help="Do not fetch it now (offline); it is checked at the first poll. A web page is not resolved.")
@click.pass_context
def feeds_add(ctx: click.Context, url: str, name: str, kind: str, category: str, no_check: bool) -> None:
    """Add a feed by URL, or by a web site whose page names its feed.

    The URL is fetched once through the same guard as polling (an address polling refuses, such
    as loopback or a private network, is refused unless feeds.allow_private_networks is set). A
    web page is resolved to the feed its <link rel="alternate"> names. Without a scheme,
    https:// is assumed (example.org/feed).
    """
    from digest.errors import FeedError
    from digest.ingest.discover import find_feed, literal_problem
    from digest.ingest.urls import normalise_url

    app = app_context(ctx)
    try:
        clean = normalise_url(url, assume_https=True)
    except ValueError as exc:
        raise click.ClickException(f"not a feed URL: {url!r}: {exc}") from None
    store = app.open_store()
    known = store.find_feed(clean)
    if known is not None and known.active:  # nothing to fetch
        origin = "the feeds file" if known.origin == "file" else "a command"
        click.echo(f"already present: {known.url} (added by {origin})")
        return
    if no_check:
        problem = literal_problem(clean, app.config.feeds)
        if problem:
            raise click.ClickException(f"{clean}: {problem}")
        found_name = ""
    else:
        try:
            found = find_feed(clean, app.config.feeds)
        except FeedError as exc:
            raise click.ClickException(f"{clean}: {exc.reason}" + ("" if "refused" in exc.reason else
                                       " (--no-check adds it without fetching)")) from None
        if found.page:
            click.echo(f"{found.page} is a web page; its feed is {found.url}")
        click.echo(f"found the feed {found.title or '(no title)'!r}: {found.entries} entries")
        clean, found_name = found.url, found.title
    feed, created = store.add_feed(clean, name or found_name, kind, category=category)
    if created:
        click.echo(f"added {feed.url}")
    else:
        origin = "the feeds file" if feed.origin == "file" else "a command"
        click.echo(f"already present: {feed.url} (added by {origin})")


@feeds_group.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str) -> None:
    """Stop polling the feed at URL (its stored articles are kept).

    A feed of the feeds file is removed by deleting it from the file.
    """
    from digest.ingest.urls import feed_key, normalise_url
    from digest.store import Feed

    app = app_context(ctx)
    store = app.open_store()
    try:
        key = feed_key(normalise_url(url, assume_https=True))
    except ValueError:
        key = url.strip()
    with store.session() as s:
        feed = next((f for f in s.query(Feed) if f.url == url.strip() or feed_key(f.url) == key), None)
        if feed is None:
            raise click.ClickException(f"no feed with URL {url!r}; `digest feeds list` shows them")
        if feed.origin == "file" and feed.active:
            path = app.config.feeds_path()
            raise click.ClickException(f"{feed.url} is listed in the feeds file {path}: delete it there "
                                       f"(the file decides which of its feeds are polled)")
        feed.active = False
        shown = feed.url
    click.echo(f"removed {shown}: it is no longer polled; its articles are kept")


@feeds_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def feeds_import(ctx: click.Context, file: Path) -> None:
    """Add the feeds in FILE: OPML, a feeds.toml, CSV with a URL column, or one URL a line.

    URLs are normalised (scheme and host case, default ports, tracking parameters); those that
    differ only by http/https or a trailing slash are one feed, and the duplicates are reported.
    OPML folders become the feeds' categories (a folder naming vendors or government sets the
    kind). A file that is not a feed list (binary, broken or empty) is an error (exit 1).
    """
    from digest.ingest.feedlist import read_feed_list

    specs, problems = read_feed_list(file)
    shown = problems[:MAX_SHOWN_PROBLEMS]
    for p in shown:
        err.print(f"[yellow]skipped[/] {escape(str(p))}", highlight=False)
    if len(problems) > len(shown):
        err.print(f"... and {len(problems) - len(shown)} more skipped")
    if not specs:
        raise click.ClickException(f"{file}: no usable feed in it"
                                   + (f" ({len(problems)} entries skipped)" if problems else " (it lists none)"))
    store = app_context(ctx).open_store()
    results = store.add_feeds(specs)
    added = sum(1 for _s, status, _u in results if status in ("added", "returned"))
    present = [(spec.url, stored) for spec, status, stored in results if status == "present"]
    for given, stored in present[:MAX_SHOWN_PROBLEMS]:
        if given != stored:
            err.print(f"[yellow]duplicate[/] {escape(given)}: already present as {escape(stored)}", highlight=False)
    dups = sum(1 for p in problems if ": duplicate of " in p)
    click.echo(f"imported {file}: {added} added, {len(present)} already present, "
               f"{len(problems)} skipped ({dups} duplicates within the file)")


@feeds_group.command("export")
@click.argument("dest", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default="-")
@click.pass_context
def feeds_export(ctx: click.Context, dest: Path) -> None:
    """Write the polled feeds as OPML to DEST (default: stdout); `feeds import` reads it back."""
    from digest.ingest.export import to_opml

    app = app_context(ctx)
    store = app.open_store()
    specs = feed_specs(app)
    if specs is not None:
        store.sync_feeds(specs)
    rows = [r for r in store.feed_rows() if r.active]
    data = to_opml(rows, title=f"{app.config.newsletter.title} feeds")
    if str(dest) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        dest.write_bytes(data)
        click.echo(f"wrote {len(rows)} feeds to {dest}", err=True)


def _state(r: object) -> str:
    if not getattr(r, "active", True):
        return "removed"
    if getattr(r, "consecutive_failures", 0):
        return "failing"
    return "ok" if getattr(r, "last_success_at", None) else "new"


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.option("--active", "active_only", is_flag=True, help="Only the feeds that are polled.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool, active_only: bool) -> None:
    """List feeds: URL, name, origin (file or command), state, last success, failures, articles.

    Feeds in the feeds file (config [feeds] file) are synced first, as `poll` does. State is ok,
    new (never polled), failing, or removed (no longer polled; its articles are kept).
    """
    app = app_context(ctx)
    store = app.open_store()
    specs = feed_specs(app)
    if specs is not None:
        store.sync_feeds(specs)
    rows = [r for r in store.feed_rows() if r.active or not active_only]
    if as_json:
        for r in rows:
            click.echo(json.dumps({"url": r.url, "name": r.name, "kind": r.kind, "category": r.category,
                                   "origin": r.origin, "state": _state(r),
                                   "last_success": r.last_success_at.isoformat() if r.last_success_at else None,
                                   "last_error": r.last_error, "consecutive_failures": r.consecutive_failures,
                                   "articles": r.article_count, "active": r.active}))
        return
    if not out.is_terminal:  # piped: one tab-separated line per feed, whole URLs (for grep, cut, awk)
        click.echo("url\tname\torigin\tstate\tlast success\tfails\tarticles")
        for r in rows:
            click.echo("\t".join((r.url, r.name.replace("\t", " "), r.origin, _state(r), when(r.last_success_at),
                                  str(r.consecutive_failures), str(r.article_count))))
    else:
        _table(rows)
    counts = {o: sum(1 for r in rows if r.origin == o and r.active) for o in ("file", "command")}
    removed = sum(1 for r in rows if not r.active)
    click.echo(f"{len(rows)} feeds: {counts['file']} from the feeds file, {counts['command']} added by command"
               + (f", {removed} removed" if removed else ""))


def _table(rows: list[Any]) -> None:
    table = Table(show_lines=False)
    table.add_column("url", overflow="fold", ratio=3)
    table.add_column("name", overflow="fold", ratio=2)
    for col in ("origin", "state", "last success", "fails", "articles"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(escape(r.url), escape(r.name), r.origin, _state(r), when(r.last_success_at),
                      str(r.consecutive_failures), str(r.article_count))
    out.print(table, soft_wrap=False)
