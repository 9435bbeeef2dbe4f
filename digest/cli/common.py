"""What the command modules share: the consoles, progress bars, the one-line error group and the app context."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from digest.config import mask_url
from digest.context import AppContext
from digest.errors import DigestError

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


def feed_specs(app: AppContext) -> list[Any]:
    from digest.ingest.feedlist import load_feeds_toml

    path = app.config.feeds_path()
    if not path.exists():
        err.print(f"[yellow]feeds file {escape(str(path))} not found; polling the feeds in the database only[/]")
        return []
    return load_feeds_toml(path)


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


