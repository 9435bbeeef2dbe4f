"""`digest worker`, `status` and `demo`: running it."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import app_context, feed_specs, out


# ---- worker, status, demo ------------------------------------------------------------------------
@click.command("worker")
@click.pass_context
def worker_cmd(ctx: click.Context) -> None:
    """Run the scheduler: poll every poll_interval_minutes, send daily at send_time (timezone).

    One run of a job at a time; missed runs are coalesced into one. Stop with Ctrl-C or SIGTERM:
    work in flight finishes first; a second signal stops it at once (what was stored is kept, an
    unfinished send resumes on the next run).

    \b
    Logs go to stderr at INFO (start, each poll and send), with the UTC time, the level and
    the feed or issue a line is about; --log-json writes the same as one JSON object a line.
    A failing feed is polled less often (2x, 4x ... the interval, up to 12 h); the poll line
    says how many feeds were skipped as not due or in backoff, and until when.
    """
    import logging

    from digest import logs
    from digest.ops.worker import run_worker

    logs.at_least(logging.INFO)
    run_worker(app_context(ctx).config)


@click.command("status")
@click.option("--all", "show_all", is_flag=True, help="List every feed and every problem, however many.")
@click.pass_context
def status_cmd(ctx: click.Context, show_all: bool) -> None:
    """Feeds, issues, deliveries and subscribers at a glance.

    The feeds file is read first (as `poll` does), so its feeds count before the first poll.
    Up to 20 feeds are listed; with more, summary counts and the first 10 failing feeds
    (--all lists them all).
    """
    from digest.ops.status import print_status

    app = app_context(ctx)
    specs = feed_specs(app)
    if specs is not None:
        app.open_store().sync_feeds(specs)
    print_status(app, out, show_all=show_all)


@click.command("demo")
@click.option("--port", default=0, help="Port for the local sample-feed server (0: any free port).")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Working folder for the demo database and outbox.")
def demo_cmd(port: int, workdir: Path) -> None:
    """Offline demo: serve the bundled sample feeds, poll them into a fresh SQLite database, dry-run a send."""
    from digest.ops.demo import run_demo

    run_demo(workdir, port)


