"""Issue 17, feeds: long lists, poll exit codes and progress, the feeds file before a poll, exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner, Result
from conftest import write_config
from httpserver import LocalHTTPServer

from digest.cli.main import cli
from digest.config import load_config
from digest.store import Feed, Store

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
EMPTY_RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Quiet</title></channel></rss>"


def run(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_file), *args])


# ---- item 8: long lists ---------------------------------------------------------------------------
def test_feeds_list_shows_urls_names_origin_and_state(config_file: Path) -> None:
    (config_file.parent / "feeds.toml").write_text('[[feed]]\nname = "From File"\nurl = "https://f.example/rss"\n')
    run(config_file, "feeds", "add", "--no-check", "--name", "By Hand", "https://h.example/a/very/long/path/feed.xml")
    out = run(config_file, "feeds", "list").output
    lines = out.splitlines()
    assert lines[0].split("\t")[:4] == ["url", "name", "origin", "state"]
    assert "https://f.example/rss\tFrom File\tfile\tnew\t" in out
    assert "https://h.example/a/very/long/path/feed.xml\tBy Hand\tcommand\tnew\t" in out  # the whole URL
    assert "2 feeds: 1 from the feeds file, 1 added by command" in out


def test_status_stays_short_for_a_long_list(config_file: Path) -> None:
    store = Store.open(load_config(config_file, env={}))

    class Spec:
        def __init__(self, i: int) -> None:
            self.url, self.name, self.kind = f"https://f{i}.example/rss", f"Feed {i:04d}", "news"

    store.add_feeds([Spec(i) for i in range(1742)])
    with store.session() as s:
        for f in s.query(Feed).filter(Feed.id % 3 == 0):
            f.consecutive_failures, f.last_error = 2, "connection refused"
    failing = 1742 // 3
    short = run(config_file, "status")
    assert short.exit_code == 0, short.output
    assert len(short.output.splitlines()) < 40, short.output
    assert "1742 feeds" in short.output and f"0 ok, {failing} failing, 1742 not polled yet" in short.output
    assert f"and {failing - 10} more failing; `digest status --all`" in short.output
    full = run(config_file, "status", "--all")
    assert "Feed 0001" in full.output and "Feed 1741" in full.output
    assert full.output.count("connection refused") == failing


# ---- item 9: poll exit codes and progress -------------------------------------------------------
def _poll_setup(tmp_path: Path, http_server: LocalHTTPServer, paths: list[str]) -> Path:
    http_server.route("/ok1.xml", body=EMPTY_RSS)
    http_server.route("/ok2.xml", body=EMPTY_RSS)
    http_server.route("/down.xml", status=500)
    (tmp_path / "feeds.toml").write_text("".join(f'[[feed]]\nurl = "{http_server.url(p)}"\n' for p in paths))
    return write_config(tmp_path, "[feeds]\nfetch_pages = false\n")


def test_poll_exit_0_when_every_feed_polled(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    result = run(_poll_setup(tmp_path, http_server, ["/ok1.xml", "/ok2.xml"]), "poll")
    assert result.exit_code == 0, result.output


def test_poll_exit_1_when_some_feeds_failed(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    result = run(_poll_setup(tmp_path, http_server, ["/ok1.xml", "/down.xml"]), "poll")
    assert result.exit_code == 1, result.output
    assert "1 failed" in result.output and "HTTP 500" in result.output


def test_poll_exit_2_when_all_failed_or_nothing_could_run(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    cfg = _poll_setup(tmp_path, http_server, ["/down.xml"])
    assert run(cfg, "poll").exit_code == 2
    (tmp_path / "feeds.toml").write_text("")
    nothing = run(cfg, "poll")
    assert nothing.exit_code == 2 and "nothing to poll" in nothing.output
    (tmp_path / "feeds.toml").write_text('[[feed]]\nurl = "ftp://x.example/feed"\n')  # a broken feeds file
    broken = run(cfg, "poll")
    assert broken.exit_code == 2 and "unsupported scheme" in broken.output
    assert "Exit status" in run(cfg, "poll", "--help").output


def test_poll_progress_only_when_asked_off_a_terminal(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    cfg = _poll_setup(tmp_path, http_server, ["/ok1.xml", "/ok2.xml"])
    quiet = run(cfg, "poll")
    assert "feeds 2/2" not in quiet.stderr  # cron: quiet
    shown = run(cfg, "poll", "--progress")
    assert "feeds 2/2 (100%)" in shown.stderr and "elapsed" in shown.stderr
    assert "feeds" not in shown.stdout.replace("polled 2 feeds", "")


# ---- item 11: the feeds file before the first poll; no file -------------------------------------
def test_status_counts_the_feeds_file_before_the_first_poll(config_file: Path) -> None:
    (config_file.parent / "feeds.toml").write_text('[[feed]]\nurl = "https://a.example/rss"\n\n'
                                                   '[[feed]]\nurl = "https://b.example/rss"\n')
    out = run(config_file, "status").output
    assert "2 feeds" in out and "2 not polled yet" in out


def test_an_empty_feeds_file_setting_means_no_file(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[feeds]\nfile = ""\n')
    assert 'file = ""' in cfg.read_text()
    status = run(cfg, "status")
    assert status.exit_code == 0 and "0 feeds" in status.output, status.output
    assert "not found" not in status.output
    run(cfg, "feeds", "add", "--no-check", "https://a.example/rss")
    assert json.loads(run(cfg, "feeds", "list", "--json").stdout)["origin"] == "command"


# ---- item 12: exports round-trip through the imports --------------------------------------------
def test_feeds_export_is_opml_that_import_reads_back(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    cfg1, cfg2 = write_config(one), write_config(two)
    assert run(cfg1, "feeds", "import", str(FIXTURES / "list_duplicates.opml")).exit_code == 0
    assert run(cfg1, "feeds", "add", "--no-check", "--name", "Loose", "https://loose.example/rss").exit_code == 0
    exported = tmp_path / "feeds.opml"
    assert run(cfg1, "feeds", "export", str(exported)).exit_code == 0
    assert exported.read_bytes().startswith(b"<?xml") and b"<opml" in exported.read_bytes()
    back = run(cfg2, "feeds", "import", str(exported))
    assert back.exit_code == 0 and "5 added, 0 already present, 0 skipped" in back.output, back.output

    def feeds(cfg: Path) -> set[tuple[str, str, str, str]]:
        rows = map(json.loads, run(cfg, "feeds", "list", "--json").stdout.splitlines())
        return {(r["url"], r["name"], r["kind"], r["category"]) for r in rows}

    assert feeds(cfg1) == feeds(cfg2)
    assert ("https://cert.example.gov/alerts.xml?lang=en", "National CERT", "government",
            "Government, CERT & Advisories") in feeds(cfg2)


def test_subscribers_export_is_csv_that_import_reads_back(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    cfg1, cfg2 = write_config(one), write_config(two)
    for address in ("a@example.org", "b@example.org", "c@example.org"):
        run(cfg1, "subscribe", "--confirmed", address)
    run(cfg1, "unsubscribe", "c@example.org")
    exported = tmp_path / "subscribers.csv"
    assert run(cfg1, "subscribers", "export", str(exported)).exit_code == 0
    assert exported.stat().st_mode & 0o077 == 0  # personal data: owner only
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert [(r["email"], r["status"]) for r in rows] == [("a@example.org", "confirmed"), ("b@example.org", "confirmed"),
                                                         ("c@example.org", "unsubscribed")]
    back = run(cfg2, "subscribers", "import", "--confirmed", str(exported))
    assert back.exit_code == 0, back.output

    def subs(cfg: Path) -> list[str]:
        return sorted(run(cfg, "subscribers", "list").stdout.replace("\t", " ").splitlines())

    assert [s.rsplit(" ", 1)[0] for s in subs(cfg1)] == [s.rsplit(" ", 1)[0] for s in subs(cfg2)]


def test_subscribers_export_guards_cells_a_spreadsheet_would_run_and_import_takes_the_guard_off(
        tmp_path: Path) -> None:
    """'=1+1@example.org' and '-x@example.org' are valid addresses; in the CSV they start with an
    apostrophe (no spreadsheet runs them as formulas), and import reads the address back unchanged."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    cfg1, cfg2 = write_config(one), write_config(two)
    for address in ("=1+1@example.org", "-x@example.org", "plain@example.org"):
        assert run(cfg1, "subscribe", "--confirmed", "--", address).exit_code == 0
    exported = tmp_path / "subscribers.csv"
    assert run(cfg1, "subscribers", "export", str(exported)).exit_code == 0
    emails = sorted(r["email"] for r in csv.DictReader(io.StringIO(exported.read_text())))
    assert emails == ["'-x@example.org", "'=1+1@example.org", "plain@example.org"]
    assert run(cfg2, "subscribers", "import", "--confirmed", str(exported)).exit_code == 0
    listed = run(cfg2, "subscribers", "list").stdout
    assert "=1+1@example.org\t" in listed and "-x@example.org\t" in listed and "'" not in listed
