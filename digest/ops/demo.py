"""`digest demo` / `make demo`: the whole pipeline offline on the bundled sample feeds.

Serves ``config/demo/`` on 127.0.0.1 (placeholders ``__BASE_URL__``, ``__DATE_MINUS_<N>H__`` and
``__ISO_MINUS_<N>H__`` are filled in as each file is served, so the sample is always fresh),
polls it into a new SQLite database and runs ``send --dry-run``.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from digest.private import private_dir
from digest.resources import config_dir

_PLACEHOLDER = re.compile(r"__(DATE|ISO)_MINUS_(\d+)H__")


def fill(text: str, base_url: str, now: datetime) -> str:
    def repl(m: re.Match[str]) -> str:
        when = now - timedelta(hours=int(m.group(2)))
        return format_datetime(when) if m.group(1) == "DATE" else when.isoformat(timespec="seconds")

    return _PLACEHOLDER.sub(repl, text.replace("__BASE_URL__", base_url))


@contextmanager
def serve_demo(root: Path | None = None, port: int = 0) -> Iterator[str]:
    """Serve the demo folder on 127.0.0.1; yields the base URL."""
    root = root or config_dir() / "demo"
    now = datetime.now(UTC).replace(microsecond=0)
    state: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            path = (root / rel).resolve()
            if root.resolve() not in path.parents or not path.is_file():
                self.send_error(404)
                return
            body = fill(path.read_text(encoding="utf-8"), state["base"], now).encode("utf-8")
            ctype = "application/rss+xml" if path.suffix == ".xml" else "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["base"]
    finally:
        server.shutdown()
        server.server_close()


def demo_feed_urls(base_url: str, root: Path | None = None) -> list[tuple[str, str, str]]:
    """(url, name, kind) of every demo feed, from config/demo/feeds.toml."""
    import tomllib

    root = root or config_dir() / "demo"
    data = tomllib.loads((root / "feeds.toml").read_text(encoding="utf-8"))
    return [(f["url"].replace("__BASE_URL__", base_url), f.get("name", ""), f.get("kind", "news"))
            for f in data.get("feed", [])]


def write_demo_config(workdir: Path, base_url: str) -> Path:
    private_dir(workdir)  # its database and outbox hold a token key and live links
    feeds = "\n".join(f'[[feed]]\nname = "{n}"\nurl = "{u}"\nkind = "{k}"\n' for u, n, k in demo_feed_urls(base_url))
    (workdir / "feeds.toml").write_text(feeds, encoding="utf-8")
    cfg = workdir / "digest.toml"
    cfg.write_text(
        "# written by `digest demo`\n"
        "[newsletter]\ntitle = \"Cyber Digest (demo)\"\n"
        "[database]\n"
        f"url = \"sqlite:///{(workdir / 'demo.db').resolve()}\"\n"
        f"[feeds]\nfile = \"{(workdir / 'feeds.toml').resolve()}\"\nallow_private_networks = true\n"
        "extract_workers = 2\n"
        f"[outbox]\ndir = \"{(workdir / 'outbox').resolve()}\"\n",
        encoding="utf-8")
    return cfg


def run_demo(workdir: Path, port: int = 0) -> None:
    from digest.config import load_config
    from digest.ingest.feedlist import load_feeds_toml
    from digest.ingest.poll import poll
    from digest.issue import build as issues
    from digest.store import Store

    workdir = workdir.resolve()
    for stale in ("demo.db", "demo.db-wal", "demo.db-shm", "outbox"):
        p = workdir / stale
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    t0 = time.perf_counter()
    with serve_demo(port=port) as base:
        cfg_path = write_demo_config(workdir, base)
        config = load_config(cfg_path)
        store = Store.open(config)
        try:
            click.echo(f"serving the sample feeds on {base}")
            report = poll(store, config, feed_specs=load_feeds_toml(config.path(config.feeds.file)))
            click.echo(report.summary())
            for url, reason in report.errors:
                click.echo(f"  feed failed {url}: {reason}")
            store.add_subscriber("reader@example.org", confirmed=True)
            result = issues.dry_run(store, config)
        finally:
            store.close()
    c = result.content
    actors = [s.title for s in c.sections if s.actor]
    click.echo(f"dry run: {c.counts.get('stories', 0)} stories, {c.counts.get('actors', 0)} actors "
               f"({', '.join(actors) or 'none'}); would go to {result.recipients} confirmed subscriber(s); "
               f"nothing sent")
    click.echo(f"the digest is in {result.out_dir}/")
    click.echo(f"  open {result.html}")
    click.echo(f"  text {result.text}")
    click.echo(f"  mail {result.eml}")
    click.echo(f"(config used: {cfg_path}; {time.perf_counter() - t0:.1f}s)")
    click.echo(f"web pages: digest --config {cfg_path} serve, then follow the Preferences link in "
               f"{result.html.name} (this config is for the demo only: its feeds are gone once it exits)")
