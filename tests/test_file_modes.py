"""Files holding subscriber data or secrets are owner-only whatever the umask: the SQLite database and
its WAL/SHM (addresses, the token-signing key), var/ and the outbox (mails with live tokens)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from farm import digest_env
from httpserver import LocalHTTPServer

from digest.private import private_dir, write_private
from digest.store import Store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


FEED = """<?xml version='1.0'?><rss version='2.0'><channel><title>Modes</title>
<item><title>Ransomware gang hits a hospital chain</title><link>http://127.0.0.1:9/a</link><guid>m-1</guid>
<description>A ransomware gang hit a hospital chain on Monday, the company said.</description></item>
</channel></rss>"""


def test_send_dry_run_under_umask_022_leaves_nothing_readable_by_others(tmp_path: Path,
                                                                         http_server: LocalHTTPServer) -> None:
    http_server.route("/feed.xml", body=FEED, content_type="application/rss+xml")
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nurl = "{http_server.url("/feed.xml")}"\n', encoding="utf-8")
    (tmp_path / "digest.toml").write_text(  # relative paths, as the shipped config has them
        '[database]\nurl = "sqlite:///var/digest.db"\n[outbox]\ndir = "var/outbox"\n'
        f'[feeds]\nfile = "{tmp_path / "feeds.toml"}"\nallow_private_networks = true\nextract_workers = 1\n'
        'fetch_pages = false\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "digest.cli.main", "--config", str(tmp_path / "digest.toml"),
                           "send", "--dry-run"], cwd=tmp_path, env=digest_env(), capture_output=True, text=True,
                          preexec_fn=lambda: os.umask(0o022), timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    var = tmp_path / "var"
    assert mode(var) == 0o700
    assert mode(var / "digest.db") == 0o600
    assert mode(var / "outbox") == 0o700
    [day] = list((var / "outbox").iterdir())
    assert mode(day) == 0o700
    written = sorted(p.name for p in day.iterdir())
    assert written == ["digest.eml", "digest.html", "digest.txt"]
    assert {p.name: mode(p) for p in day.iterdir()} == dict.fromkeys(written, 0o600)
    for p in var.rglob("*"):  # nothing in var/ is readable by group or others
        assert mode(p) & 0o077 == 0, (p, oct(mode(p)))


def test_database_wal_and_shm_are_owner_only_and_an_old_0644_database_is_fixed(tmp_path: Path,
                                                                                umask_022: None) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)  # as an earlier version left it
    assert mode(db) == 0o644
    store = Store.open(f"sqlite:///{db}")
    try:
        store.secret_key()  # writes: the WAL and SHM exist while the connection is open
        wal, shm = tmp_path / "old.db-wal", tmp_path / "old.db-shm"
        assert wal.exists() and shm.exists()
        assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        store.close()
    fresh = Store.open(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        fresh.secret_key()
        assert mode(tmp_path / "new.db") == mode(tmp_path / "new.db-wal") == 0o600
    finally:
        fresh.close()


def test_private_helpers(tmp_path: Path, umask_022: None) -> None:
    parent = tmp_path / "home"
    parent.mkdir(mode=0o755)
    d = private_dir(parent / "var" / "outbox", existing_too=False)
    assert mode(parent) == 0o755  # an existing parent is not the project's to change
    assert mode(parent / "var") == mode(d) == 0o700
    old = parent / "var" / "digest.eml"
    old.write_text("earlier")
    os.chmod(old, 0o644)
    write_private(old, "now")
    assert old.read_text() == "now" and mode(old) == 0o600
    os.chmod(d, 0o755)
    private_dir(d)
    assert mode(d) == 0o700
    private_dir(d, existing_too=False)
    assert mode(d) == 0o700
