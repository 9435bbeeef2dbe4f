"""Config: defaults, file overlay, environment overrides, secrets, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli.main import cli
from digest.config import load_config
from digest.errors import ConfigError


def test_packaged_defaults_hold_the_contract_keys() -> None:
    cfg = load_config(env={})
    assert cfg.newsletter.title and "@" in cfg.newsletter.sender
    assert cfg.newsletter.base_url == "http://127.0.0.1:8000"
    assert cfg.database.url == "sqlite:///var/digest.db"
    assert cfg.feeds.file == "config/feeds.toml"
    assert cfg.feeds.poll_interval_minutes == 30
    assert cfg.feeds.allow_private_networks is False
    assert (cfg.smtp.host, cfg.smtp.port, cfg.smtp.starttls, cfg.smtp.username) == ("localhost", 25, False, "")
    assert (cfg.schedule.send_time, cfg.schedule.timezone) == ("07:00", "UTC")


def test_file_overlays_defaults_and_env_overrides_file(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[smtp]\nport = 2525\nhost = "mail.example.org"\n[schedule]\ntimezone = "Europe/Berlin"\n')
    cfg = load_config(p, env={"DIGEST_SMTP_PORT": "587", "DIGEST_FEEDS_ALLOW_PRIVATE_NETWORKS": "true"})
    assert cfg.smtp.host == "mail.example.org"
    assert cfg.smtp.port == 587
    assert cfg.feeds.allow_private_networks is True
    assert cfg.schedule.timezone == "Europe/Berlin"
    assert cfg.newsletter.title == "Cyber Digest"  # untouched default


def test_digest_config_env_selects_the_file(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[newsletter]\ntitle = "Night Watch"\n')
    assert load_config(env={"DIGEST_CONFIG": str(p)}).newsletter.title == "Night Watch"


def test_relative_sqlite_path_is_under_the_working_directory(tmp_path: Path) -> None:
    cfg = load_config(env={}, root=tmp_path)
    assert cfg.database_url == f"sqlite:///{tmp_path / 'var' / 'digest.db'}"


def test_secrets_come_from_the_environment_only(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[smtp]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match="smtp.password.*DIGEST_SMTP_PASSWORD"):
        load_config(p, env={})
    cfg = load_config(env={"DIGEST_SMTP_PASSWORD": "hunter2", "DIGEST_SECURITY_SECRET_KEY": "k" * 32})
    assert cfg.smtp.password == "hunter2"
    assert cfg.security.secret_key == "k" * 32


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ('[smtp]\nprot = 25\n', {}, "smtp.prot"),
        ('[smpt]\nport = 25\n', {}, "smpt"),
        ('[smtp]\nport = "twenty-five"\n', {}, "smtp.port"),
        ('[smtp]\nport = 70000\n', {}, "smtp.port"),
        ('[schedule]\nsend_time = "7am"\n', {}, "schedule.send_time"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', {}, "schedule.timezone"),
        ('[feeds]\npoll_interval_minutes = 0\n', {}, "feeds.poll_interval_minutes"),
        ('[feeds]\nallow_private_networks = "yes"\n', {}, "feeds.allow_private_networks"),
        ('[newsletter]\nsender = "no address"\n', {}, "newsletter.sender"),
        ('[database]\nurl = "mysql://x"\n', {}, "database.url"),
        ('[summarizer]\nwhen = "later"\n', {}, "summarizer.when"),
        ("", {"DIGEST_SMTP_PORT": "abc"}, "smtp.port"),
        ("", {"DIGEST_SMTP_HOSTNAME": "x"}, "smtp.hostname"),
        ('[smtp\n', {}, "invalid TOML"),
    ],
)
def test_bad_values_are_refused_with_one_line_naming_the_key(tmp_path: Path, text: str, env: dict[str, str],
                                                             key: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p, env=env)
    message = str(info.value)
    assert key in message
    assert "\n" not in message


def test_cli_reports_a_bad_config_in_one_line_and_exits_nonzero(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[feeds]\npoll_every = 5\n")
    result = CliRunner().invoke(cli, ["--config", str(p), "feeds", "list"])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "feeds.poll_every" in lines[0]
    assert "Traceback" not in result.output


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_absolute_sqlite_path_gets_its_folder_created(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    target = tmp_path / "deep" / "er" / "d.db"
    p.write_text(f'[database]\nurl = "sqlite:///{target}"\n')
    cfg = load_config(p, env={})
    assert cfg.database_url == f"sqlite:///{target}"
    assert target.parent.is_dir()


def test_default_feeds_file_falls_back_to_the_packaged_list(tmp_path: Path) -> None:
    cfg = load_config(env={}, root=tmp_path)  # a working directory without config/feeds.toml
    assert cfg.feeds_path().name == "feeds.toml" and cfg.feeds_path().exists()
    assert "[[feed]]" in cfg.feeds_path().read_text()
    p = tmp_path / "c.toml"
    p.write_text('[feeds]\nfile = "mine.toml"\n')
    assert load_config(p, env={}, root=tmp_path).feeds_path() == tmp_path / "mine.toml"
