"""DKIM signing with dkimpy: the signature covers both List-Unsubscribe headers and verifies."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import dkim
import pytest
from conftest import SmtpSink

from digest.config import Config
from digest.errors import ConfigError
from digest.issue.render import PREFERENCES, UNSUBSCRIBE, RenderedIssue
from digest.mail.deliver import deliver
from digest.mail.dkim import DkimSigner, dkim_signer
from digest.mail.message import MessageFactory, Recipient
from digest.store import Issue, Store, utcnow
from digest.tokens import TokenSigner

SELECTOR, DOMAIN = "digest2026", "example.org"


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A fresh RSA key (PEM file) and its DNS TXT record."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (needed to generate the test's RSA key)")
    d = tmp_path_factory.mktemp("dkim")
    key = d / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dnsfunc_for(record: bytes):  # type: ignore[no-untyped-def]
    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return record if name.rstrip(b".") == f"{SELECTOR}._domainkey.{DOMAIN}".encode() else b""
    return dnsfunc


def factory(signer: DkimSigner | None) -> MessageFactory:
    rendered = RenderedIssue(subject="Cyber Digest, 28 Nov 2026: Jewelbug Breached Russian IT Firm",
                             html=f'<p>Hi é <a href="{UNSUBSCRIBE}">unsubscribe</a> <a href="{PREFERENCES}">p</a></p>\n'
                                  ".starts with a dot\n",
                             text=f"Hi\n.dot line\nUnsubscribe: {UNSUBSCRIBE}\n", preheader="")
    return MessageFactory(rendered, sender="Cyber Digest <digest@example.org>", base_url="https://d.example.org",
                          signer=TokenSigner(b"k" * 32), issue_id=3, reply_to="desk@example.org",
                          unsubscribe_mailto="unsubscribe@example.org", dkim=signer)


def dkim_config(config: Config, key: Path) -> Config:
    return config.replace(smtp={"dkim_selector": SELECTOR, "dkim_domain": DOMAIN, "dkim_key_file": str(key)})


def test_signed_message_verifies_and_covers_both_list_unsubscribe_headers(config: Config,
                                                                         keypair: tuple[Path, bytes]) -> None:
    key, record = keypair
    signer = dkim_signer(dkim_config(config, key))
    assert signer is not None
    raw = factory(signer).build(Recipient(5, "reader@example.net", "n"))
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=dnsfunc_for(record))
    sig = raw.split(b"\r\n\r\n", 1)[0].decode()
    h = re.search(r"\bh=([^;]+)", sig.replace("\r\n", "").replace(" ", "").replace("\t", ""))
    assert h is not None
    signed = {x.lower() for x in h.group(1).split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject", "list-id", "message-id"} <= signed


def test_tampering_with_a_signed_unsubscribe_header_or_body_fails_verification(
        config: Config, keypair: tuple[Path, bytes]) -> None:
    key, record = keypair
    raw = factory(dkim_signer(dkim_config(config, key))).build(Recipient(5, "reader@example.net", "n"))
    swapped = re.sub(rb"/unsubscribe/[^>\s]+>", b"/unsubscribe/forged>", raw, count=1)
    assert swapped != raw and not dkim.verify(swapped, dnsfunc=dnsfunc_for(record))
    post = raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x")
    assert not dkim.verify(post, dnsfunc=dnsfunc_for(record))
    assert not dkim.verify(raw.replace(b"Hi", b"Ho", 1), dnsfunc=dnsfunc_for(record))


def test_a_message_delivered_over_smtp_still_verifies(smtp_config: Config, smtp_server: SmtpSink,
                                                      keypair: tuple[Path, bytes]) -> None:
    key, record = keypair
    store = Store.open(smtp_config)
    store.add_subscriber("reader@example.net", confirmed=True)
    with store.session() as s:
        issue = Issue(issue_date="2026-11-28", period_start=utcnow(), period_end=utcnow(), subject="S", html="",
                      text="", status="sending")
        s.add(issue)
        s.flush()
        issue_id = issue.id
    report = deliver(store, smtp_config.smtp, issue_id, factory(dkim_signer(dkim_config(smtp_config, key))))
    assert report.sent == 1
    received = smtp_server.messages[0][2]
    assert b"..starts with a dot" not in received  # the server undid the dot-stuffing
    assert dkim.verify(received, dnsfunc=dnsfunc_for(record))


def test_dkim_is_off_unless_configured_and_a_bad_key_is_a_config_error(config: Config, tmp_path: Path) -> None:
    assert dkim_signer(config) is None
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="dkim_key_file"):
        dkim_signer(dkim_config(config, bad))
    with pytest.raises(ConfigError, match="dkim_key_file"):
        dkim_signer(dkim_config(config, tmp_path / "missing.pem"))


def test_the_signer_travels_to_sender_processes(config: Config, keypair: tuple[Path, bytes]) -> None:
    import pickle

    key, record = keypair
    f = pickle.loads(pickle.dumps(factory(dkim_signer(dkim_config(config, key)))))
    assert dkim.verify(f.build(Recipient(1, "a@example.net")), dnsfunc=dnsfunc_for(record))


def test_verp_envelope_and_dkim_together(smtp_config: Config, smtp_server: SmtpSink,
                                         keypair: tuple[Path, bytes]) -> None:
    """The VERP envelope sender changes nothing DKIM signs: the delivered message still verifies."""
    from digest.issue.build import make_factory
    from digest.mail.verp import reader

    key, record = keypair
    cfg = dkim_config(smtp_config, key)
    store = Store.open(cfg)
    sub, _ = store.add_subscriber("reader@example.net", confirmed=True)
    with store.session() as s:
        issue = Issue(issue_date="2026-11-28", period_start=utcnow(), period_end=utcnow(), subject="S", html="",
                      text="", status="sending")
        s.add(issue)
        s.flush()
        issue_id = issue.id
    secret = store.secret_key()
    rendered = RenderedIssue(subject="S", html=f'<a href="{UNSUBSCRIBE}">u</a>', text=f"u {UNSUBSCRIBE}\n", preheader="")
    assert deliver(store, cfg.smtp, issue_id, make_factory(cfg, secret, issue_id, rendered)).sent == 1
    mail_from, _rcpts, received = smtp_server.messages[0]
    claims = reader(cfg, secret).parse(mail_from)
    assert claims is not None and claims[1] is not None and claims[1].subscriber_id == sub.id
    assert b"From: Cyber Digest <digest@example.org>" in received
    assert dkim.verify(received, dnsfunc=dnsfunc_for(record))


def test_a_key_made_by_dknewkey_as_the_readme_says_signs_and_verifies(config: Config, tmp_path: Path) -> None:
    """README "Deploying it": `dknewkey digest2026` (installed with dkimpy) makes the key and its DNS record."""
    import sys

    tool = Path(sys.executable).parent / "dknewkey"
    if not tool.exists():
        pytest.skip("dknewkey is not installed beside this interpreter")
    subprocess.run([str(tool), SELECTOR], cwd=tmp_path, check=True, capture_output=True)
    record = (tmp_path / f"{SELECTOR}.dns").read_bytes().strip()
    assert record.startswith(b"v=DKIM1; k=rsa;")
    signer = dkim_signer(dkim_config(config, tmp_path / f"{SELECTOR}.key"))
    assert signer is not None
    raw = factory(signer).build(Recipient(5, "reader@example.net", "n"))
    assert dkim.verify(raw, dnsfunc=dnsfunc_for(record))
