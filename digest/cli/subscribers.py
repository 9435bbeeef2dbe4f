"""`digest subscribe`, `unsubscribe` and `subscribers ...`: the readers."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from digest.cli.common import app_context, err, when


# ---- subscribers -------------------------------------------------------------------------------
@click.command("subscribe")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Add as confirmed (an operator adding a known address).")
@click.pass_context
def subscribe_cmd(ctx: click.Context, email: str, confirmed: bool) -> None:
    """Subscribe EMAIL: pending until confirmed; a confirmation mail goes out."""
    from digest.mail.subscribers import normalise_address, send_confirmation

    app = app_context(ctx)
    address = normalise_address(email)
    store = app.open_store()
    sub, changed = store.add_subscriber(address, confirmed=confirmed)
    if sub.status == "confirmed":
        click.echo(f"{address} is confirmed" + ("" if changed else " (already)"))
        return
    if sub.status == "suppressed":
        raise click.ClickException(f"{address} is suppressed ({sub.suppressed_reason or 'hard bounces'}); "
                                   f"`digest subscribers unsuppress {address}` re-activates it")
    send_confirmation(store, app.config, sub)
    click.echo(f"{address} is pending; a confirmation mail was sent")


@click.command("unsubscribe")
@click.argument("email")
@click.pass_context
def unsubscribe_cmd(ctx: click.Context, email: str) -> None:
    """Unsubscribe EMAIL at once."""
    from digest.mail.subscribers import normalise_address

    store = app_context(ctx).open_store()
    address = normalise_address(email)
    sub = store.subscriber(email=address)
    if sub is None:
        raise click.ClickException(f"{address} is not subscribed")
    store.set_subscriber_status(sub.id, "unsubscribed")
    click.echo(f"{address} is unsubscribed")


@click.group("subscribers")
def subscribers_group() -> None:
    """List and import subscribers."""


@subscribers_group.command("list")
@click.option("--status", type=click.Choice(["pending", "confirmed", "unsubscribed", "suppressed"]))
@click.pass_context
def subscribers_list(ctx: click.Context, status: str | None) -> None:
    """List subscribers (address, status, since; for suppressed ones, why and when)."""
    subs = app_context(ctx).open_store().subscribers(status)
    for s in subs:
        line = f"{s.email}\t{s.status}\t{when(s.created_at)}"
        if s.status == "suppressed":
            line += f"\t{when(s.suppressed_at)}\t{s.suppressed_reason or 'no reason recorded'}"
        click.echo(line)
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
    from digest.errors import InvalidAddressError, MailError
    from digest.mail.subscribers import normalise_address, read_address_file, send_confirmation

    app = app_context(ctx)
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


