"""`digest bounces process|fetch|list` and `subscribers unsuppress`: the bounce intake by hand."""

from __future__ import annotations

import os
import sys

import click
from rich.markup import escape

from digest.cli.common import app_context, err, when

EX_NOINPUT = 66
EX_TEMPFAIL = 75
#: a bounce is read up to this size: its status is at the top (headers, the DSN part); what a hostile or
#: runaway sender pipes beyond it is not read into memory
MAX_BOUNCE_BYTES = 10_000_000


@click.group("bounces")
def bounces_group() -> None:
    """Read bounces and complaints: one message (a pipe alias), the bounce mailbox, the record."""


@bounces_group.command("process")
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--recipient", "recipients", multiple=True, metavar="ADDRESS",
              help="The envelope recipient (bounces+TOKEN@domain). Default: $ORIGINAL_RECIPIENT or $RECIPIENT "
                   "as Postfix and Exim set them for a pipe, else the message's Delivered-To/To headers.")
@click.pass_context
def process_cmd(ctx: click.Context, file: str, recipients: tuple[str, ...]) -> None:
    """Process one bounce, complaint or auto-reply from FILE or standard input (`-`).

    For an MTA pipe alias, e.g. in /etc/aliases:
    bounces: "|/path/to/digest --config /etc/digest.toml bounces process"
    (route bounces+*@domain to it: recipient_delimiter = + in Postfix).

    \b
    Exit status:
      0   handled: recorded (and scored), or not understood / forged and kept
          in bounces.aside_dir for a person to look at; one line says which
      66  FILE cannot be read
      75  the database is unavailable: the MTA keeps the message and retries
      1   configuration error
    """
    from sqlalchemy.exc import SQLAlchemyError

    from digest.errors import StoreError
    from digest.mail.intake import Intake
    from digest.mail.mailbox import keep_aside

    app = app_context(ctx)
    try:
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        with stream:
            raw = stream.read(MAX_BOUNCE_BYTES + 1)
            cut = len(raw) > MAX_BOUNCE_BYTES
            if cut:
                raw = raw[:MAX_BOUNCE_BYTES]
                while stream.read(1 << 20):  # drain the rest, so the MTA's pipe does not fail
                    pass
    except OSError as exc:
        err.print(f"bounces process: cannot read {escape(file)}: {escape(exc.strerror or str(exc))}", highlight=False)
        ctx.exit(EX_NOINPUT)
    if cut:
        click.echo(f"bounces process: message over {MAX_BOUNCE_BYTES:,} bytes; only its first "
                   f"{MAX_BOUNCE_BYTES:,} bytes are read", err=True)
    envelope = list(recipients) or [v for v in (os.environ.get("ORIGINAL_RECIPIENT"), os.environ.get("RECIPIENT"))
                                    if v]
    try:
        store = app.open_store()
        result = Intake(store, app.config).process_message(raw, "pipe", envelope=envelope)
    except (StoreError, SQLAlchemyError) as exc:
        reason = " ".join(str(exc).split())[:200]
        err.print(f"bounces process: database unavailable, try again later: {escape(reason)}", highlight=False)
        ctx.exit(EX_TEMPFAIL)
    if not result.understood:
        key = keep_aside(app.config, raw)
        click.echo(f"set aside: {result.line()} (kept as {app.config.bounces.aside_dir}/new/{key})")
        return
    click.echo(result.line())


@bounces_group.command("fetch")
@click.pass_context
def fetch_cmd(ctx: click.Context) -> None:
    """Read the bounce mailbox once ([bounces] mailbox: imap, pop3, maildir or mbox).

    Understood messages are deleted after they are recorded; what is not understood is moved aside
    (bounces.aside), never deleted. Run it from cron, e.g. every 10 minutes.
    """
    from digest.mail.mailbox import fetch

    app = app_context(ctx)
    report = fetch(app.open_store(), app.config)
    for r in report.results:
        if not r.understood:
            err.print(f"[yellow]moved aside[/] {escape(r.line())}", highlight=False)
    click.echo(report.summary())


@bounces_group.command("list")
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@click.option("--kind", type=click.Choice(["hard", "soft", "complaint", "delayed", "autoreply", "ignored",
                                           "unknown"]), help="Only this kind.")
@click.pass_context
def list_cmd(ctx: click.Context, limit: int, kind: str | None) -> None:
    """The latest bounce events: when, source, kind, outcome, address, status, subscriber."""
    from sqlalchemy import select

    from digest.store import BounceEvent, Subscriber

    store = app_context(ctx).open_store()
    with store.session() as s:
        q = (select(BounceEvent, Subscriber.email).outerjoin(Subscriber, Subscriber.id == BounceEvent.subscriber_id)
             .order_by(BounceEvent.id.desc()).limit(limit))
        if kind:
            q = q.where(BounceEvent.kind == kind)
        rows = s.execute(q).all()
        lines = [f"{when(e.received_at)}\t{e.source}\t{e.kind}\t{e.outcome}\t{email or e.address or '-'}\t"
                 f"{e.status or '-'}\t{' '.join(e.detail.split())[:120]}" for e, email in rows]
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} events", err=True)


@click.command("unsuppress")
@click.argument("email")
@click.pass_context
def unsuppress_cmd(ctx: click.Context, email: str) -> None:
    """Make a suppressed address confirmed again, its bounce score cleared."""
    from sqlalchemy import select

    from digest.mail import suppress
    from digest.mail.subscribers import normalise_address
    from digest.store import Subscriber

    address = normalise_address(email)
    store = app_context(ctx).open_store()
    with store.session() as s:
        sub = s.scalar(select(Subscriber).where(Subscriber.email == address))
        if sub is None:
            raise click.ClickException(f"{address} is not a subscriber")
        was, reason = sub.status, sub.suppressed_reason
        if not suppress.unsuppress(s, sub):
            raise click.ClickException(f"{address} is not suppressed (it is {was})")
    click.echo(f"{address} is confirmed again (was suppressed: {reason or 'no reason recorded'})")
