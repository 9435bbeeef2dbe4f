"""Settings: packaged defaults (config/digest.toml), then a user file, then DIGEST_* variables.

Resolution order, later wins:

1. ``config/digest.toml`` shipped with the project (documented defaults);
2. the file named by ``--config PATH`` or ``DIGEST_CONFIG``;
3. ``DIGEST_<SECTION>_<KEY>`` environment variables (``DIGEST_SMTP_PORT=2525``).

Secrets never come from a file: ``DIGEST_SMTP_PASSWORD``, ``DIGEST_SECRET_KEY``,
``DIGEST_SUMMARIZER_API_KEY``, ``DIGEST_BOUNCES_PASSWORD``, ``DIGEST_BOUNCES_POSTMARK_PASSWORD`` and
``DIGEST_BOUNCES_MAILGUN_SIGNING_KEY`` are read from the environment only. Unknown sections or keys and
values of the wrong type are refused with a one-line :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import ConfigError
from digest.private import private_dir
from digest.resources import config_dir

SECRET_KEYS = {("smtp", "password"), ("security", "secret_key"), ("summarizer", "api_key"),
               ("bounces", "password"), ("bounces", "postmark_password"), ("bounces", "mailgun_signing_key")}

#: user:password@ right after a scheme. The password runs to the *last* "@" of the word: an unquoted
#: "@" in it ("u:p@ss@host") would otherwise leave its tail in view (SQLAlchemy's own masking does)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):\S*@")
#: libpq also takes the password as a query parameter
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|sslpassword)=)[^&\s]*", re.IGNORECASE)


def mask_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    ``postgresql://user:secret@host/db`` becomes ``postgresql://user:***@host/db``. For whatever is
    printed or logged: config errors, settings, log lines.
    """
    text = _URL_PASSWORD.sub(r"\g<head>:***@", text)
    return _QUERY_PASSWORD.sub(r"\g<head>***", text)


@dataclass(frozen=True)
class NewsletterConfig:
    title: str = "Cyber Digest"
    sender: str = "Cyber Digest <digest@example.org>"
    reply_to: str = ""
    base_url: str = "http://127.0.0.1:8000"
    list_id: str = ""
    unsubscribe_mailto: str = ""
    max_stories: int = 25
    include_sponsored: bool = False
    first_issue_hours: int = 24
    welcome: bool = True
    #: the sender's postal address, printed in every issue's footer (CAN-SPAM asks a commercial mail for one)
    postal_address: str = ""


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/digest.db"

    def __repr__(self) -> str:  # a traceback or a debug print must not show the password
        return f"DatabaseConfig(url={mask_url(self.url)!r})"


@dataclass(frozen=True)
class FeedsConfig:
    file: str = "config/feeds.toml"
    poll_interval_minutes: int = 30
    allow_private_networks: bool = False
    timeout_seconds: float = 20.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 2
    concurrency: int = 32
    fetch_pages: bool = True
    extract_workers: int = 0
    user_agent: str = "digest/0.1 (+https://github.com/digest-news/digest)"
    max_entries_per_feed: int = 100
    failure_alert_threshold: int = 5
    silence_alert_days: int = 14
    alert_email: str = ""


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    tls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_seconds: float = 30.0
    pool_size: int = 8
    processes: int = 0
    rate_limit_per_second: float = 0.0
    retry_deadline_seconds: float = 600.0
    max_hard_bounces: int = 3
    dkim_selector: str = ""
    dkim_domain: str = ""
    dkim_key_file: str = ""


@dataclass(frozen=True)
class ScheduleConfig:
    send_time: str = "07:00"
    timezone: str = "UTC"


@dataclass(frozen=True)
class SummarizerConfig:
    backend: str = "extractive"
    endpoint: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 20.0
    max_words: int = 70
    # "compose": summarize only the article each story of an issue shows, when the issue is composed;
    # "poll": summarize every article as it is stored
    when: str = "compose"


@dataclass(frozen=True)
class StoriesConfig:
    window_hours: int = 72


@dataclass(frozen=True)
class SecurityConfig:
    secret_key: str = field(default="", repr=False)
    confirm_token_days: int = 7


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    signup_rate_per_hour: int = 20


@dataclass(frozen=True)
class OutboxConfig:
    dir: str = "var/outbox"
    sample_recipient: str = "reader@example.org"


MAILBOX_KINDS = ("", "imap", "pop3", "maildir", "mbox")


@dataclass(frozen=True)
class BouncesConfig:
    """Bounces and complaints: VERP, the bounce mailbox, scoring and the providers' webhooks."""

    #: envelope sender local+token@domain per message (the From header is unchanged)
    verp: bool = True
    local_part: str = "bounces"
    #: '' = the domain of newsletter.sender
    domain: str = ""
    #: where bounces arrive: '' (none; pipe or webhooks only), imap, pop3, maildir or mbox
    mailbox: str = ""
    host: str = ""
    #: 0 = the protocol's default (IMAP 993/143, POP3 995/110)
    port: int = 0
    tls: bool = True
    starttls: bool = False
    user: str = ""
    password: str = field(default="", repr=False)
    #: IMAP folder to read
    folder: str = "INBOX"
    #: Maildir folder or mbox file (mailbox = maildir or mbox)
    path: str = ""
    #: where what was not understood goes: an IMAP folder / Maildir subfolder / mbox file suffix
    aside: str = "digest-not-understood"
    #: a local Maildir for messages that cannot be moved aside where they are (pipe, POP3)
    aside_dir: str = "var/bounces-aside"
    timeout_seconds: float = 30.0
    #: Mailman's scoring: a hard bounce counts 1, a soft one 0.5, at most once a day per address
    hard_score: float = 1.0
    soft_score: float = 0.5
    threshold: float = 1.0
    #: the score halves every this many days without a bounce
    decay_days: float = 7.0
    #: `digest status` warns above this complaint rate (Gmail's and Yahoo's line: 0.3 %)
    complaint_warn_rate: float = 0.003
    #: webhooks (on `digest serve`); each is refused until configured
    ses_topic_arns: str = ""
    postmark_user: str = ""
    postmark_password: str = field(default="", repr=False)
    sendgrid_public_key: str = ""
    mailgun_signing_key: str = field(default="", repr=False)
    #: signed webhooks older than this are refused (replays)
    webhook_max_age_seconds: int = 900


@dataclass(frozen=True)
class Config:
    newsletter: NewsletterConfig = field(default_factory=NewsletterConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    summarizer: SummarizerConfig = field(default_factory=SummarizerConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    web: WebConfig = field(default_factory=WebConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    #: folder that relative paths (database, feeds file, outbox) are resolved against
    root: Path = field(default_factory=Path.cwd)
    #: the file the settings came from, if any
    source: Path | None = None
    #: the "section.key" names set by the settings file or the environment (not left at their defaults)
    explicit: frozenset[str] = frozenset()

    def path(self, value: str) -> Path:
        """Resolve a configured path: absolute as is, relative under the working directory."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.root / p

    def feeds_path(self) -> Path:
        """The feeds file; the default ``config/feeds.toml`` falls back to the packaged list."""
        path = self.path(self.feeds.file)
        if not path.exists() and self.feeds.file == FeedsConfig.file:
            packaged = config_dir() / "feeds.toml"
            if packaged.exists():
                return packaged
        return path

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute (and its folder created)."""
        url = self.database.url
        m = re.match(r"^sqlite(\+\w+)?:///(.+)$", url)
        if m and m.group(2) != ":memory:":
            target = self.path(m.group(2))  # relative: under the working directory; absolute: as is
            private_dir(target.parent, existing_too=False)  # var/: 0700 when made here
            return f"sqlite{m.group(1) or ''}:///{target}"
        return url

    def replace(self, **sections: Any) -> Config:
        """Copy with whole sections or section fields replaced: ``cfg.replace(smtp={"port": 2525})``."""
        changes: dict[str, Any] = {}
        for name, value in sections.items():
            current = getattr(self, name)
            if isinstance(value, dict) and dataclasses.is_dataclass(current):
                value = dataclasses.replace(current, **value)
            changes[name] = value
        return dataclasses.replace(self, **changes)


_SECTIONS: dict[str, type] = {
    f.name: f.type if isinstance(f.type, type) else get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("root", "source", "explicit")
}


def _coerce(section: str, key: str, raw: Any, typ: type, from_env: bool) -> Any:
    name = f"{section}.{key}"
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        if from_env and isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"config key {name}: expected true or false, got {raw!r}")
    if typ is int:
        if isinstance(raw, bool):
            raise ConfigError(f"config key {name}: expected a whole number, got {raw!r}")
        if isinstance(raw, int):
            return raw
        if from_env and isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            return int(raw)
        raise ConfigError(f"config key {name}: expected a whole number, got {raw!r}")
    if typ is float:
        if isinstance(raw, bool):
            raise ConfigError(f"config key {name}: expected a number, got {raw!r}")
        if isinstance(raw, (int, float)):
            return float(raw)
        if from_env and isinstance(raw, str):
            try:
                return float(raw)
            except ValueError:
                pass
        raise ConfigError(f"config key {name}: expected a number, got {raw!r}")
    if not isinstance(raw, str):
        raise ConfigError(f"config key {name}: expected a string, got {raw!r}")
    return raw


def _validate(cfg: Config) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"config key {key}: {why}")

    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", cfg.schedule.send_time):
        raise bad("schedule.send_time", f"expected HH:MM (24-hour), got {cfg.schedule.send_time!r}")
    try:
        ZoneInfo(cfg.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad("schedule.timezone", f"unknown time zone {cfg.schedule.timezone!r} (use e.g. 'Europe/Berlin')") from None
    if not re.match(r"^https?://[^/\s]+", cfg.newsletter.base_url):
        raise bad("newsletter.base_url", f"expected an http(s) URL, got {cfg.newsletter.base_url!r}")
    _name, addr = parseaddr(cfg.newsletter.sender)
    if "@" not in addr or any(c in cfg.newsletter.sender for c in "\r\n"):
        raise bad("newsletter.sender", f"expected 'Name <address@domain>', got {cfg.newsletter.sender!r}")
    _validate_database_url(cfg.database.url)
    positive = {
        "feeds.poll_interval_minutes": cfg.feeds.poll_interval_minutes,
        "feeds.timeout_seconds": cfg.feeds.timeout_seconds,
        "feeds.max_bytes": cfg.feeds.max_bytes,
        "feeds.per_host_concurrency": cfg.feeds.per_host_concurrency,
        "feeds.concurrency": cfg.feeds.concurrency,
        "feeds.max_entries_per_feed": cfg.feeds.max_entries_per_feed,
        "smtp.pool_size": cfg.smtp.pool_size,
        "smtp.timeout_seconds": cfg.smtp.timeout_seconds,
        "summarizer.max_words": cfg.summarizer.max_words,
        "stories.window_hours": cfg.stories.window_hours,
        "newsletter.max_stories": cfg.newsletter.max_stories,
        "newsletter.first_issue_hours": cfg.newsletter.first_issue_hours,
    }
    for key, value in positive.items():
        if value <= 0:
            raise bad(key, f"must be greater than 0, got {value!r}")
    if not 0 < cfg.smtp.port < 65536:
        raise bad("smtp.port", f"must be a TCP port (1-65535), got {cfg.smtp.port!r}")
    if cfg.smtp.processes < 0:
        raise bad("smtp.processes", "must be 0 (automatic) or more")
    if cfg.smtp.rate_limit_per_second < 0:
        raise bad("smtp.rate_limit_per_second", "must be 0 (unlimited) or more")
    if cfg.feeds.max_redirects < 0:
        raise bad("feeds.max_redirects", "must be 0 or more")
    if cfg.smtp.starttls and cfg.smtp.tls:
        raise bad("smtp.starttls", "starttls and tls are exclusive: tls is implicit TLS (port 465)")
    _validate_bounces(cfg.bounces)
    if cfg.summarizer.backend not in ("extractive", "openai"):
        raise bad("summarizer.backend", f"expected 'extractive' or 'openai', got {cfg.summarizer.backend!r}")
    if cfg.summarizer.when not in ("compose", "poll"):
        raise bad("summarizer.when", f"expected 'compose' or 'poll', got {cfg.summarizer.when!r}")
    if cfg.summarizer.backend == "openai" and not cfg.summarizer.endpoint:
        raise bad("summarizer.endpoint", "must be set when summarizer.backend is 'openai'")


def _validate_bounces(b: BouncesConfig) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"config key bounces.{key}: {why}")

    if b.mailbox not in MAILBOX_KINDS:
        raise bad("mailbox", f"expected one of imap, pop3, maildir, mbox (or empty), got {b.mailbox!r}")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,30}", b.local_part):
        raise bad("local_part", f"letters, digits, '.', '_' or '-' only (at most 30), got {b.local_part!r}")
    if b.domain and not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z0-9-]+", b.domain):
        raise bad("domain", f"expected a domain name, got {b.domain!r}")
    if b.mailbox in ("imap", "pop3") and not b.host:
        raise bad("host", f"must be set when bounces.mailbox is {b.mailbox!r}")
    if b.mailbox in ("maildir", "mbox") and not b.path:
        raise bad("path", f"must be set when bounces.mailbox is {b.mailbox!r}")
    if not 0 <= b.port < 65536:
        raise bad("port", f"must be 0 (the default) or a TCP port, got {b.port!r}")
    if b.tls and b.starttls:
        raise bad("starttls", "starttls and tls are exclusive: tls is implicit TLS (IMAPS 993, POP3S 995)")
    for key in ("hard_score", "soft_score", "threshold", "decay_days", "timeout_seconds"):
        if getattr(b, key) <= 0:
            raise bad(key, f"must be greater than 0, got {getattr(b, key)!r}")
    if not 0 < b.complaint_warn_rate < 1:
        raise bad("complaint_warn_rate", f"must be a fraction between 0 and 1, got {b.complaint_warn_rate!r}")
    if "/" in b.aside or not b.aside.strip():
        raise bad("aside", f"a folder name without '/', got {b.aside!r}")


def _validate_database_url(url: str) -> None:
    """A URL SQLAlchemy can parse, of a database we support; the error shows it with its password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = mask_url(url)
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ConfigError(f"config key database.url: expected a sqlite:/// or postgresql:// URL, got {shown!r}")
    try:
        make_url(url)
    except (ArgumentError, ValueError) as exc:  # a port that is not a number, and the like
        reason = mask_url(str(exc)).replace(url, shown)
        raise ConfigError(f"config key database.url: cannot parse {shown!r}: {reason}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None


def _did_you_mean(name: str, known: Any, section: str = "", env: bool = False) -> str:
    """'; did you mean smtp.starttls?' for the closest known name (a typo), or ''; also across sections."""
    import difflib

    names = list(known)
    close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.75)
    if close:
        full = f"{section}.{close[0]}" if section else close[0]
    else:  # the right key in another section ([smtp] from = ... for [newsletter] sender is not guessed)
        others = [(sec, k) for sec, cls in _SECTIONS.items() if sec != section for k in get_type_hints(cls)]
        match = difflib.get_close_matches(name.lower(), [k for _s, k in others], n=1, cutoff=0.9) if section else []
        if not match:
            return ""
        full = next(f"{sec}.{k}" for sec, k in others if k == match[0])
    shown = f"DIGEST_{full.replace('.', '_').upper()}" if env else full
    return f"; did you mean {shown}?"


def load_config(path: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None,
                root: Path | None = None) -> Config:
    """Load settings; raise :class:`ConfigError` with a one-line message on any problem."""
    env = dict(os.environ if env is None else env)
    if path is None and env.get("DIGEST_CONFIG"):
        path = env["DIGEST_CONFIG"]
    layers: list[tuple[str, dict[str, Any]]] = [("defaults", _read_toml(config_dir() / "digest.toml"))]
    if path is not None:
        layers.append((str(path), _read_toml(Path(path))))

    values: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    explicit: set[str] = set()
    for origin, data in layers:
        for section, table in data.items():
            if section not in _SECTIONS:
                raise ConfigError(f"config key {section}: unknown section in {origin}{_did_you_mean(section, _SECTIONS)} "
                                  f"(known: {', '.join(sorted(_SECTIONS))})")
            if not isinstance(table, dict):
                raise ConfigError(f"config key {section}: expected a [{section}] table in {origin}")
            hints = get_type_hints(_SECTIONS[section])
            for key, raw in table.items():
                if key not in hints:
                    raise ConfigError(f"config key {section}.{key}: unknown key in {origin}"
                                      f"{_did_you_mean(key, hints, section)}")
                if (section, key) in SECRET_KEYS and raw not in ("", None):
                    var = f"DIGEST_{section.upper()}_{key.upper()}"
                    raise ConfigError(f"config key {section}.{key}: secrets are read from the environment only; "
                                      f"set {var} instead of writing it in {origin}")
                values[section][key] = _coerce(section, key, raw, hints[key], False)
                if origin != "defaults":
                    explicit.add(f"{section}.{key}")

    for var, raw in env.items():
        if not var.startswith("DIGEST_") or var in ("DIGEST_CONFIG",) or var.startswith("DIGEST_TEST_"):
            continue
        rest = var[len("DIGEST_"):].lower()
        for section in sorted(_SECTIONS, key=len, reverse=True):
            if rest.startswith(section + "_"):
                key = rest[len(section) + 1:]
                hints = get_type_hints(_SECTIONS[section])
                if key not in hints:
                    raise ConfigError(f"config key {section}.{key}: unknown key in environment variable {var}"
                                      f"{_did_you_mean(key, hints, section, env=True)}")
                values[section][key] = _coerce(section, key, raw, hints[key], True)
                explicit.add(f"{section}.{key}")
                break

    cfg_path = Path(path).resolve() if path is not None else None
    sections = {name: cls(**values[name]) for name, cls in _SECTIONS.items()}
    cfg = Config(**sections, root=root or Path.cwd(), source=cfg_path, explicit=frozenset(explicit))
    _validate(cfg)
    return cfg
