"""The CLI: help everywhere, README lists every command, subscriber and feed commands, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT, SmtpSink, write_config

from digest.cli.main import cli


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        out.append((full, cmd))
        if isinstance(cmd, click.Group):
            out.extend(all_commands(cmd, full + " "))
    return out


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    runner = CliRunner()
    commands = all_commands(cli)
    assert {"poll", "send", "feeds add", "feeds import", "feeds list", "subscribe", "unsubscribe",
            "subscribers list", "subscribers import", "worker", "serve", "status", "actors detect",
            "summarize", "stories cluster"} <= {c for c, _ in commands}
    for name, cmd in commands:
        result = runner.invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0, name
        assert (cmd.help or "").strip(), f"{name} has no help text"
        if not isinstance(cmd, click.Group):
            assert f"digest {name}" in readme, f"README does not mention `digest {name}`"


def invoke(config_file: Path, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, ["--config", str(config_file), *args], catch_exceptions=False)


@pytest.fixture
def smtp_config_file(tmp_path: Path, smtp_server: SmtpSink) -> Path:
    return write_config(tmp_path, f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n')


def test_subscribe_sends_a_confirmation_mail_with_a_signed_link(smtp_config_file: Path,
                                                                smtp_server: SmtpSink) -> None:
    result = invoke(smtp_config_file, "subscribe", "Reader@Example.org")
    assert result.exit_code == 0, result.output
    assert "pending" in result.output
    [msg] = smtp_server.to("reader@example.org")
    body = msg.get_payload(decode=True).decode()
    assert re.search(r"http://127\.0\.0\.1:8000/confirm/[\w-]+\.[\w-]+", body)
    listing = invoke(smtp_config_file, "subscribers", "list")
    assert "reader@example.org\tpending" in listing.output


@pytest.mark.parametrize("bad", ["not-an-address", "a@b", "a@example.org\r\nBcc: x@example.org", "x" * 300 + "@e.org",
                                 ""])
def test_invalid_addresses_get_one_line_and_nothing_is_stored(smtp_config_file: Path, bad: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(smtp_config_file), "subscribe", bad])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "invalid email address" in lines[0]
    assert "0 subscribers" in CliRunner().invoke(cli, ["--config", str(smtp_config_file), "subscribers",
                                                       "list"]).output


def test_operator_adds_confirmed_and_unsubscribes(smtp_config_file: Path, smtp_server: SmtpSink) -> None:
    assert invoke(smtp_config_file, "subscribe", "--confirmed", "a@example.org").exit_code == 0
    assert smtp_server.messages == []  # no confirmation mail for an operator-confirmed address
    assert "is unsubscribed" in invoke(smtp_config_file, "unsubscribe", "a@example.org").output
    assert "a@example.org\tunsubscribed" in invoke(smtp_config_file, "subscribers", "list").output
    result = CliRunner().invoke(cli, ["--config", str(smtp_config_file), "unsubscribe", "nobody@example.org"])
    assert result.exit_code != 0 and "not subscribed" in result.output


def test_subscribers_import_csv_skips_bad_lines_and_goes_on(smtp_config_file: Path, tmp_path: Path) -> None:
    f = tmp_path / "subs.csv"
    f.write_text("name,email\nA,a@example.org\nB,broken\nC,c@example.org\nA again,A@example.org\n")
    result = invoke(smtp_config_file, "subscribers", "import", "--confirmed", str(f))
    assert "2 added, 1 unchanged, 1 invalid" in result.output
    assert "skipped line 2" in result.output


def test_feeds_add_list_and_bad_url(smtp_config_file: Path) -> None:
    assert "added" in invoke(smtp_config_file, "feeds", "add", "--no-check", "https://example.org/feed.xml",
                             "--kind", "vendor").output
    assert "already present" in invoke(smtp_config_file, "feeds", "add", "--no-check",
                                       "https://example.org/feed.xml").output
    result = CliRunner().invoke(cli, ["--config", str(smtp_config_file), "feeds", "add", "file:///etc/passwd"])
    assert result.exit_code != 0 and "not a feed URL" in result.output
    listing = invoke(smtp_config_file, "feeds", "list", "--json")
    assert '"url": "https://example.org/feed.xml"' in listing.output and '"articles": 0' in listing.output


def test_status_shows_feeds_issues_deliveries_and_subscribers(smtp_config_file: Path) -> None:
    invoke(smtp_config_file, "feeds", "add", "--no-check", "https://example.org/feed.xml",
           "--name", "Example Feed")
    invoke(smtp_config_file, "subscribe", "--confirmed", "a@example.org")
    invoke(smtp_config_file, "subscribe", "--confirmed", "b@example.org")
    invoke(smtp_config_file, "unsubscribe", "b@example.org")
    out = invoke(smtp_config_file, "status").output
    assert "Example Feed" in out and "never" in out
    assert "1 feed, 0 flagged" in out
    assert "last issue: none yet" in out
    assert "daily at 07:00 UTC" in out
    assert "subscribers: confirmed 1, unsubscribed 1" in out


def test_feeds_import_opml_and_url_list_reports_skipped_lines(smtp_config_file: Path, tmp_path: Path) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
                    '<outline text="Security"><outline text="A" xmlUrl="https://a.example/feed"/>'
                    '<outline text="Bad" xmlUrl="ftp://b.example/feed"/></outline></body></opml>')
    result = invoke(smtp_config_file, "feeds", "import", str(opml))
    assert "1 added, 0 already present, 1 skipped" in result.output
    urls = tmp_path / "urls.txt"
    urls.write_text("# my feeds\nhttps://a.example/feed\nhttps://c.example/rss\nnot a url\n")
    result = invoke(smtp_config_file, "feeds", "import", str(urls))
    assert "1 added, 1 already present, 1 skipped" in result.output
    assert "urls.txt line 4: not a URL" in result.output


def test_feeds_remove_stops_polling_and_add_brings_it_back(smtp_config_file: Path) -> None:
    invoke(smtp_config_file, "feeds", "add", "--no-check", "https://example.org/feed.xml")
    assert "no longer polled" in invoke(smtp_config_file, "feeds", "remove", "https://example.org/feed.xml").output
    assert '"active": false' in invoke(smtp_config_file, "feeds", "list", "--json").output
    polled = CliRunner().invoke(cli, ["--config", str(smtp_config_file), "poll"])
    assert "polled 0 feeds" in polled.output and polled.exit_code == 2  # nothing could run
    from digest.config import load_config
    from digest.store import Store

    store = Store.open(load_config(smtp_config_file, env={}))
    assert store.feeds() == []  # only active feeds are polled
    assert "added" in invoke(smtp_config_file, "feeds", "add", "--no-check", "https://example.org/feed.xml").output
    assert [f.url for f in store.feeds()] == ["https://example.org/feed.xml"]
    missing = CliRunner().invoke(cli, ["--config", str(smtp_config_file), "feeds", "remove", "https://nope.example/"])
    assert missing.exit_code != 0 and "no feed with URL" in missing.output


@pytest.mark.parametrize("command", [["actors", "detect", "-"], ["summarize", "-"], ["stories", "cluster", "-"]])
def test_json_line_commands_survive_a_hostile_line(command: list[str]) -> None:
    """A deeply nested line (RecursionError in json) is reported by number; the next line is processed."""
    good = ('{"id": "a", "title": "APT29 phishes diplomats", "source": "Wire", "published": "2026-11-27", '
            '"text": "APT29, the Russian group also known as Midnight Blizzard, phished diplomats in May."}')
    result = CliRunner().invoke(cli, command, input="[" * 100000 + "\n" + good + "\n")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "line 1" in result.output and "Traceback" not in result.output
    assert '"a"' in result.output


def test_feeds_list_shows_the_feeds_file_before_any_poll(smtp_config_file: Path, tmp_path: Path) -> None:
    (tmp_path / "feeds.toml").write_text('[[feed]]\nname = "Vendor Blog"\nurl = "https://v.example/rss"\n'
                                         'kind = "vendor"\n')
    out = invoke(smtp_config_file, "feeds", "list", "--json").output
    assert '"url": "https://v.example/rss"' in out and '"kind": "vendor"' in out


def test_bad_lines_that_look_like_console_markup_are_printed_as_text(smtp_config_file: Path, tmp_path: Path) -> None:
    """Imported files and feed titles are untrusted: "[/x]" is text, not a markup tag that aborts the run."""
    subs = tmp_path / "subs.txt"
    subs.write_text("a@example.org\n[/bold]not-an-address\nc@example.org\n")
    result = invoke(smtp_config_file, "subscribers", "import", "--confirmed", str(subs))
    assert result.exit_code == 0 and "2 added, 0 unchanged, 1 invalid" in result.output
    assert "[/bold]not-an-address" in result.output
    urls = tmp_path / "urls.txt"
    urls.write_text("https://a.example/feed\n[/oops] not a url\n")
    result = invoke(smtp_config_file, "feeds", "import", str(urls))
    assert result.exit_code == 0 and "1 added, 0 already present, 1 skipped" in result.output
    invoke(smtp_config_file, "feeds", "add", "--no-check", "https://b.example/feed",
           "--name", "[/x] Odd [red]feed")
    assert "[/x] Odd [red]feed" in invoke(smtp_config_file, "feeds", "list").output
