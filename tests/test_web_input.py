"""Untrusted input at the web app's edges: token spellings, confirm-link lifetime, ids out of range,
redirects under a hostile Host header, tokens in the access log, secrets in printed settings.

Against the real ASGI app (test_web.TestClient) and, where logging and redirects are uvicorn's
business, a real `digest serve` child process on loopback.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from conftest import ROOT, SmtpSink, free_port, write_config
from sqlalchemy import text
from starlette.types import ASGIApp, Receive, Scope, Send
from test_tokens import _respellings
from test_web import TestClient, body_text, make_client, signup, sub_of

from digest import logs
from digest.config import Config, load_config, mask_url
from digest.store import Store
from digest.store.db import MIGRATIONS, make_engine
from digest.tokens import TokenSigner
from digest.web import create_app

#: the configured public URL; the test client speaks to the app as http://testserver
PUBLIC = "http://digest.example.org"


@pytest.fixture
def wconfig(smtp_config: Config) -> Config:
    return smtp_config.replace(newsletter={"base_url": PUBLIC},
                               web={"signup_rate_per_hour": 1000})


@pytest.fixture
def wstore(wconfig: Config) -> Iterator[Store]:
    s = Store.open(wconfig)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def web(wconfig: Config, wstore: Store) -> Iterator[TestClient]:
    with make_client(wconfig, wstore) as c:
        yield c


@pytest.fixture
def wsigner(wconfig: Config, wstore: Store) -> TokenSigner:
    return TokenSigner(wstore.secret_key(wconfig.security.secret_key))


ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"content-type": "application/x-www-form-urlencoded"}}


# ---- 1. one spelling per token -----------------------------------------------------------------
def test_other_spellings_of_an_unsubscribe_link_change_nothing(web: TestClient, wstore: Store,
                                                                wsigner: TokenSigner) -> None:
    sub = wstore.add_subscriber("spell@example.org", confirmed=True)[0]
    # a long-lived token whose signature has a - or _ (so that the standard alphabet spells it otherwise)
    token = next(t for n in range(500) if {"-", "_"} & set(
        (t := wsigner.sign("unsubscribe", sub.id, sub.token_nonce, ttl_seconds=10**6 + n)).split(".")[1]))
    for other in _respellings(token):
        r = web.post("/unsubscribe/" + quote(other, safe=""), **ONE_CLICK)
        assert r.status_code in (400, 404), other  # 404: a "/" of the standard alphabet ends the path
        assert sub_of(wstore, "spell@example.org").status == "confirmed"
    assert web.post("/unsubscribe/" + token, **ONE_CLICK).status_code == 200
    assert sub_of(wstore, "spell@example.org").status == "unsubscribed"


# ---- 2. the confirm nonce rotates ---------------------------------------------------------------
def _confirm_links(smtp: SmtpSink, address: str) -> list[str]:
    return [re.search(r"/confirm/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", body_text(m)).group(0)  # type: ignore[union-attr]
            for m in smtp.to(address)]


def test_old_confirm_link_is_dead_after_unsubscribe_and_new_signup(store: Store, wconfig: Config,
                                                                  smtp_server: SmtpSink) -> None:
    with make_client(wconfig, store) as c:
        assert signup(c, "again@example.org").status_code == 200
        [first] = _confirm_links(smtp_server, "again@example.org")
        r = c.get(first)
        assert r.status_code == 200 and sub_of(store, "again@example.org").status == "confirmed"
        unsub = re.search(r'href="(/unsubscribe/[^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        assert c.post(unsub, **ONE_CLICK).status_code == 200
        assert c.get(first).status_code == 400
        # a new sign-up (the same day) gets a new confirmation mail; only its link confirms
        assert signup(c, "again@example.org").status_code == 200
        links = _confirm_links(smtp_server, "again@example.org")
        assert len(links) == 2 and links[1] != first
        r = c.get(first)
        assert r.status_code == 400 and "not valid" in r.text
        assert sub_of(store, "again@example.org").status == "pending"
        assert c.get(links[1]).status_code == 200
        assert sub_of(store, "again@example.org").status == "confirmed"
        # the unsubscribe link mailed before still works (its nonce did not change)
        assert c.post(unsub, **ONE_CLICK).status_code == 200
        assert sub_of(store, "again@example.org").status == "unsubscribed"


def test_cli_unsubscribe_also_rotates_the_confirm_nonce(store: Store, wconfig: Config,
                                                        smtp_server: SmtpSink) -> None:
    with make_client(wconfig, store) as c:
        signup(c, "cli@example.org")
        [link] = _confirm_links(smtp_server, "cli@example.org")
        sub = sub_of(store, "cli@example.org")
        store.set_subscriber_status(sub.id, "unsubscribed")  # what `digest unsubscribe` does
        store.add_subscriber("cli@example.org")  # and `digest subscribe` again
        assert c.get(link).status_code == 400
        assert sub_of(store, "cli@example.org").status == "pending"


def test_migration_keeps_mailed_confirm_links_working(db_url: str) -> None:
    """Rows from before 0003 get confirm_nonce = token_nonce: a confirm link already mailed still works."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text("INSERT INTO subscribers (email, status, created_at, hard_bounces, token_nonce, "
                          "preferences) VALUES ('old@example.org', 'pending', CURRENT_TIMESTAMP, 0, 'abc123', '{}')"))
    engine.dispose()
    s = Store.open(db_url)
    try:
        sub = sub_of(s, "old@example.org")
        assert sub.confirm_nonce == "abc123"
        assert s.add_subscriber("new@example.org")[0].confirm_nonce not in ("", "abc123")
    finally:
        s.close()


# ---- 3. ids out of range ----------------------------------------------------------------------------
def test_archive_ids_out_of_range_are_404(store: Store, wconfig: Config) -> None:
    with make_client(wconfig, store) as c:
        for issue_id in ("9" * 20, str(2**63), str(2**63 - 1), str(2**64 + 1), "1" + "0" * 300, "0", "9" * 5000, "-1", "1e3", "abc"):
            r = c.get(f"/archive/{issue_id}")
            assert r.status_code == 404, issue_id[:30]
            assert "nothing at this address" in r.text
        assert c.get("/healthz").text == "ok"


# ---- 4. redirects name the configured site, never the Host header --------------------------------------
HOSTILE = {"host": "evil.example", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https"}


@pytest.mark.parametrize(("path", "location"), [
    ("/archive", "/archive/"),
    ("/archive?page=2", "/archive/?page=2"),
    ("/subscribe/", "/subscribe"),
    ("/feed.xml/", "/feed.xml"),
    ("/healthz/", "/healthz"),
    ("/confirm/abc.def/", "/confirm/abc.def"),
    ("/unsubscribe/a%3Fb.c/", "/unsubscribe/a%3Fb.c"),  # a "?" in the path stays part of the path
    ("/archive?x=%0d%0aSet-Cookie:%20a=b", "/archive/?x=%0d%0aSet-Cookie:%20a=b"),
])
def test_slash_redirects_use_the_configured_base_url(web: TestClient, path: str, location: str) -> None:
    r = web.get(path, headers=HOSTILE, follow_redirects=False)
    assert r.status_code in (301, 302, 307, 308)
    assert r.headers["location"] == PUBLIC + location
    assert "set-cookie" not in r.headers


def test_paths_that_match_nothing_either_way_are_404(web: TestClient) -> None:
    for path in ("/nothing", "/nothing/", "/%2F%2Fevil.example/", "/archive//", "/static/"):
        r = web.get(path, headers=HOSTILE, follow_redirects=False)
        assert r.status_code == 404, path
        assert "location" not in r.headers


# ---- 6. database passwords are masked wherever settings are printed ---------------------------------
@pytest.mark.parametrize("url", [
    "mysql://root:hunter2@db.example/digest",  # not a database we support
    "postgresql://digest:hunter2@127.0.0.1:notaport/digest",  # SQLAlchemy cannot parse it
    "postgresql://digest:hun@ter2@db.example:port/digest",  # an unquoted "@" in the password
    "postgresql+psycopg://digest:hunter2@127.0.0.1:1/digest",  # nobody listens there
    "postgresql+psycopg://127.0.0.1:1/digest?password=hunter2",  # the password as a libpq parameter
])
def test_database_errors_never_print_the_password(config_file, url: str) -> None:
    from click.testing import CliRunner

    from digest.cli.main import cli

    env = {k: "" for k in os.environ if k.startswith("DIGEST_") and not k.startswith("DIGEST_TEST_")}
    result = CliRunner().invoke(cli, ["--config", str(config_file), "status"],
                                env={**env, "DIGEST_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 1
    assert "hunter2" not in result.output and "ter2" not in result.output
    assert "***" in result.output or "127.0.0.1:1/digest" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_mask_url_and_config_repr() -> None:
    assert mask_url("postgresql://user:s3cret@host/db") == "postgresql://user:***@host/db"
    assert mask_url("postgresql+psycopg://u:p@ss@h:5432/db x") == "postgresql+psycopg://u:***@h:5432/db x"
    assert mask_url("sqlite:///var/digest.db") == "sqlite:///var/digest.db"
    assert mask_url("https://example.org/feed.xml") == "https://example.org/feed.xml"
    cfg = load_config(env={"DIGEST_DATABASE_URL": "postgresql://u:s3cret@h/db", "DIGEST_SMTP_PASSWORD": "s3cret",
                           "DIGEST_SECURITY_SECRET_KEY": "s3cret" * 4, "DIGEST_SUMMARIZER_API_KEY": "s3cret"})
    assert cfg.database.url == "postgresql://u:s3cret@h/db" and cfg.smtp.password == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert "postgresql://u:***@h/db" in repr(cfg)


# ---- 4 and 5 on a real `digest serve -v`: redirects and the access log ----------------------------------
def test_served_redirects_and_access_log_hold_no_host_and_no_token(tmp_path: Path) -> None:
    from test_web_serve import _env, _wait_up

    port = free_port()
    local = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path, f'[newsletter]\nbase_url = "{PUBLIC}"\n[web]\nport = {port}\n')
    proc = subprocess.Popen([sys.executable, "-m", "digest.cli.web", "--config", str(cfg), "-v", "serve"],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    signer = TokenSigner(_env()["DIGEST_SECURITY_SECRET_KEY"].encode())
    tokens = {kind: signer.sign(kind, 1, "n0nce") for kind in ("confirm", "unsubscribe", "preferences")}
    try:
        _wait_up(proc, local)
        with httpx.Client(base_url=local, timeout=10) as http:
            r = http.get("/archive", headers=HOSTILE)
            assert r.status_code == 307 and r.headers["location"] == PUBLIC + "/archive/"
            r = http.get("/subscribe/?a=1", headers=HOSTILE)
            assert r.status_code == 307 and r.headers["location"] == PUBLIC + "/subscribe?a=1"
            for kind, token in tokens.items():
                assert http.get(f"/{kind}/{token}").status_code == 400  # no such subscriber
                assert http.get(f"/{kind}/{token}/").status_code == 307
            assert http.post(f"/unsubscribe/{tokens['unsubscribe']}", **ONE_CLICK).status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out = proc.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0].decode(errors="replace")
    assert '"GET /archive HTTP/1.1" 307' in out  # the access log is on with -v ...
    assert '"GET /unsubscribe/*** HTTP/1.1" 400' in out and '"POST /unsubscribe/*** HTTP/1.1" 400' in out
    for token in tokens.values():  # ... and holds no token, neither whole nor either half
        for part in token.split("."):
            assert part not in out
    assert "evil.example" not in out


@pytest.mark.parametrize("json_lines", [False, True])
def test_log_lines_mask_tokens_and_passwords(capsys: pytest.CaptureFixture[str], json_lines: bool) -> None:
    """Whoever logs (uvicorn's access log, our code, an exception's text): no token, no URL password."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    token = TokenSigner(b"k" * 32).sign("preferences", 7, "n0nce")
    try:
        logs.setup(1, json_lines=json_lines)
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                                                 f"/preferences/{token}?x=1", "1.1", 200)
        try:
            raise RuntimeError(f"cannot reach postgresql://digest:hunter2@db/digest for /confirm/{token}")
        except RuntimeError:
            logging.getLogger("digest.ops.worker").exception("failed on %s", "postgresql://digest:hunter2@db/x")
        broken = ("%d of %d", "bad")  # a call whose arguments do not fit: reported by logging, not raised
        logging.getLogger("digest.ops.worker").warning(*broken)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "/preferences/***?x=1" in err and "/confirm/***" in err and "digest:***@db/x" in err
    assert "RuntimeError" in err  # the exception is still logged, masked
    assert "hunter2" not in err
    for part in token.split("."):
        assert part not in err


# ---- review: links and redirects behind a proxy that mounts the app under a path ------------------------
def _mounted(app: ASGIApp, prefix: str) -> ASGIApp:
    """What a proxy with a path prefix (uvicorn --root-path) hands the app: root_path set, path full."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "root_path": prefix, "path": prefix + scope["path"]}
        await app(scope, receive, send)

    return wrapper


def test_links_and_redirects_under_a_path_prefix(wconfig: Config, wstore: Store, wsigner: TokenSigner) -> None:
    config = wconfig.replace(newsletter={"base_url": PUBLIC + "/digest"})
    sub = wstore.add_subscriber("mounted@example.org", confirmed=True)[0]
    token = wsigner.sign("preferences", sub.id, sub.token_nonce)
    with TestClient(_mounted(create_app(config, wstore), "/digest")) as c:
        r = c.post(f"/preferences/{token}", data={"mode": "all"})  # no CSRF token: the "try again" page
        assert r.status_code == 403
        assert f'href="/digest/preferences/{token}"' in r.text
        r = c.get("/archive", headers=HOSTILE, follow_redirects=False)
        assert r.headers["location"] == PUBLIC + "/digest/archive/"


def test_cli_subscribe_unsubscribe_subscribe_mails_a_new_link_and_kills_the_old(tmp_path: Path,
                                                                                smtp_server: SmtpSink) -> None:
    from click.testing import CliRunner

    from digest.cli.main import cli

    cfg_file = write_config(tmp_path, f'[newsletter]\nbase_url = "{PUBLIC}"\n'
                                      f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n')
    env = {k: "" for k in os.environ if k.startswith("DIGEST_") and not k.startswith("DIGEST_TEST_")}

    def digest(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(cfg_file), *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    digest("subscribe", "op@example.org")
    digest("unsubscribe", "op@example.org")
    digest("subscribe", "op@example.org")
    old, new = _confirm_links(smtp_server, "op@example.org")
    config = load_config(cfg_file, env=env, root=tmp_path)
    store = Store.open(config)
    try:
        with make_client(config, store) as c:
            assert c.get(old).status_code == 400
            assert sub_of(store, "op@example.org").status == "pending"
            assert c.get(new).status_code == 200
            assert sub_of(store, "op@example.org").status == "confirmed"
    finally:
        store.close()


def test_serve_alone_reports_a_database_error_in_one_masked_line(config_file: Path) -> None:
    """`python -m digest.cli.web serve` printed a traceback (the URL's libpq password in it)."""
    from test_web_serve import _env

    env = {**_env(), "DIGEST_DATABASE_URL": "postgresql+psycopg://digest:hunter2@127.0.0.1:1/db?password=hunter2"}
    proc = subprocess.run([sys.executable, "-m", "digest.cli.web", "--config", str(config_file), "serve"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "hunter2" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("Error: database 127.0.0.1:1/db") and len(proc.stderr.splitlines()) == 1


def test_access_log_is_masked_after_uvicorn_configured_its_own_loggers(capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn's dictConfig (an earlier in-process server) gives uvicorn.access its own handler; ours wins."""
    import logging.config

    import uvicorn.config

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    token = TokenSigner(b"k" * 32).sign("preferences", 7, "n0nce")
    try:
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        logs.setup(1)
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                                                 f"/preferences/{token}", "1.1", 200)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    captured = capsys.readouterr()
    assert "/preferences/***" in captured.err
    for part in token.split("."):
        assert part not in captured.err + captured.out
