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
    """Subscribe EMAIL: pending until confirmed; a confirmation mail goes out.

    When the mail cannot be sent (no SMTP server reachable) the address is kept as pending, the
    command exits 1, and `digest subscribers resend-confirm` (or the worker) sends it later.
    """
    from digest.errors import MailError
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
    try:
        send_confirmation(store, app.config, sub)
    except MailError as exc:
        raise click.ClickException(
            f"{address} is kept as pending, but its confirmation mail was not sent: {exc}\n"
            f"Send it once the mail server is reachable: digest subscribers resend-confirm {address} "
            f"(a running `digest worker` also retries it after its next poll)") from None
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
    """List, import and re-mail subscribers."""


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
    click.echo(f"{len(subs)} subscriber{'' if len(subs) == 1 else 's'}", err=True)


@subscribers_group.command("resend-confirm")
@click.argument("emails", nargs=-1, metavar="[EMAIL]...")
@click.pass_context
def subscribers_resend_confirm(ctx: click.Context, emails: tuple[str, ...]) -> None:
    """Send the confirmation mails that could not be sent (the mail server was down).

    Without EMAIL: every pending address whose confirmation mail never went out. With EMAIL:
    those pending addresses, mailed again whatever was sent before. Exits 1 when a mail was
    not sent (the address stays pending; run it again later).
    """
    from digest.mail.subscribers import normalise_address, resend_confirmations

    app = app_context(ctx)
    store = app.open_store()
    wanted = [normalise_address(e) for e in emails] if emails else None
    if wanted is not None:
        for address in wanted:
            sub = store.subscriber(email=address)
            if sub is None or sub.status != "pending":
                err.print(f"[yellow]skipped[/] {escape(address)}: "
                          + ("not a subscriber" if sub is None else f"{sub.status}, not pending"), highlight=False)
    report = resend_confirmations(store, app.config, emails=wanted)
    for address in report.sent:
        click.echo(f"sent {address}")
    for address, reason in report.failed:
        err.print(f"[yellow]not sent[/] {escape(address)}: {escape(reason)}", highlight=False, soft_wrap=True)
    click.echo(report.summary())
    if report.failed:
        ctx.exit(1)


@subscribers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Add as confirmed instead of pending (no confirmation mail).")
@click.pass_context
def subscribers_import(ctx: click.Context, file: Path, confirmed: bool) -> None:
    """Import addresses from FILE (one a line, or CSV with an `email` column, as `subscribers export` writes).

    Without --confirmed the addresses are pending and each gets a confirmation mail. A CSV
    `status` column of unsubscribed or suppressed is kept (those addresses get no mail); confirmed
    needs --confirmed. Invalid addresses are reported and skipped; a binary file is an error.
    """
    from digest.errors import InvalidAddressError, MailError
    from digest.mail.subscribers import normalise_address, read_subscriber_file, send_confirmation

    app = app_context(ctx)
    rows = read_subscriber_file(file)
    store = app.open_store()
    added = invalid = mailed = unchanged = opted_out = 0
    for n, (raw, status) in enumerate(rows, start=1):
        try:
            address = normalise_address(raw)
        except InvalidAddressError as exc:
            invalid += 1
            err.print(f"[yellow]skipped line {n}[/]: {escape(str(exc))}", highlight=False)
            continue
        if status in ("unsubscribed", "suppressed"):  # an opt-out travels with the address
            existing = store.subscriber(email=address)
            if existing is None:
                existing, _ = store.add_subscriber(address)
                added += 1
            if existing.status != status:
                store.set_subscriber_status(existing.id, status)
            opted_out += 1
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
               + (f", {opted_out} kept as unsubscribed or suppressed" if opted_out else "")
               + (f", {mailed} confirmation mails sent" if not confirmed else ""))
    unsent = added - mailed if not confirmed else 0
    if unsent > 0:
        err.print(f"[yellow]{unsent} confirmation mail(s) not sent[/]: those addresses are kept as pending; send them "
                  "with `digest subscribers resend-confirm` once the mail server is reachable (the worker retries too)",
                  highlight=False, soft_wrap=True)


@subscribers_group.command("export")
@click.argument("dest", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default="-")
@click.option("--status", type=click.Choice(["pending", "confirmed", "unsubscribed", "suppressed"]),
              help="Only subscribers with this status.")
@click.pass_context
def subscribers_export(ctx: click.Context, dest: Path, status: str | None) -> None:
    """Write subscribers as CSV (email, status, created_at) to DEST (default: stdout).

    `subscribers import` reads it back (with --confirmed to keep confirmed readers confirmed).
    """
    from digest.mail.subscribers import write_subscriber_csv

    subs = app_context(ctx).open_store().subscribers(status)
    data = write_subscriber_csv(subs)
    if str(dest) == "-":
        click.echo(data, nl=False)
    else:
        from digest.private import write_private

        write_private(dest, data)  # a mailing list is personal data: 0600
        click.echo(f"wrote {len(subs)} subscribers to {dest}", err=True)


def _mount_unsuppress() -> None:
    from digest.cli.bounces import unsuppress_cmd  # it lives with the bounce commands

    subscribers_group.add_command(unsuppress_cmd, "unsuppress")


_mount_unsuppress()
