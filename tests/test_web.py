"""HTTP-level tests of the web app (httpx via Starlette's TestClient against the ASGI app).

Confirmation mail goes to the real aiosmtpd sink; links are followed from the mail as received.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Self

import anyio
import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from conftest import SmtpSink, free_port
from sqlalchemy import select
from starlette.types import ASGIApp

from digest.config import Config
from digest.mail.ledger import DeliveryLedger
from digest.store import Actor, Issue, Store, Subscriber, utcnow
from digest.store.db import make_engine
from digest.tokens import TokenSigner
from digest.web import create_app

BASE = "http://testserver"
ATOM = "{http://www.w3.org/2005/Atom}"
GENERIC = "Check your inbox"


# ---- a synchronous httpx client for the ASGI app (with its lifespan) --------------------------------
class TestClient:
    """httpx.AsyncClient over httpx.ASGITransport, driven from sync tests through an anyio portal.

    The transport awaits the whole ASGI call, background tasks (the confirmation mail) included, so a
    request has finished all its work when it returns.
    """

    __test__ = False

    def __init__(self, app: ASGIApp, base_url: str = BASE, client: tuple[str, int] = ("192.0.2.10", 40000)) -> None:
        self.app = app
        self.base_url = base_url
        self.peer = client

    def __enter__(self) -> Self:
        self._portal_cm = start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(self.app, client=self.peer),
                                      base_url=self.base_url, follow_redirects=True)
        self.portal.call(self._open_lifespan)
        self._lifespan = self.portal.start_task_soon(
            self.app, {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
            self._to_app_r.receive, self._from_app_s.send)
        self.portal.call(self._to_app_s.send, {"type": "lifespan.startup"})
        assert self.portal.call(self._from_app_r.receive)["type"] == "lifespan.startup.complete"
        return self

    async def _open_lifespan(self) -> None:
        self._to_app_s, self._to_app_r = anyio.create_memory_object_stream[dict](4)
        self._from_app_s, self._from_app_r = anyio.create_memory_object_stream[dict](4)

    async def _close(self) -> None:
        await self.http.aclose()
        for stream in (self._to_app_s, self._to_app_r, self._from_app_s, self._from_app_r):
            await stream.aclose()

    def __exit__(self, *exc: object) -> None:
        try:
            self.portal.call(self._to_app_s.send, {"type": "lifespan.shutdown"})
            assert self.portal.call(self._from_app_r.receive)["type"] == "lifespan.shutdown.complete"
            self._lifespan.result(timeout=10)
            self.portal.call(self._close)
        finally:
            self._portal_cm.__exit__(None, None, None)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies

    def request(self, method: str, url: str, **kw: object) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kw))  # type: ignore[arg-type]

    def get(self, url: str, **kw: object) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: object) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: object) -> httpx.Response:
        return self.request("PUT", url, **kw)


# ---- fixtures and helpers --------------------------------------------------------------------------
@pytest.fixture
def web_config(smtp_config: Config) -> Config:
    return smtp_config.replace(newsletter={"base_url": BASE}, web={"signup_rate_per_hour": 1000})


@pytest.fixture
def web_store(web_config: Config) -> Iterator[Store]:
    s = Store.open(web_config)
    try:
        yield s
    finally:
        s.close()


def make_client(config: Config, store: Store, host: str = "192.0.2.10") -> TestClient:
    return TestClient(create_app(config, store), base_url=BASE, client=(host, 40000))


@pytest.fixture
def client(web_config: Config, web_store: Store) -> Iterator[TestClient]:
    with make_client(web_config, web_store) as c:
        yield c


@pytest.fixture
def signer(web_config: Config, web_store: Store) -> TokenSigner:
    return TokenSigner(web_store.secret_key(web_config.security.secret_key))


def csrf_token(client: TestClient, path: str = "/subscribe") -> str:
    r = client.get(path)
    assert r.status_code == 200
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
    assert m, "no CSRF field on " + path
    return m.group(1)


def signup(client: TestClient, email: str, **extra: str):
    data = {"csrf_token": csrf_token(client), "email": email, "website": "", **extra}
    return client.post("/subscribe", data=data)


def body_text(msg: Message) -> str:
    part = msg.get_payload(decode=True)
    assert isinstance(part, bytes)
    return part.decode("utf-8")


def confirm_path(msg: Message) -> str:
    m = re.search(re.escape(BASE) + r"(/confirm/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", body_text(msg))
    assert m, body_text(msg)
    return m.group(1)


def sub_of(store: Store, email: str) -> Subscriber:
    sub = store.subscriber(email=email)
    assert sub is not None
    return sub


def confirmed(store: Store, email: str) -> Subscriber:
    sub, _ = store.add_subscriber(email, confirmed=True)
    return sub


def add_issue(store: Store, status: str = "sent", subject: str = "Cyber Digest, 28 Nov 2026: Jewelbug",
              html: str | None = None, text: str = "Jewelbug breached a Russian IT firm.") -> int:
    now = utcnow()
    html = html or ('<html><head><style>p{color:#333}</style></head><body><p style="margin:0">'
                    f'{subject}</p><a href="%%PREFERENCES_URL%%">Preferences</a> · '
                    '<a href="%%UNSUBSCRIBE_URL%%">Unsubscribe</a></body></html>')
    with store.session() as s:
        issue = Issue(issue_date=now.strftime("%Y-%m-%d"), period_start=now - timedelta(days=1), period_end=now,
                      subject=subject, html=html, text=text + "\nUnsubscribe: %%UNSUBSCRIBE_URL%%\n",
                      status=status, sent_at=now if status == "sent" else None, story_count=3, actor_count=1,
                      article_ids=[], story_keys=[])
        s.add(issue)
        s.flush()
        return issue.id


def add_actors(store: Store) -> None:
    with store.session() as s:
        s.add_all([Actor(id="jewelbug", name="Jewelbug", country="China", aliases=[]),
                   Actor(id="apt28", name="APT28", country="Russia", aliases=[]),
                   Actor(id="scattered-spider", name="Scattered Spider", country=None, aliases=[])])


# ---- security headers and plain routes -------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/subscribe", "/archive/", "/feed.xml", "/healthz", "/static/site.css",
                                  "/no-such-page", "/confirm/forged.token", "/unsubscribe/x.y", "/preferences/x.y"])
def test_security_headers_on_every_answer(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp  # no script of any kind


def test_error_answers_carry_headers_too(client: TestClient) -> None:
    r = client.put("/subscribe")
    assert r.status_code == 405
    assert r.headers["x-frame-options"] == "DENY"
    r = client.post("/subscribe", content=b"email=" + b"a" * 100_000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert r.headers["content-security-policy"]


def test_signup_page_has_form_csrf_and_honeypot(client: TestClient) -> None:
    for path in ("/", "/subscribe"):
        r = client.get(path)
        assert r.status_code == 200
        assert 'action="/subscribe"' in r.text and 'name="email"' in r.text
        assert re.search(r'name="csrf_token" value="[0-9a-f]{40}"', r.text)
        assert 'name="website"' in r.text  # the honeypot
        assert "<script" not in r.text and "style=" not in r.text
    assert "digest_csrf" in client.cookies


def test_healthz(client: TestClient, web_store: Store, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = client.get("/healthz")
    assert (r.status_code, r.text) == (200, "ok")
    # the database goes away under the running app
    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    monkeypatch.setattr(web_store, "engine", broken)
    try:
        r = client.get("/healthz")
        assert r.status_code == 503 and r.text != "ok"
        assert r.headers["x-content-type-options"] == "nosniff"
    finally:
        broken.dispose()
    monkeypatch.undo()
    assert client.get("/healthz").status_code == 200


def test_create_app_opens_its_own_store(web_config: Config) -> None:
    with TestClient(create_app(web_config), base_url=BASE) as c:
        assert c.get("/healthz").text == "ok"
        assert c.get("/archive/").status_code == 200


# ---- sign-up and confirmation -------------------------------------------------------------------
def test_signup_confirm_through_the_mail(client: TestClient, web_store: Store, smtp_server: SmtpSink) -> None:
    r = signup(client, "  Reader@Example.org ")
    assert r.status_code == 200 and GENERIC in r.text
    sub = sub_of(web_store, "reader@example.org")
    assert sub.status == "pending" and sub.confirm_sent_at is not None
    mails = smtp_server.to("reader@example.org")
    assert len(mails) == 1
    assert mails[0]["To"] == "reader@example.org"
    assert "Confirm your subscription" in mails[0]["Subject"]
    path = confirm_path(mails[0])

    r = client.get(path)
    assert r.status_code == 200 and "You are subscribed" in r.text
    first = sub_of(web_store, "reader@example.org")
    assert first.status == "confirmed" and first.confirmed_at is not None
    # idempotent: a second visit (a mail scanner, a double click) changes nothing
    r = client.get(path)
    assert r.status_code == 200 and "already subscribed" in r.text
    again = sub_of(web_store, "reader@example.org")
    assert again.status == "confirmed" and again.confirmed_at == first.confirmed_at
    # the confirmed page links to preferences and unsubscribe with working tokens
    prefs = re.search(r'href="(/preferences/[^"]+)"', r.text)
    unsub = re.search(r'href="(/unsubscribe/[^"]+)"', r.text)
    assert prefs and unsub
    assert client.get(prefs.group(1)).status_code == 200
    assert client.get(unsub.group(1)).status_code == 200


def test_pending_address_receives_nothing_else_until_confirmed(client: TestClient, web_store: Store,
                                                               smtp_server: SmtpSink) -> None:
    signup(client, "new@example.org")
    sub = sub_of(web_store, "new@example.org")
    issue = add_issue(web_store, status="composed")
    assert DeliveryLedger(web_store, issue).enqueue() == 0  # pending: not a recipient
    assert len(smtp_server.messages) == 1  # the confirmation only
    client.get(confirm_path(smtp_server.to("new@example.org")[0]))
    assert DeliveryLedger(web_store, issue).enqueue([sub.id]) == 1


def test_known_and_unknown_addresses_get_the_same_answer(client: TestClient, web_store: Store,
                                                         smtp_server: SmtpSink) -> None:
    confirmed(web_store, "confirmed@example.org")
    gone = confirmed(web_store, "gone@example.org")
    web_store.set_subscriber_status(gone.id, "unsubscribed")
    bounced = confirmed(web_store, "bounced@example.org")
    web_store.set_subscriber_status(bounced.id, "suppressed")
    signup(client, "pending@example.org")
    answers = set()
    for email in ("unknown@example.org", "confirmed@example.org", "gone@example.org", "bounced@example.org",
                  "pending@example.org"):
        r = signup(client, email)
        answers.add((r.status_code, r.text, r.headers.get("set-cookie")))
    assert len(answers) == 1
    assert GENERIC in answers.pop()[1]
    # mail only for the new address, the re-subscribing one, and the first pending sign-up
    assert sorted(rcpt for _f, rcpts, _d in smtp_server.messages for rcpt in rcpts) == [
        "gone@example.org", "pending@example.org", "unknown@example.org"]
    assert sub_of(web_store, "confirmed@example.org").status == "confirmed"
    assert sub_of(web_store, "bounced@example.org").status == "suppressed"
    assert sub_of(web_store, "gone@example.org").status == "pending"  # must confirm again


def test_flood_for_one_address_sends_one_mail_a_day(client: TestClient, web_store: Store,
                                                    smtp_server: SmtpSink) -> None:
    for variant in ["flood@example.org", "FLOOD@example.org", " flood@Example.ORG "] * 4:
        r = signup(client, variant)
        assert r.status_code == 200 and GENERIC in r.text
    assert len(smtp_server.to("flood@example.org")) == 1
    # a day later a new sign-up may send one more
    sub = sub_of(web_store, "flood@example.org")
    web_store.mark_confirm_sent(sub.id, utcnow() - timedelta(hours=25))
    signup(client, "flood@example.org")
    signup(client, "flood@example.org")
    mails = smtp_server.to("flood@example.org")
    assert len(mails) == 2
    # both links name the same subscriber; the newest works
    assert client.get(confirm_path(mails[-1])).status_code == 200


def test_flood_from_one_client_is_rate_limited(web_config: Config, web_store: Store,
                                               smtp_server: SmtpSink) -> None:
    cfg = web_config.replace(web={"signup_rate_per_hour": 5})
    app_client = make_client(cfg, web_store, host="198.51.100.7")
    with app_client as c:
        codes = [signup(c, f"user{i}@example.org").status_code for i in range(8)]
        assert codes == [200] * 5 + [429] * 3
        r = signup(c, "late@example.org")
        assert r.status_code == 429 and "Too many" in r.text and r.headers["retry-after"]
    assert len(smtp_server.messages) == 5
    assert web_store.subscriber(email="late@example.org") is None
    # the limit is per client: another address on another network is unaffected
    with make_client(cfg, web_store, host="203.0.113.9") as other:
        assert signup(other, "other@example.org").status_code == 200
    assert len(smtp_server.messages) == 6


@pytest.mark.parametrize("raw", [
    "", "   ", "not-an-address", "a@", "@example.org", "a@example", "a b@example.org",
    "a" * 250 + "@example.org",
    "x@" + "d" * 63 + "." + "e" * 63 + "." + "f" * 63 + "." + "g" * 60 + ".org",
    "a@example.org\r\nBcc: x@example.org",
    "a@example.org\nBcc: x@example.org",
    "a@example.org\rBcc: x@example.org",
    "Bcc: x@example.org\r\n\r\na@example.org",
    "a@example.org, x@example.org",
    "A <a@example.org>",
    "<script>alert(1)</script>@example.org",
    "a@example.org\x00",
])
def test_invalid_addresses_are_refused(client: TestClient, web_store: Store, smtp_server: SmtpSink,
                                       raw: str) -> None:
    r = signup(client, raw)
    assert r.status_code == 400
    assert "does not look like an email address" in r.text
    assert "<script>alert" not in r.text  # the address is echoed escaped
    assert web_store.subscribers() == []
    assert smtp_server.messages == []


def test_missing_or_wrong_csrf_token_changes_nothing(client: TestClient, web_config: Config, web_store: Store,
                                                     smtp_server: SmtpSink) -> None:
    token = csrf_token(client)
    cases = [
        {"email": "a@example.org"},                                   # no token
        {"email": "a@example.org", "csrf_token": ""},
        {"email": "a@example.org", "csrf_token": "0" * 40},           # forged
        {"email": "a@example.org", "csrf_token": token[:-1] + ("0" if token[-1] != "0" else "1")},
        {"email": "a@example.org", "csrf_token": [token, token]},      # type: ignore[dict-item]
    ]
    for data in cases:
        r = client.post("/subscribe", data=data)
        assert r.status_code == 403 and "try again" in r.text
    # a valid field without the cookie it belongs to (another browser)
    with make_client(web_config, web_store) as stranger:
        r = stranger.post("/subscribe", data={"email": "a@example.org", "csrf_token": token})
        assert r.status_code == 403
    # a valid pair posted from another site
    r = client.post("/subscribe", data={"email": "a@example.org", "csrf_token": token},
                    headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    r = client.post("/subscribe", data={"email": "a@example.org", "csrf_token": token},
                    headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    assert web_store.subscribers() == [] and smtp_server.messages == []
    # browsers send "Origin: null" for same-site posts under Referrer-Policy: no-referrer
    r = client.post("/subscribe", data={"email": "a@example.org", "csrf_token": token},
                    headers={"origin": "null", "sec-fetch-site": "same-origin"})
    assert r.status_code == 200 and len(smtp_server.messages) == 1


def test_honeypot_gets_the_generic_answer_and_nothing_happens(client: TestClient, web_store: Store,
                                                               smtp_server: SmtpSink) -> None:
    r = signup(client, "bot@example.org", website="http://spam.example")
    assert r.status_code == 200 and GENERIC in r.text
    assert web_store.subscribers() == [] and smtp_server.messages == []


def test_smtp_failure_is_said_and_logged_and_the_address_kept(web_config: Config, web_store: Store,
                                                               smtp_server: SmtpSink,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    down = web_config.replace(smtp={"port": free_port(), "timeout_seconds": 5.0})
    with caplog.at_level(logging.WARNING, logger="digest.web"), make_client(down, web_store) as c:
        r = signup(c, "unlucky@example.org")
    assert r.status_code == 503 and GENERIC not in r.text
    assert "could not be sent" in r.text and "kept" in r.text
    assert any("confirmation mail" in rec.getMessage() and "failed" in rec.getMessage() for rec in caplog.records)
    sub = sub_of(web_store, "unlucky@example.org")
    assert sub.status == "pending" and sub.confirm_sent_at is None  # the claim was released: owed a mail
    # once the mail server is back, signing up again sends the mail
    with make_client(web_config, web_store) as c:
        assert GENERIC in signup(c, "unlucky@example.org").text
    assert len(smtp_server.to("unlucky@example.org")) == 1


# ---- confirm: bad tokens --------------------------------------------------------------------------
def _tamper(token: str) -> str:
    import base64

    body, sig = token.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    sid, nonce, exp = payload.split(":")
    forged = f"{int(sid) + 1}:{nonce}:{exp}".encode()
    return base64.urlsafe_b64encode(forged).rstrip(b"=").decode() + "." + sig


def test_confirm_rejects_forged_expired_and_foreign_tokens(client: TestClient, web_store: Store,
                                                           signer: TokenSigner) -> None:
    a, _ = web_store.add_subscriber("a@example.org")
    b, _ = web_store.add_subscriber("b@example.org")
    good = signer.sign("confirm", a.id, a.confirm_nonce, ttl_seconds=3600)
    bad = {
        "forged": "eyJ4IjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "garbage": "not-a-token",
        "tampered": _tamper(good),
        "other key": TokenSigner(b"k" * 32).sign("confirm", a.id, a.confirm_nonce, ttl_seconds=3600),
        "wrong kind": signer.sign("unsubscribe", a.id, a.token_nonce),
        "wrong nonce": signer.sign("confirm", a.id, b.confirm_nonce, ttl_seconds=3600),
        "no such subscriber": signer.sign("confirm", 9999, a.confirm_nonce, ttl_seconds=3600),
        "long": "A" * 5000 + "." + "B" * 30,
    }
    for why, token in bad.items():
        r = client.get(f"/confirm/{token}")
        assert r.status_code == 400, why
        assert "not valid" in r.text and "nothing was changed" in r.text
    expired = signer.sign("confirm", a.id, a.confirm_nonce, ttl_seconds=-60)
    r = client.get(f"/confirm/{expired}")
    assert r.status_code == 410 and "expired" in r.text and "Nothing was changed" in r.text
    assert [s.status for s in web_store.subscribers()] == ["pending", "pending"]
    # a's good token confirms a only
    assert client.get(f"/confirm/{good}").status_code == 200
    assert (sub_of(web_store, "a@example.org").status, sub_of(web_store, "b@example.org").status) == \
        ("confirmed", "pending")


def test_confirm_link_after_unsubscribing_changes_nothing(client: TestClient, web_store: Store,
                                                          signer: TokenSigner) -> None:
    sub, _ = web_store.add_subscriber("left@example.org")
    link = f"/confirm/{signer.sign('confirm', sub.id, sub.confirm_nonce, ttl_seconds=3600)}"
    assert client.get(link).status_code == 200
    web_store.set_subscriber_status(sub.id, "unsubscribed")
    r = client.get(link)  # unsubscribing revoked the confirm link (its nonce rotated)
    assert r.status_code == 400 and "not valid" in r.text
    assert sub_of(web_store, "left@example.org").status == "unsubscribed"


# ---- unsubscribe -------------------------------------------------------------------------------
def test_unsubscribe_get_shows_a_button_and_changes_nothing(client: TestClient, web_store: Store,
                                                            signer: TokenSigner) -> None:
    sub = confirmed(web_store, "keep@example.org")
    token = signer.sign("unsubscribe", sub.id, sub.token_nonce)
    for _ in range(3):  # a mail scanner following the link, twice, then the reader
        r = client.get(f"/unsubscribe/{token}")
        assert r.status_code == 200
        assert re.search(r'<form method="post" action="">', r.text) and "<button" in r.text
    assert sub_of(web_store, "keep@example.org").status == "confirmed"
    assert r.headers["cache-control"] == "no-store"


def test_unsubscribe_one_click_rfc8058(web_config: Config, web_store: Store, signer: TokenSigner) -> None:
    sub = confirmed(web_store, "oneclick@example.org")
    other = confirmed(web_store, "other@example.org")
    token = signer.sign("unsubscribe", sub.id, sub.token_nonce)
    with make_client(web_config, web_store) as mail_provider:  # no cookie, no CSRF token
        r = mail_provider.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                               headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and "unsubscribed" in r.text
        assert sub_of(web_store, "oneclick@example.org").status == "unsubscribed"
        # again: still 200, still unsubscribed
        r = mail_provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200
        # multipart, as some providers send it
        r = mail_provider.post(f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")})
        assert r.status_code == 200
    assert sub_of(web_store, "other@example.org").status == "confirmed"
    # left out of the next send
    issue = add_issue(web_store, status="composed")
    assert DeliveryLedger(web_store, issue).enqueue() == 1
    with web_store.session() as s:
        from digest.store import Delivery

        assert list(s.scalars(select(Delivery.subscriber_id).where(Delivery.issue_id == issue))) == [other.id]
    # the GET page now says so
    with make_client(web_config, web_store) as c:
        assert "You are unsubscribed" in c.get(f"/unsubscribe/{token}").text


def test_unsubscribe_button_form_works(client: TestClient, web_store: Store, signer: TokenSigner) -> None:
    sub = confirmed(web_store, "button@example.org")
    path = f"/unsubscribe/{signer.sign('unsubscribe', sub.id, sub.token_nonce)}"
    token = csrf_token(client, path)
    r = client.post(path, data={"csrf_token": token})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert sub_of(web_store, "button@example.org").status == "unsubscribed"


def test_unsubscribe_rejects_forged_tampered_and_foreign_tokens(client: TestClient, web_store: Store,
                                                                signer: TokenSigner) -> None:
    a = confirmed(web_store, "a@example.org")
    b = confirmed(web_store, "b@example.org")
    good = signer.sign("unsubscribe", a.id, a.token_nonce)
    bad = [
        "x", "x.y", "a.b.c", "", "%00.%00",
        _tamper(good),                                            # a's token pointed at b's id
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # signature altered
        TokenSigner(b"k" * 32).sign("unsubscribe", a.id, a.token_nonce),
        signer.sign("confirm", a.id, a.token_nonce, ttl_seconds=3600),
        signer.sign("preferences", a.id, a.token_nonce),
        signer.sign("unsubscribe", a.id, b.token_nonce),           # another subscriber's nonce
        signer.sign("unsubscribe", b.id, "0000000000000000"),      # right id, stale nonce
    ]
    for token in bad:
        for method in ("GET", "POST"):
            r = client.request(method, f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                               headers={"content-type": "application/x-www-form-urlencoded"})
            assert 400 <= r.status_code < 500, (method, token)
    assert [s.status for s in web_store.subscribers()] == ["confirmed", "confirmed"]
    # a's token unsubscribes a, never b
    assert client.post(f"/unsubscribe/{good}").status_code == 200
    assert [s.status for s in web_store.subscribers()] == ["unsubscribed", "confirmed"]


# ---- preferences --------------------------------------------------------------------------------
def _prefs_form(token: str, **over: object) -> dict[str, object]:
    data: dict[str, object] = {"csrf_token": token, "mode": "custom", "actors": ["jewelbug", "apt28"],
                               "countries": ["China"], "topics": ["ransomware", "exploited"],
                               "frequency": "weekly", "weekday": "4", "hour": "18",
                               "timezone": "Europe/Berlin"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_preferences_show_and_save(client: TestClient, web_store: Store, signer: TokenSigner) -> None:
    add_actors(web_store)
    sub = confirmed(web_store, "prefs@example.org")
    path = f"/preferences/{signer.sign('preferences', sub.id, sub.token_nonce)}"
    r = client.get(path)
    assert r.status_code == 200
    for text in ('value="China"', 'value="Russia"', 'value="ransomware"', "Europe/Berlin", 'value="all" checked'):
        assert text in r.text, text
    r = client.get(path + "?q=jewel")  # actors are found by a search (tests/test_prefs_actors.py)
    assert 'value="jewelbug"> <span class="name">Jewelbug</span> <span class="country">China</span>' in r.text
    assert "Scattered Spider" in client.get(path + "?q=Scattered").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post(path, data=_prefs_form(token))
    assert r.status_code == 200 and "Saved" in r.text
    assert sub_of(web_store, "prefs@example.org").preferences == {
        "mode": "custom", "actors": ["jewelbug", "apt28"], "countries": ["China"],
        "topics": ["ransomware", "exploited"], "frequency": "weekly", "weekday": 4, "hour": 18,
        "timezone": "Europe/Berlin"}
    r = client.get(path)
    assert 'value="jewelbug" checked>' in r.text and 'value="weekly" checked' in r.text
    assert "<option selected>Europe/Berlin</option>" in r.text
    # back to everything, daily
    r = client.post(path, data=_prefs_form(token, mode="all", actors=[], countries=[], topics=[],
                                           frequency="daily", weekday="0", hour="7", timezone="UTC"))
    assert r.status_code == 200
    assert sub_of(web_store, "prefs@example.org").preferences == {
        "mode": "all", "actors": [], "countries": [], "topics": [], "frequency": "daily", "weekday": 0,
        "hour": 7, "timezone": "UTC"}


@pytest.mark.parametrize("change, field_message", [
    ({"mode": "everything"}, "Choose either everything"),
    ({"mode": None}, "Choose either everything"),
    ({"mode": ["all", "custom"]}, "Choose either everything"),
    ({"actors": ["jewelbug", "not-an-actor"]}, "Unknown threat actor"),
    ({"actors": ["<script>x</script>"]}, "Unknown threat actor"),
    ({"countries": ["Atlantis"]}, "Unknown country"),
    ({"topics": ["gossip"]}, "Unknown topic"),
    ({"frequency": "hourly"}, "Choose daily or weekly"),
    ({"weekday": "7"}, "Choose a day of the week"),
    ({"weekday": "-1"}, "Choose a day of the week"),
    ({"weekday": None}, "Choose a day of the week"),
    ({"hour": "24"}, "Choose a delivery hour"),
    ({"hour": "-1"}, "Choose a delivery hour"),
    ({"hour": "1e1"}, "Choose a delivery hour"),
    ({"hour": "７"}, "Choose a delivery hour"),
    ({"timezone": "Mars/Olympus_Mons"}, "Choose a time zone"),
    ({"timezone": "../../../etc/passwd"}, "Choose a time zone"),
    ({"timezone": "localtime"}, "Choose a time zone"),
    ({"timezone": ""}, "Choose a time zone"),
    ({"actors": [], "countries": [], "topics": []}, "choose at least one"),
])
def test_preferences_bad_values_change_nothing(client: TestClient, web_store: Store, signer: TokenSigner,
                                               change: dict[str, object], field_message: str) -> None:
    add_actors(web_store)
    sub = confirmed(web_store, "strict@example.org")
    web_store.set_preferences(sub.id, {"mode": "all", "actors": [], "countries": [], "topics": [],
                                       "frequency": "daily", "weekday": 0, "hour": 7, "timezone": "UTC"})
    before = sub_of(web_store, "strict@example.org").preferences
    path = f"/preferences/{signer.sign('preferences', sub.id, sub.token_nonce)}"
    r = client.post(path, data=_prefs_form(csrf_token(client, path), **change))
    assert r.status_code == 400
    assert "Nothing was saved" in r.text and field_message in r.text
    assert "<script>x" not in r.text
    assert sub_of(web_store, "strict@example.org").preferences == before


def test_preferences_need_csrf_and_a_valid_token(client: TestClient, web_store: Store,
                                                 signer: TokenSigner) -> None:
    add_actors(web_store)
    a = confirmed(web_store, "a@example.org")
    b = confirmed(web_store, "b@example.org")
    path = f"/preferences/{signer.sign('preferences', a.id, a.token_nonce)}"
    token = csrf_token(client, path)
    r = client.post(path, data=_prefs_form(""))
    assert r.status_code == 403
    r = client.post(path, data={k: v for k, v in _prefs_form(token).items() if k != "csrf_token"})
    assert r.status_code == 403
    for bad in (_tamper(signer.sign("preferences", a.id, a.token_nonce)),
                signer.sign("unsubscribe", a.id, a.token_nonce),
                signer.sign("preferences", a.id, b.token_nonce),
                "forged.token"):
        assert client.get(f"/preferences/{bad}").status_code == 400
        assert client.post(f"/preferences/{bad}", data=_prefs_form(token)).status_code == 400
    assert sub_of(web_store, "a@example.org").preferences == {}
    assert sub_of(web_store, "b@example.org").preferences == {}


# ---- archive and feed ---------------------------------------------------------------------------
def test_archive_lists_and_shows_only_sent_issues(client: TestClient, web_store: Store) -> None:
    sent = add_issue(web_store, subject="Cyber Digest: Jewelbug Breached Russian IT Firm")
    draft = add_issue(web_store, status="composed", subject="Draft Not Public")
    sending = add_issue(web_store, status="sending", subject="Sending Not Public")
    r = client.get("/archive/")
    assert r.status_code == 200
    assert f'href="/archive/{sent}"' in r.text and "Jewelbug Breached" in r.text
    assert "Not Public" not in r.text
    r = client.get(f"/archive/{sent}")
    assert r.status_code == 200 and "Jewelbug Breached" in r.text
    assert "%%" not in r.text
    assert "Preferences" not in r.text and "Unsubscribe" not in r.text  # a reader's links: not on a public page
    assert "style-src 'unsafe-inline'" in r.headers["content-security-policy"]
    assert "script" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    for issue_id in (draft, sending, 99999, "abc", "-1", f"{sent}.0"):
        assert client.get(f"/archive/{issue_id}").status_code == 404
    assert client.get("/archive", follow_redirects=False).status_code in (301, 307, 308)


def test_a_partly_sent_issue_is_public_once_anyone_received_it(client: TestClient, web_store: Store) -> None:
    """Readers of an issue that is still being sent, or partly sent for a sick relay, follow its
    archive link: it is listed and shown once one delivery went out, and not before."""
    a = confirmed(web_store, "a@example.org")
    confirmed(web_store, "b@example.org")
    partial = add_issue(web_store, status="partial", subject="Partly Sent Issue")
    sending = add_issue(web_store, status="sending", subject="Issue Being Sent")
    unseen = add_issue(web_store, status="partial", subject="Nobody Has It")
    for issue_id in (partial, sending, unseen):
        ledger = DeliveryLedger(web_store, issue_id)
        ledger.enqueue()
        if issue_id != unseen:
            [got] = [c.delivery_id for c in ledger.claim(2) if c.subscriber_id == a.id]
            ledger.mark_sent([got])  # a has it, b still waits
    r = client.get("/archive/")
    assert "Partly Sent Issue" in r.text and "Issue Being Sent" in r.text and "Nobody Has It" not in r.text
    assert client.get(f"/archive/{partial}").status_code == 200
    assert client.get(f"/archive/{sending}").status_code == 200
    assert client.get(f"/archive/{unseen}").status_code == 404
    entries = ET.fromstring(client.get("/feed.xml").content).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"{BASE}/archive/{sending}", f"{BASE}/archive/{partial}"]


def test_archive_empty(client: TestClient) -> None:
    r = client.get("/archive/")
    assert r.status_code == 200 and "No issue has been sent yet" in r.text


def test_feed_is_valid_escaped_atom(client: TestClient, web_store: Store) -> None:
    import feedparser

    hostile = 'Breach at <b>"Acme" & Sons</b> ]]> <script>alert(1)</script> \x01\x0b end'
    one = add_issue(web_store, subject="First Issue")
    two = add_issue(web_store, subject=hostile, text="Text with <tags> & entities \x00 and %%PREFERENCES_URL%%")
    add_issue(web_store, status="composed", subject="Draft Not Public")
    r = client.get("/feed.xml")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"{BASE}/archive/{two}", f"{BASE}/archive/{one}"]
    for e in entries:
        for required in ("id", "title", "updated"):
            assert e.findtext(f"{ATOM}{required}"), required
        assert e.find(f"{ATOM}link").get("href").startswith(f"{BASE}/archive/")  # type: ignore[union-attr]
    assert entries[0].findtext(f"{ATOM}title") == 'Breach at <b>"Acme" & Sons</b> ]]> <script>alert(1)</script>  end'
    summary = entries[0].findtext(f"{ATOM}summary") or ""
    assert "<tags> & entities" in summary and "%%" not in summary
    assert b"<script>" not in r.content and b"Not Public" not in r.content
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and len(parsed.entries) == 2


def test_feed_without_issues_is_valid(client: TestClient) -> None:
    root = ET.fromstring(client.get("/feed.xml").content)
    assert root.findtext(f"{ATOM}updated") and root.findall(f"{ATOM}entry") == []


def test_token_pages_are_not_cached_and_leak_no_referrer(client: TestClient, web_store: Store,
                                                         signer: TokenSigner) -> None:
    sub = confirmed(web_store, "c@example.org")
    for kind in ("unsubscribe", "preferences"):
        r = client.get(f"/{kind}/{signer.sign(kind, sub.id, sub.token_nonce)}")
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"
    with web_store.session() as s:
        assert s.scalar(select(Subscriber.status).where(Subscriber.id == sub.id)) == "confirmed"


# ---- the same flow on every configured database (SQLite; PostgreSQL when DIGEST_TEST_POSTGRES_URL is set)
def test_flow_on_each_database(store: Store, web_config: Config, smtp_server: SmtpSink) -> None:
    add_actors(store)
    with make_client(web_config, store) as c:
        for _ in range(3):
            assert signup(c, "db@example.org").status_code == 200
        mails = smtp_server.to("db@example.org")
        assert len(mails) == 1
        r = c.get(confirm_path(mails[0]))
        assert r.status_code == 200
        prefs = re.search(r'href="(/preferences/[^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        unsub = re.search(r'href="(/unsubscribe/[^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        r = c.post(prefs, data=_prefs_form(csrf_token(c, prefs), actors=["jewelbug"], countries=[], topics=[]))
        assert r.status_code == 200
        assert sub_of(store, "db@example.org").preferences["actors"] == ["jewelbug"]
        assert c.post(unsub, content=b"List-Unsubscribe=One-Click").status_code == 200
        assert sub_of(store, "db@example.org").status == "unsubscribed"
        issue = add_issue(store)
        DeliveryLedger(store, issue).enqueue()
        with store.session() as s:
            from digest.store import Delivery

            assert list(s.scalars(select(Delivery.id).where(Delivery.issue_id == issue))) == []
        assert c.get(f"/archive/{issue}").status_code == 200
        assert c.get("/healthz").text == "ok"
