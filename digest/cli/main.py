"""The `digest` command line: a thin layer over the library. Errors print one line, no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from digest import __version__, logs
from digest.cli.common import DigestGroup, app_context, err, feed_specs, progress_bar
from digest.config import load_config, mask_url
from digest.context import AppContext
from digest.errors import DigestError


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
        failure = click.ClickException(mask_url(str(exc)))
        if ctx.invoked_subcommand == "poll":  # poll's exit 2: nothing could run
            failure.exit_code = 2
        raise failure from None
    ctx.obj = AppContext(config)
    ctx.call_on_close(ctx.obj.close)


def _run_poll(app: AppContext, *, due_only: bool, quiet: bool = False, progress: bool | None = None) -> Any:
    from digest.ingest.poll import poll

    store = app.open_store()
    with progress_bar(not quiet and progress is not False, force=bool(progress)) as update:
        report = poll(store, app.config, due_only=due_only, progress=update, feed_specs=feed_specs(app))
    for url, reason in report.errors:
        err.print(f"[yellow]feed failed[/] {escape(url)}: {escape(reason)}", highlight=False, soft_wrap=True)
    click.echo(report.summary())
    from digest.ops.health import alert_operator

    alerted = alert_operator(store, app.config)
    if alerted:
        err.print(f"[yellow]{len(alerted)} feed(s) flagged; the operator was alerted[/]")
    return report


@cli.command("poll")
@click.option("--due", is_flag=True, help="Only feeds whose poll interval has passed; a failing feed backs off "
              "(2x, 4x ... the interval, at most 12 h). The summary says how many were skipped and until when.")
@click.option("--progress/--no-progress", default=None,
              help="Progress and a time estimate on stderr (default: only when stderr is a terminal, "
                   "so cron stays quiet; --progress prints plain lines to a pipe or log).")
@click.pass_context
def poll_cmd(ctx: click.Context, due: bool, progress: bool | None) -> None:
    """Fetch the feeds, extract and analyse new articles, store them.

    The feeds file (config [feeds] file) is synced first: its feeds are added, and those it no
    longer lists stop being polled. A feed that fails is reported on stderr and recorded; the
    run goes on.

    \b
    Exit status (for cron and monitoring):
      0  every feed polled (or, with --due, none was due yet)
      1  some feeds failed; the others were polled
      2  every feed failed, or nothing could run (no feeds, bad config, database down)
    """
    app = app_context(ctx)
    try:
        report = _run_poll(app, due_only=due, progress=progress)
    except DigestError as exc:
        err.print(f"[red]poll failed[/]: {escape(mask_url(str(exc)))}", highlight=False, soft_wrap=True)
        ctx.exit(2)
    if report.feeds == 0:
        if app.open_store().feeds():
            click.echo("no feed is due yet" if due else "nothing polled")
            ctx.exit(0 if due else 2)
        err.print("nothing to poll: no feeds (list them in the feeds file, or `digest feeds add URL`)")
        ctx.exit(2)
    ctx.exit(poll_exit_code(report.feeds, report.failed))


def poll_exit_code(feeds: int, failed: int) -> int:
    """0 all polled, 1 some failed, 2 all failed (or none ran)."""
    if feeds == 0 or failed >= feeds:
        return 2
    return 1 if failed else 0


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

    app = app_context(ctx)
    if to and not dry_run:
        raise click.UsageError("--to previews one subscriber's issue and needs --dry-run")
    if since and not dry_run:
        raise click.UsageError("--since previews an issue over a window and needs --dry-run")
    if since or dry_run:  # the composer and renderer; a plain send of an open issue does without them
        from digest.issue import build as issues
    start = issues.parse_since(since, issues.utcnow(), app.config.schedule.timezone) if since else None
    store = app.open_store()
    from digest.ops.status import compliance_warnings

    for line in compliance_warnings(app.config):
        err.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
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

    from digest.mail.send import send_issue

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


#: the commands of the other command modules: name -> (module, attribute), imported when used
_LAZY = {
    "actors": ("digest.cli.actors", "actors"),
    "feeds": ("digest.cli.feeds", "feeds_group"),
    "subscribe": ("digest.cli.subscribers", "subscribe_cmd"),
    "unsubscribe": ("digest.cli.subscribers", "unsubscribe_cmd"),
    "subscribers": ("digest.cli.subscribers", "subscribers_group"),
    "bounces": ("digest.cli.bounces", "bounces_group"),
    "worker": ("digest.cli.ops", "worker_cmd"),
    "status": ("digest.cli.ops", "status_cmd"),
    "demo": ("digest.cli.ops", "demo_cmd"),
    "analyse": ("digest.cli.analyse", "analyse_cmd"),
    "eval-editorial": ("digest.cli.analyse", "eval_editorial_cmd"),
    "kev": ("digest.cli.kev", "kev"),
    "summarize": ("digest.cli.content", "summarize_cmd"),
    "stories": ("digest.cli.content", "stories"),
    "eval-content": ("digest.cli.content", "content_eval_cmd"),
    "eval-summaries": ("digest.cli.content", "summaries_eval_cmd"),
    "serve": ("digest.cli.web", "serve_cmd"),
}


class _LazyCommands(dict[str, click.Command]):
    """click's table of commands, importing a command's module only when that command is looked up.

    `digest poll` and `digest send` then skip the imports of the analysis, evaluation and web
    commands (numpy, the clustering and evaluation modules: a noticeable part of their start-up).
    Listing the table (``--help``, ``items()``) imports everything, so it reads as a plain dict.
    """

    def __init__(self, base: dict[str, click.Command], lazy: dict[str, tuple[str, str]]) -> None:
        super().__init__(base)
        self._lazy = dict(lazy)

    def _load(self, name: str) -> None:
        spec = self._lazy.pop(name, None)
        if spec is not None:
            import importlib

            super().__setitem__(name, getattr(importlib.import_module(spec[0]), spec[1]))

    def _load_all(self) -> None:
        for name in list(self._lazy):
            self._load(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        self._load(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> click.Command:
        self._load(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or super().__contains__(name)

    def __iter__(self) -> Any:
        return iter([*super().keys(), *self._lazy])

    def __len__(self) -> int:
        return super().__len__() + len(self._lazy)

    def keys(self) -> Any:  # type: ignore[override]
        return list(self)

    def items(self) -> Any:  # type: ignore[override]
        self._load_all()
        return super().items()

    def values(self) -> Any:  # type: ignore[override]
        self._load_all()
        return super().values()


cli.commands = _LazyCommands(cli.commands, _LAZY)


def main() -> None:
    cli(prog_name="digest")


if __name__ == "__main__":
    main()
