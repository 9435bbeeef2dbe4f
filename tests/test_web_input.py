"""Untrusted input at the web app's edges: token spellings, confirm-link lifetime, ids out of range,
redirects under a hostile Host header, tokens in the access log, secrets in printed settings.

Against the real ASGI app (test_web.TestClient) and, where logging and redirects are uvicorn's
business, a real `digest serve` child process on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from test_tokens import _respellings
from test_web import TestClient, make_client, sub_of

from digest.config import Config
from digest.store import Store
from digest.tokens import TokenSigner


@pytest.fixture
def wconfig(smtp_config: Config) -> Config:
    return smtp_config.replace(newsletter={"base_url": "https://digest.example.org"},
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
