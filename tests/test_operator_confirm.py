"""Issue 17 item 10: a confirmation mail that could not be sent is not hidden, and it is retried.

Real parts: the web app over HTTP (Starlette through httpx), aiosmtpd for the mail server, a port
with nothing listening for a mail server that is down, the CLI and a real worker process.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import SmtpSink, free_port, write_config
from test_operator_logs import worker_until
from test_web import (  # noqa: F401
    BASE,
    GENERIC,
    confirm_path,
    confirmed,
    make_client,
    signup,
    sub_of,
    web_config,
    web_store,
)

from digest.cli.main import cli
from digest.config import Config
from digest.store import Store


def run(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def test_the_page_says_the_mail_failed_for_any_address_and_resend_confirm_sends_it(
        web_config: Config, web_store: Store, smtp_server: SmtpSink, tmp_path: Path) -> None:  # noqa: F811
    confirmed(web_store, "known@example.org")
    down = web_config.replace(smtp={"port": free_port(), "timeout_seconds": 5.0})
    with make_client(down, web_store) as c:
        new = signup(c, "new@example.org")
        known = signup(c, "known@example.org")
    assert new.status_code == 503 and "could not be sent" in new.text and GENERIC not in new.text
    # an address that needs no mail gets the same answer while the server is down: nothing to learn
    assert (known.status_code, known.text) == (new.status_code, new.text)
    assert sub_of(web_store, "new@example.org").status == "pending"
    assert smtp_server.messages == []

    cfg = write_config(tmp_path, f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
                                 f'[newsletter]\nbase_url = "{BASE}"\n',
                       db_url=web_store.engine.url.render_as_string(hide_password=False))
    resent = run(cfg, "subscribers", "resend-confirm")
    assert resent.exit_code == 0, resent.output
    assert "1 confirmation mail sent" in resent.output
    mails = smtp_server.to("new@example.org")
    assert len(mails) == 1 and smtp_server.to("known@example.org") == []
    with make_client(web_config, web_store) as c:
        assert c.get(confirm_path(mails[0])).status_code == 200
    assert sub_of(web_store, "new@example.org").status == "confirmed"
    again = run(cfg, "subscribers", "resend-confirm")  # nothing owed any more
    assert again.exit_code == 0 and "0 confirmation mails sent" in again.output


def test_cli_subscribe_without_a_mail_server_keeps_the_address_and_says_how_to_resend(
        tmp_path: Path, smtp_server: SmtpSink) -> None:
    cfg = write_config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\ntimeout_seconds = 5.0\n')
    r = run(cfg, "subscribe", "reader@example.org")
    assert r.exit_code == 1
    assert "kept as pending" in r.output and "digest subscribers resend-confirm reader@example.org" in r.output
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    sub = store.subscriber(email="reader@example.org")
    assert sub is not None and sub.status == "pending" and sub.confirm_sent_at is None
    failed = run(cfg, "subscribers", "resend-confirm", "reader@example.org")  # still down: says so, exit 1
    assert failed.exit_code == 1 and "not sent" in failed.output
    assert "1 confirmation mail not sent yet" in run(cfg, "status").output  # status shows what is owed

    up = write_config(tmp_path, f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n')
    ok = run(up, "subscribers", "resend-confirm", "reader@example.org")
    assert ok.exit_code == 0 and "sent reader@example.org" in ok.output, ok.output
    mail = smtp_server.to("reader@example.org")
    assert len(mail) == 1
    date = parsedate_to_datetime(mail[0]["Date"])  # item 11: a real zone, not -0000 ("unknown")
    assert not mail[0]["Date"].endswith("-0000") and date.utcoffset() is not None


@pytest.mark.timeout(120)
def test_the_worker_sends_the_confirmation_mails_that_failed(tmp_path: Path, smtp_server: SmtpSink) -> None:
    down = write_config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\ntimeout_seconds = 5.0\n')
    assert run(down, "subscribe", "late@example.org").exit_code == 1
    cfg = write_config(tmp_path, f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
                                 '[feeds]\nfetch_pages = false\n')
    err = worker_until(cfg, lambda: len(smtp_server.to("late@example.org")) == 1)
    assert "1 confirmation mail sent" in err
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    sub = store.subscriber(email="late@example.org")
    assert sub is not None and sub.confirm_sent_at is not None


def test_an_import_whose_mails_failed_says_they_are_kept_and_how_to_resend(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\ntimeout_seconds = 5.0\n')
    (tmp_path / "list.txt").write_text("one@example.org\ntwo@example.org\n")
    r = run(cfg, "subscribers", "import", str(tmp_path / "list.txt"))
    assert "2 added" in r.output and "0 confirmation mails sent" in r.output
    assert "kept as pending" in r.output and "digest subscribers resend-confirm" in r.output
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    assert {s.email for s in store.subscribers("pending")} == {"one@example.org", "two@example.org"}
