"""`digest serve [--host H] [--port P]`: the web app on uvicorn.

Mounted by digest/cli/main.py. Also runnable alone, e.g. ``python -m digest.cli.web --config F serve``.
"""

from __future__ import annotations

import logging

import click

from digest.context import AppContext
from digest.errors import DigestError


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on. Default: web.host (127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="TCP port. Default: web.port (8000).")
@click.option("--proxy-ips", default="127.0.0.1", show_default=True,
              help="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted "
                   "(the client address is what sign-up rate limits count).")
@click.pass_context
def serve_cmd(ctx: click.Context, host: str | None, port: int | None, proxy_ips: str) -> None:
    """Serve the sign-up, confirm, unsubscribe, preferences, archive and feed pages.

    \b
    Routes: / and /subscribe, /confirm/<token>, /unsubscribe/<token>, /preferences/<token>,
    /archive/, /archive/<id>, /feed.xml, /healthz. Put a TLS proxy in front for public use and set
    newsletter.base_url to its public URL: every link in the mails points there (a local base URL
    on another port than this server's is warned about). Requests are logged (the access log, at
    INFO, link tokens masked).
    """
    import uvicorn

    from digest.web.app import create_app

    obj = ctx.find_object(AppContext)
    if obj is None:
        raise click.ClickException("serve: no configuration loaded")
    config = obj.config
    app = create_app(config, obj.open_store())
    host = host or config.web.host
    port = port or config.web.port
    from digest import logs

    logs.at_least(logging.INFO)  # a server logs its requests (the access log) and start-up by default
    root_level = logging.getLogger().getEffectiveLevel()
    click.echo(f"digest: serving {config.newsletter.title} on http://{host}:{port}/ "
               f"(public URL {config.newsletter.base_url}: links in mail point there)", err=True)
    mismatch = base_url_mismatch(config.newsletter.base_url, host, port)
    if mismatch:
        logging.getLogger("digest.web").warning("%s", mismatch)
    # log_config=None: uvicorn's lines (the access log with -v) go through our handler, its format
    # (--log-json too) and its filter, which masks link tokens; uvicorn's own config would bypass it
    uvicorn.run(app, host=host, port=port, proxy_headers=True, forwarded_allow_ips=proxy_ips,
                server_header=False, date_header=True, ws="none", lifespan="on", log_config=None,
                log_level="info" if root_level <= logging.INFO else "warning",
                access_log=root_level <= logging.INFO)


def base_url_mismatch(base_url: str, host: str, port: int) -> str:
    """A warning when newsletter.base_url names this machine on another port than the one served.

    A public base URL (a proxy in front, on 443) is the normal case and says nothing here; a local
    one on another port means every link in the mails (confirm, unsubscribe, archive) leads nowhere.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    local = {"127.0.0.1", "localhost", "::1", "0.0.0.0", host}
    base_port = parts.port or (443 if parts.scheme == "https" else 80)
    if (parts.hostname or "") in local and base_port != port:
        return (f"newsletter.base_url is {base_url}, but this server listens on port {port}: mail links "
                f"(confirm, unsubscribe, archive) point to {base_url}; set [newsletter] base_url (or "
                f"DIGEST_NEWSLETTER_BASE_URL) to http://{parts.hostname}:{port} if that is where readers reach it")
    return ""


class _Group(click.Group):
    """Project errors (a database that cannot be opened, ...) as one line with exit status 1, as `digest` does."""

    def invoke(self, ctx: click.Context) -> object:
        from digest.config import mask_url

        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise click.ClickException(mask_url(str(exc))) from None


@click.group(cls=_Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="DIGEST_CONFIG")
@click.option("-v", "--verbose", count=True)
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Stand-alone entry point for the web command (the same as `digest serve`)."""
    from digest import logs
    from digest.config import load_config, mask_url

    logs.setup(verbose)
    try:
        ctx.obj = AppContext(load_config(config_path))
    except DigestError as exc:
        raise click.ClickException(mask_url(str(exc))) from None
    ctx.call_on_close(ctx.obj.close)


main.add_command(serve_cmd)

if __name__ == "__main__":
    main()
