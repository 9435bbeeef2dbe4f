"""Issue 17 item 11 (the parts that are not about feeds): the smaller surprises an operator met.

A database created where nobody asked is announced; "1 subscriber"; `summarize` exits 1 on bad
lines (tests/test_summarize.py); absolute times in mails (tests/test_email_render.py); subjects cut
at a word; `send --dry-run --to` counts that reader's issue; "did you mean" for config typos;
`serve` on another port than the base URL warns, and writes an access log; the postal address.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import SmtpSink, free_port, write_config
from sqlalchemy import select
from test_pipeline import demo_env  # noqa: F401 - the fixture

from digest.cli.main import cli
from digest.config import load_config
from digest.errors import ConfigError
from digest.store import Actor, Store


def run(cfg: Path | None, *args: str, cwd: Path | None = None) -> Result:
    base = ["--config", str(cfg)] if cfg else []
    if cwd is None:
        return CliRunner().invoke(cli, [*base, *args])
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, [*base, *args])
    finally:
        os.chdir(old)


def test_a_database_made_by_default_is_announced_with_its_path(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("DIGEST_") and not var.startswith("DIGEST_TEST_"):
            monkeypatch.delenv(var)
    first = run(None, "subscribers", "list", cwd=tmp_path)
    assert first.exit_code == 0, first.output
    made = tmp_path / "var" / "digest.db"
    assert made.exists()
    assert f"created a new SQLite database at {made}" in first.output and "[database] url" in first.output
    again = run(None, "subscribers", "list", cwd=tmp_path)  # it exists now: nothing to say
    assert "created a new" not in again.output
    # a configured database is the operator's choice: no notice
    (tmp_path / "x").mkdir()
    cfg = write_config(tmp_path / "x")
    assert "created a new" not in run(cfg, "subscribers", "list").output


def test_one_subscriber_is_singular(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    assert run(cfg, "subscribe", "--confirmed", "a@example.org").exit_code == 0
    out = run(cfg, "subscribers", "list").output
    assert "1 subscriber\n" in out and "1 subscribers" not in out
    assert run(cfg, "subscribe", "--confirmed", "b@example.org").exit_code == 0
    assert "2 subscribers" in run(cfg, "subscribers", "list").output


@pytest.mark.parametrize("text,suggestion", [
    ("[smtp]\nstarttsl = true\n", "did you mean smtp.starttls?"),
    ("[newsletter]\npostal_adress = \"x\"\n", "did you mean newsletter.postal_address?"),
    ("[smtp]\npoll_interval_minutes = 5\n", "did you mean feeds.poll_interval_minutes?"),
    ("[stmp]\nport = 25\n", "did you mean smtp?"),
])
def test_unknown_config_keys_get_a_suggestion(tmp_path: Path, text: str, suggestion: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert suggestion in str(info.value)
    with pytest.raises(ConfigError) as env_info:
        load_config(None, env={"DIGEST_SMTP_PROT": "25"})
    assert "did you mean DIGEST_SMTP_PORT?" in str(env_info.value)
    path.write_text("[smtp]\nzzzz = 1\n")  # nothing close: no guess
    with pytest.raises(ConfigError) as none:
        load_config(path, env={})
    assert "did you mean" not in str(none.value)


def test_subjects_are_cut_at_a_word() -> None:
    from digest.issue.render import SUBJECT_MAX, cap_subject

    long = ("Cyber Digest, 03 Dec 2026: Chinese Threat Group Jewelbug Breached a Russian IT Service Provider "
            "for Five Months Before Anyone Noticed")
    cut = cap_subject(long)
    assert len(cut) <= SUBJECT_MAX + 1 and cut.endswith("…")
    assert long.startswith(cut[:-1]) and long[len(cut) - 1] == " "  # ends where a word ended
    assert cap_subject("Cyber Digest, 03 Dec 2026: Short") == "Cyber Digest, 03 Dec 2026: Short"


def test_dry_run_to_counts_that_readers_issue(demo_env, smtp_server: SmtpSink) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg, tmp = demo_env
    assert run(cfg, "poll").exit_code == 0
    for addr in ("all@example.org", "few@example.org"):
        assert run(cfg, "subscribe", "--confirmed", addr).exit_code == 0
    store = Store.open(load_config(cfg, root=tmp))
    few = store.subscriber(email="few@example.org")
    assert few is not None
    with store.session() as s:
        jewelbug = s.scalar(select(Actor.id).where(Actor.name == "Jewelbug"))
    assert jewelbug
    store.set_preferences(few.id, {"mode": "custom", "actors": [jewelbug], "countries": [], "topics": [],
                                   "frequency": "daily", "weekday": 0, "hour": None, "timezone": "UTC"})
    pattern = r"dry run: (\d+) stories, (\d+) actors, (\d+) updates; would go to (\d+) confirmed"
    whole = run(cfg, "send", "--dry-run", "--no-poll", "--out", str(tmp / "all"))
    one = run(cfg, "send", "--dry-run", "--no-poll", "--to", "few@example.org", "--out", str(tmp / "few"))
    assert whole.exit_code == 0 and one.exit_code == 0, (whole.output, one.output)
    w, o = re.search(pattern, whole.output), re.search(pattern, one.output)
    assert w and o, (whole.output, one.output)
    assert int(o.group(1)) < int(w.group(1)) and o.group(4) == "1" and w.group(4) == "2"
    # the figures are those of the mail written for that reader
    text = (tmp / "few" / "digest.txt").read_text()
    shown = re.search(r"(\d+) stor(?:y|ies)", text)
    assert shown and shown.group(1) == o.group(1), text[:400]
    store.close()


def test_send_and_status_warn_without_a_postal_address(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    for args in (("status",), ("send", "--dry-run", "--no-poll", "--out", str(tmp_path / "o"))):
        out = run(cfg, *args).output
        assert "postal_address is empty" in out, out
    cfg2 = write_config(tmp_path, '[newsletter]\npostal_address = "1 Example Street, Berlin"\n')
    assert "postal_address" not in run(cfg2, "status").output


def _serve(cfg: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") or k.startswith("DIGEST_TEST_")}
    return subprocess.Popen([sys.executable, "-m", "digest.cli.main", "--config", str(cfg), "serve", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.timeout(120)
def test_serve_on_another_port_warns_about_mail_links_and_logs_requests(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, '[newsletter]\nbase_url = "http://127.0.0.1:8000"\n')
    proc = _serve(cfg, "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/archive/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert "http://127.0.0.1:8000" in err and "mail links" in err and str(port) in err, err
    access = [ln for ln in err.splitlines() if "GET /archive/" in ln]
    assert access and " 200" in access[0], err  # the access log, without -v
