"""Shared fixtures: configs in temp folders, real SQLite and PostgreSQL stores, a real SMTP server."""

from __future__ import annotations

import email.message
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PG_URL = os.environ.get("DIGEST_TEST_POSTGRES_URL", "")


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test when the corpus is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/{'/'.join(parts)} is absent (the shared corpus is not on this machine)")
    return path


def write_config(tmp: Path, text: str = "", *, db_url: str | None = None) -> Path:
    db = db_url or f"sqlite:///{tmp / 'digest.db'}"
    body = (f"[database]\nurl = \"{db}\"\n[feeds]\nallow_private_networks = true\nfile = \"{tmp / 'feeds.toml'}\"\n"
            f"extract_workers = 1\ntimeout_seconds = 5.0\n"
            f"[outbox]\ndir = \"{tmp / 'outbox'}\"\n")
    # merge extra sections textually: later [section] tables would be a TOML error, so append keys
    path = tmp / "digest.toml"
    path.write_text(_merge(body, text), encoding="utf-8")
    if not (tmp / "feeds.toml").exists():
        (tmp / "feeds.toml").write_text("", encoding="utf-8")
    return path


def _merge(base: str, extra: str) -> str:
    import tomllib

    data = tomllib.loads(base)
    for section, table in tomllib.loads(extra).items():
        data.setdefault(section, {}).update(table)
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        for k, v in table.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, (int, float)):
                lines.append(f"{k} = {v}")
            else:
                lines.append(f'{k} = "{v}"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def config(config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    for var in list(os.environ):
        if var.startswith("DIGEST_") and not var.startswith("DIGEST_TEST_"):
            monkeypatch.delenv(var)
    return load_config(config_file, root=tmp_path)


def _pg_schema_url() -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set DIGEST_TEST_POSTGRES_URL (.ci/run sets it)")
    from sqlalchemy import create_engine, text

    url, schema = _pg_schema_url()
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "absent"
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {type(exc).__name__}")
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


# ---- a real SMTP server --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    #: rcpt address -> (code, message) to refuse with
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)

    def parsed(self) -> list[Message]:
        return [message_from_bytes(data) for _f, _t, data in self.messages]

    def to(self, address: str) -> list[Message]:
        return [message_from_bytes(d) for _f, rcpts, d in self.messages if address in rcpts]


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """aiosmtpd on loopback, recording every accepted message."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink("127.0.0.1", free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in sink.refuse:
                code, msg = sink.refuse[address]
                return f"{code} {msg}"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or
                                  envelope.content))
            return "250 Message accepted"

    controller = Controller(Handler(), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_config(config: Config, smtp_server: SmtpSink) -> Config:
    return config.replace(smtp={"host": smtp_server.host, "port": smtp_server.port, "pool_size": 2,
                                "retry_deadline_seconds": 5.0})


# a programmable local HTTP server (tests/httpserver.py) as the `http_server` fixture everywhere
from httpserver import http_server_fixture  # noqa: F401


def decoded_subject(msg: email.message.Message) -> str:
    """A message's Subject as a reader sees it (a cut subject ends in '…', so it is RFC 2047 encoded)."""
    from email.header import decode_header, make_header

    return str(make_header(decode_header(msg["Subject"])))
