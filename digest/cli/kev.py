"""`digest kev update`: install CISA's Known Exploited Vulnerabilities catalogue."""

from __future__ import annotations

import hashlib
import json

import click

from digest.cli.actors import _install, _read_source
from digest.intel.kev import KEV_FILE, parse_kev

kev = click.Group("kev", help="CISA's Known Exploited Vulnerabilities catalogue: update.")


@kev.command("update")
@click.argument("source")
@click.pass_context
def update_cmd(ctx: click.Context, source: str) -> None:
    """Install CISA's KEV catalogue (FILE or URL); a CVE it lists is flagged exploited."""
    data_bytes = _read_source(source)
    try:
        ids = parse_kev(json.loads(data_bytes.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{source}: not JSON ({str(exc).splitlines()[0]})") from None
    except ValueError as exc:
        raise click.ClickException(f"{source}: {exc}") from None
    kb_dir = ctx.obj.config.path("var/kb")
    _install(kb_dir, KEV_FILE, data_bytes, "kev",
             {"version": hashlib.sha256(data_bytes).hexdigest()[:12], "source": source, "cves": len(ids)})
    click.echo(f"installed the KEV catalogue ({len(ids)} CVEs) into {kb_dir}")
