"""What the command modules share: the consoles, progress bars, the one-line error group and the app context."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from digest.config import mask_url
from digest.context import AppContext
from digest.errors import DigestError

err = Console(stderr=True)
out = Console()


def _eta(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_lines(stream: Any = None, every: float = 5.0) -> Callable[[str, int, int], None]:
    """Progress as plain lines (for a log or a pipe): "feeds 120/1742 (7%), 14s elapsed, about 3m09s
    left", at most one line per ``every`` seconds per stage, and always the last of each stage."""
    stream = stream or sys.stderr
    started: dict[str, float] = {}
    last: dict[str, float] = {}

    def update(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        t0 = started.setdefault(stage, now)
        if done < total and now - last.get(stage, 0.0) < every:
            return
        last[stage] = now
        elapsed = now - t0
        left = f", about {_eta(elapsed / done * (total - done))} left" if 0 < done < total else ""
        pct = f" ({100 * done // total}%)" if total else ""
        print(f"{stage} {done}/{total}{pct}, {_eta(elapsed)} elapsed{left}", file=stream, flush=True)
    return update


@contextmanager
def progress_bar(enabled: bool, force: bool = False) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar with a time estimate on a terminal; nothing when output is piped, unless
    ``force`` (then plain progress lines on stderr)."""
    if not enabled and not force:
        yield None
        return
    if not sys.stderr.isatty():
        yield progress_lines() if force else None
        return
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(), console=err, transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)
        yield update


class DigestGroup(click.Group):
    """Turns project errors into one-line messages with their exit status (1, or 75 for a relay
    that could not be reached: the readers wait for the next run)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            error = click.ClickException(mask_url(str(exc)))
            error.exit_code = exc.exit_code
            raise error from None

def app_context(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    assert obj is not None
    return obj


def feed_specs(app: AppContext) -> list[Any] | None:
    """The feeds file's feeds; None when there is no file (``[feeds] file = ""``, or not found)."""
    from digest.ingest.feedlist import configured_feeds, feeds_file

    path = feeds_file(app.config)
    if path is not None and not path.exists():
        err.print(f"[yellow]feeds file {escape(str(path))} not found; polling the feeds in the database only[/]")
    return configured_feeds(app.config)


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


