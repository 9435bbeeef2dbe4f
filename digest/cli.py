"""The `digest` command line: a thin layer over the library. Errors print one line, no traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__, logs
from .config import load_config, mask_url
from .context import AppContext
from .errors import DigestError

err = Console(stderr=True)
out = Console()


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on a terminal; nothing when output is piped."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)
        yield update


class DigestGroup(click.Group):
    """Turns project errors into one-line messages with exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise click.ClickException(mask_url(str(exc))) from None


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="DIGEST_CONFIG",
              help="Settings file (TOML). Default: the packaged config/digest.toml; env DIGEST_CONFIG.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (for log collectors).")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, log_json: bool) -> None:
    """digest: poll cyber news feeds, group stories by threat actor, mail a daily digest.

    \b
    Typical use:
      digest poll                 fetch what is new
      digest send --dry-run       write the next issue to var/outbox/ and show what would go out
      digest subscribe ADDRESS    add a reader (a confirmation mail goes out)
      digest worker               poll and send on the configured schedule
    """
    logs.setup(verbose, log_json)
    try:
        config = load_config(config_path)
    except DigestError as exc:
        raise click.ClickException(mask_url(str(exc))) from None
    ctx.obj = AppContext(config)
    ctx.call_on_close(ctx.obj.close)


def _app(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    assert obj is not None
    return obj


def _feed_specs(app: AppContext) -> list[Any]:
    from .ingest.feedlist import load_feeds_toml

    path = app.config.feeds_path()
    if not path.exists():
        err.print(f"[yellow]feeds file {escape(str(path))} not found; polling the feeds in the database only[/]")
        return []
    return load_feeds_toml(path)


def _run_poll(app: AppContext, *, due_only: bool, quiet: bool = False) -> Any:
    from .ingest.poll import poll

    store = app.open_store()
    with progress_bar(not quiet) as update:
        report = poll(store, app.config, due_only=due_only, progress=update, feed_specs=_feed_specs(app))
    for url, reason in report.errors:
        err.print(f"[yellow]feed failed[/] {escape(url)}: {escape(reason)}", highlight=False, soft_wrap=True)
    click.echo(report.summary())
    from .health import alert_operator

    alerted = alert_operator(store, app.config)
    if alerted:
        err.print(f"[yellow]{len(alerted)} feed(s) flagged; the operator was alerted[/]")
    return report


@cli.command("poll")
@click.option("--due", is_flag=True, help="Only feeds whose poll interval has passed.")
@click.pass_context
def poll_cmd(ctx: click.Context, due: bool) -> None:
    """Fetch the feeds, extract and analyse new articles, store them.

    Feeds from the feeds file (config [feeds] file) are added to the database first. A feed
    that fails is reported and recorded; the run goes on and exits 0.
    """
    _run_poll(_app(ctx), due_only=due)


@cli.command("send")
@click.option("--dry-run", is_flag=True, help="Write the issue to files; send nothing, mark nothing sent.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for --dry-run output (default: var/outbox/<date>/).")
@click.option("--no-poll", is_flag=True, help="Do not poll due feeds first.")
@click.option("--worker", "worker_mode", is_flag=True,
              help="Only help send the issue in progress (several workers share it on PostgreSQL).")
@click.option("--send-empty", is_flag=True, help="Send an issue even when there is nothing new.")
@click.option("--to", "to", metavar="EMAIL", help="With --dry-run: preview what this subscriber would get "
              "(their preferences applied).")
@click.option("--since", "since", metavar="DURATION|DATE", help="With --dry-run: compose over this window "
              "(7d, 36h, 2026-01-05) instead of since the last issue.")
@click.pass_context
def send_cmd(ctx: click.Context, dry_run: bool, out_dir: Path | None, no_poll: bool, worker_mode: bool,
             send_empty: bool, to: str | None, since: str | None) -> None:
    """Compose the next issue and mail it to every confirmed subscriber.

    The issue holds the stories since the last sent issue (or the last 24 hours). Each
    subscriber gets it exactly once: running `send` again, also after a crash, only
    delivers what is still missing.
    """
    from . import issues

    app = _app(ctx)
    if to and not dry_run:
        raise click.UsageError("--to previews one subscriber's issue and needs --dry-run")
    if since and not dry_run:
        raise click.UsageError("--since previews an issue over a window and needs --dry-run")
    start = issues.parse_since(since, issues.utcnow(), app.config.schedule.timezone) if since else None
    store = app.open_store()
    if dry_run:
        if not no_poll:
            _run_poll(app, due_only=True)
        result = issues.dry_run(store, app.config, out_dir, to=to, since=start)
        c = result.content
        click.echo(f"wrote {result.html}")
        click.echo(f"wrote {result.text}")
        click.echo(f"wrote {result.eml}")
        click.echo(f"dry run: {c.counts.get('stories', 0)} stories, {c.counts.get('actors', 0)} actors, "
                   f"{c.counts.get('updates', 0)} updates; would go to {result.recipients} confirmed "
                   f"subscriber{'s' if result.recipients != 1 else ''}; nothing sent")
        return

    from .sending import send_issue

    if not no_poll and not worker_mode and store.open_issue() is None:
        _run_poll(app, due_only=True)
    with progress_bar(True) as update:
        outcome = send_issue(store, app.config, worker=worker_mode, send_empty=send_empty,
                             progress=(lambda d, t: update("sending", d, t)) if update else None)
    if outcome.report is not None:
        for line in outcome.report.errors[:20]:
            err.print(f"[yellow]not delivered[/] {escape(str(line))}", highlight=False)
    click.echo(outcome.message)
    if outcome.waiting:
        ctx.exit(75)  # EX_TEMPFAIL: readers wait for the next run (cron mails the output)


# ---- feeds -------------------------------------------------------------------------------------
@cli.group("feeds")
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
    _feed, created = _app(ctx).open_store().add_feed(url.strip(), name, kind)
    click.echo(f"added {url}" if created else f"already present: {url}")


@feeds_group.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str) -> None:
    """Stop polling the feed at URL (its stored articles are kept)."""
    from .store import Feed

    app = _app(ctx)
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
    from .ingest.feedlist import read_feed_list

    specs, problems = read_feed_list(file)
    store = _app(ctx).open_store()
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
    app = _app(ctx)
    store = app.open_store()
    store.sync_feeds(_feed_specs(app))
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
        table.add_row(escape(r.name or r.url) + ("" if r.active else " (removed)"), r.kind, _when(r.last_success_at),
                      escape((r.last_error or "")[:60]),
                      str(r.consecutive_failures), str(r.article_count))
    out.print(table)
    click.echo(f"{len(rows)} feeds")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


# ---- subscribers -------------------------------------------------------------------------------
@cli.command("subscribe")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Add as confirmed (an operator adding a known address).")
@click.pass_context
def subscribe_cmd(ctx: click.Context, email: str, confirmed: bool) -> None:
    """Subscribe EMAIL: pending until confirmed; a confirmation mail goes out."""
    from .subscribers import normalise_address, send_confirmation

    app = _app(ctx)
    address = normalise_address(email)
    store = app.open_store()
    sub, changed = store.add_subscriber(address, confirmed=confirmed)
    if sub.status == "confirmed":
        click.echo(f"{address} is confirmed" + ("" if changed else " (already)"))
        return
    if sub.status == "suppressed":
        raise click.ClickException(f"{address} is suppressed after repeated hard bounces; "
                                   f"use --confirmed to re-activate it")
    send_confirmation(store, app.config, sub)
    click.echo(f"{address} is pending; a confirmation mail was sent")


@cli.command("unsubscribe")
@click.argument("email")
@click.pass_context
def unsubscribe_cmd(ctx: click.Context, email: str) -> None:
    """Unsubscribe EMAIL at once."""
    from .subscribers import normalise_address

    store = _app(ctx).open_store()
    address = normalise_address(email)
    sub = store.subscriber(email=address)
    if sub is None:
        raise click.ClickException(f"{address} is not subscribed")
    store.set_subscriber_status(sub.id, "unsubscribed")
    click.echo(f"{address} is unsubscribed")


@cli.group("subscribers")
def subscribers_group() -> None:
    """List and import subscribers."""


@subscribers_group.command("list")
@click.option("--status", type=click.Choice(["pending", "confirmed", "unsubscribed", "suppressed"]))
@click.pass_context
def subscribers_list(ctx: click.Context, status: str | None) -> None:
    """List subscribers (address, status, since)."""
    subs = _app(ctx).open_store().subscribers(status)
    for s in subs:
        click.echo(f"{s.email}\t{s.status}\t{_when(s.created_at)}")
    click.echo(f"{len(subs)} subscribers", err=True)


@subscribers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Add as confirmed instead of pending (no confirmation mail).")
@click.pass_context
def subscribers_import(ctx: click.Context, file: Path, confirmed: bool) -> None:
    """Import addresses from FILE (one a line, or CSV with an `email` column).

    Without --confirmed the addresses are pending and each gets a confirmation mail.
    Invalid addresses are reported and skipped.
    """
    from .errors import InvalidAddressError, MailError
    from .subscribers import normalise_address, read_address_file, send_confirmation

    app = _app(ctx)
    store = app.open_store()
    added = invalid = mailed = unchanged = 0
    for n, raw in enumerate(read_address_file(file), start=1):
        try:
            address = normalise_address(raw)
        except InvalidAddressError as exc:
            invalid += 1
            err.print(f"[yellow]skipped line {n}[/]: {escape(str(exc))}", highlight=False)
            continue
        sub, changed = store.add_subscriber(address, confirmed=confirmed)
        added += changed
        unchanged += not changed
        if changed and sub.status == "pending":
            try:
                send_confirmation(store, app.config, sub)
                mailed += 1
            except MailError as exc:
                err.print(f"[yellow]confirmation not sent[/] {escape(address)}: {escape(str(exc))}", highlight=False)
    click.echo(f"imported {file}: {added} added, {unchanged} unchanged, {invalid} invalid"
               + (f", {mailed} confirmation mails sent" if not confirmed else ""))


# ---- worker, status, demo ------------------------------------------------------------------------
@cli.command("worker")
@click.pass_context
def worker_cmd(ctx: click.Context) -> None:
    """Run the scheduler: poll every poll_interval_minutes, send daily at send_time (timezone).

    One run of a job at a time; missed runs are coalesced into one. Stop with Ctrl-C or SIGTERM:
    work in flight finishes first.
    """
    from .worker import run_worker

    run_worker(_app(ctx).config)


@cli.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """Feeds, issues, deliveries and subscribers at a glance."""
    from .status import print_status

    print_status(_app(ctx), out)


@cli.command("demo")
@click.option("--port", default=0, help="Port for the local sample-feed server (0: any free port).")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Working folder for the demo database and outbox.")
def demo_cmd(port: int, workdir: Path) -> None:
    """Offline demo: serve the bundled sample feeds, poll them into a fresh SQLite database, dry-run a send."""
    from .demo import run_demo

    run_demo(workdir, port)


def _mount_optional() -> None:
    """Attach the command groups that live beside their stages."""
    from .intel.actors_cli import actors
    from .intel.analyse_cli import analyse_cmd, eval_editorial_cmd
    from .intel.content_cli import content_eval_cmd, stories, summarize_cmd
    from .intel.kev import kev
    from .intel.summary_eval import summaries_eval_cmd
    from .web.cli import serve_cmd

    cli.add_command(actors)
    cli.add_command(analyse_cmd, "analyse")
    cli.add_command(eval_editorial_cmd, "eval-editorial")
    cli.add_command(kev)
    cli.add_command(summarize_cmd, "summarize")
    cli.add_command(stories, "stories")
    cli.add_command(content_eval_cmd, "eval-content")
    cli.add_command(summaries_eval_cmd, "eval-summaries")
    cli.add_command(serve_cmd, "serve")


_mount_optional()


def main() -> None:
    cli(prog_name="digest")


if __name__ == "__main__":
    main()
