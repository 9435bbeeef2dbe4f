"""The relays' webhooks with real signatures made here: SES through SNS (an RSA certificate of our
own, signature versions 1 and 2), Postmark (basic auth), SendGrid (ECDSA P-256), Mailgun (HMAC);
through Starlette's TestClient and through `digest serve` for real."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import free_port, write_config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from starlette.testclient import TestClient
from test_web_serve import _serve, _stop, _wait_up

from digest.config import load_config
from digest.mail.providers import WebhookAuthError, check_sns_url, sns_string_to_sign
from digest.mail.verp import reader
from digest.store import BounceEvent, Store
from digest.web.app import create_app

SECRET = "s" * 32
TOPIC = "arn:aws:sns:eu-west-1:123456789012:digest-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
SUBSCRIBE_URL = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t"


def _rsa_cert(days: int = 30) -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


SNS_KEY, SNS_PEM = _rsa_cert()
OTHER_KEY, _OTHER_PEM = _rsa_cert()


def _sns(message: dict | str, *, type_: str = "Notification", version: str = "1", key=SNS_KEY,  # type: ignore[no-untyped-def]
         topic: str = TOPIC, cert_url: str = CERT_URL) -> dict:
    msg = {"Type": type_, "MessageId": str(uuid.uuid4()), "TopicArn": topic,
           "Message": message if isinstance(message, str) else json.dumps(message),
           "Timestamp": "2026-12-03T07:00:10.000Z", "SignatureVersion": version, "SigningCertURL": cert_url}
    if type_ == "Notification":
        msg["Subject"] = "Amazon SES Email Event Notification"
    else:
        msg["SubscribeURL"], msg["Token"] = SUBSCRIBE_URL, "2336412f37fb687f5d51e6e2425c464d"
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    msg["Signature"] = base64.b64encode(key.sign(sns_string_to_sign(msg), padding.PKCS1v15(), algorithm)).decode()
    return msg


def _ses_bounce(source: str, rcpt: str, btype: str = "Permanent", status: str = "5.1.1") -> dict:
    return {"notificationType": "Bounce",
            "bounce": {"bounceType": btype, "bounceSubType": "General", "timestamp": "2026-12-03T07:00:09Z",
                       "bouncedRecipients": [{"emailAddress": rcpt, "status": status, "action": "failed",
                                              "diagnosticCode": f"smtp; 550 {status} user unknown"}]},
            "mail": {"source": source, "destination": [rcpt], "messageId": "0100018c-abc"}}


@pytest.fixture
def app_env(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, f'[bounces]\nses_topic_arns = "{TOPIC}"\n')
    cfg = load_config(path, env={"DIGEST_SECURITY_SECRET_KEY": SECRET}, root=tmp_path)
    store = Store.open(cfg)
    subs = [store.add_subscriber(f"r{i}@example.net", confirmed=True)[0] for i in range(4)]
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return SNS_PEM if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"

    client = TestClient(create_app(cfg, store, fetch=fetch))
    yield cfg, store, subs, client, fetched
    client.close()
    store.close()


def _state(store: Store, sid: int) -> str:
    sub = store.subscriber(id=sid)
    assert sub is not None
    return sub.status


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_through_sns_with_a_verified_signature(app_env, version: str) -> None:  # type: ignore[no-untyped-def]
    cfg, store, subs, client, fetched = app_env
    verp = reader(cfg, store.secret_key(SECRET))
    r = client.post("/webhooks/ses", content=json.dumps(_sns(_ses_bounce(verp.address(subs[0].id, 0),
                                                                         subs[0].email), version=version)))
    assert r.status_code == 200 and r.json()["outcomes"] == {"suppressed": 1}
    assert _state(store, subs[0].id) == "suppressed" and fetched == [CERT_URL]
    complaint = {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": subs[1].email}],
                                                                "complaintFeedbackType": "abuse"},
                 "mail": {"source": verp.address(subs[1].id, 0)}}
    assert client.post("/webhooks/ses", content=json.dumps(_sns(complaint, version=version))).status_code == 200
    assert _state(store, subs[1].id) == "suppressed"
    soft = _ses_bounce(verp.address(subs[2].id, 0), subs[2].email, "Transient", "4.2.2")
    assert client.post("/webhooks/ses", content=json.dumps(_sns(soft, version=version))).json()["outcomes"] \
        == {"scored": 1}
    assert _state(store, subs[2].id) == "confirmed"
    assert fetched == [CERT_URL]  # the certificate is fetched once


def test_ses_refuses_what_sns_did_not_sign_for_us(app_env) -> None:  # type: ignore[no-untyped-def]
    cfg, store, subs, client, fetched = app_env
    verp = reader(cfg, store.secret_key(SECRET))
    note = _ses_bounce(verp.address(subs[3].id, 0), subs[3].email)
    tampered = _sns(note)
    tampered["Message"] = tampered["Message"].replace(subs[3].email, "someone@example.net")
    wrong_key = _sns(note, key=OTHER_KEY)
    other_topic = _sns(note, topic="arn:aws:sns:eu-west-1:999999999999:attacker")
    off_host = _sns(note, cert_url="https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem")
    plain = _sns(note, cert_url=CERT_URL.replace("https", "http"))
    bad_version = dict(_sns(note), SignatureVersion="3")
    for body in (tampered, wrong_key, other_topic, off_host, plain, bad_version):
        r = client.post("/webhooks/ses", content=json.dumps(body))
        assert r.status_code == 403, body
    assert client.post("/webhooks/ses", content=b"{not json").status_code in (400, 403)
    assert _state(store, subs[3].id) == "confirmed"
    with store.session() as s:
        assert s.scalar(select(BounceEvent.id)) is None
    assert all(u == CERT_URL for u in fetched)  # nothing fetched from a host that is not SNS


def test_ses_subscription_is_confirmed(app_env) -> None:  # type: ignore[no-untyped-def]
    _cfg, _store, _subs, client, fetched = app_env
    r = client.post("/webhooks/ses", content=json.dumps(_sns("You have chosen to subscribe",
                                                             type_="SubscriptionConfirmation", version="2")))
    assert r.status_code == 200 and r.json()["ok"] == "subscribed"
    assert fetched == [CERT_URL, SUBSCRIBE_URL]


def test_sns_url_check() -> None:
    assert check_sns_url(CERT_URL) == CERT_URL
    for bad in ("https://sns.eu-west-1.amazonaws.com.evil.example/x.pem", "http://sns.us-east-1.amazonaws.com/x.pem",
                "https://evil.example/sns.us-east-1.amazonaws.com/x.pem", "https://u:p@sns.us-east-1.amazonaws.com/x.pem",
                "https://sns.us-east-1.amazonaws.com:8443/x.pem", "https://sns.us-east-1.amazonaws.com/x.txt"):
        with pytest.raises(WebhookAuthError):
            check_sns_url(bad)


def test_unconfigured_providers_refuse_everything(app_env) -> None:  # type: ignore[no-untyped-def]
    _cfg, store, subs, client, _f = app_env
    body = json.dumps({"RecordType": "SpamComplaint", "Email": subs[0].email})
    assert client.post("/webhooks/postmark", content=body, auth=("x", "y")).status_code == 403
    assert client.post("/webhooks/sendgrid", content="[]").status_code == 403
    assert client.post("/webhooks/mailgun", content="{}").status_code == 403
    assert _state(store, subs[0].id) == "confirmed"


# ---- Postmark, SendGrid, Mailgun through `digest serve` ----------------------------------------
def _sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, base64.b64encode(der).decode()


def _sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, ts: int | None = None) -> dict[str, str]:
    stamp = str(ts if ts is not None else int(time.time()))
    sig = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp, "content-type": "application/json"}


def _mailgun(key: str, event: dict, ts: int | None = None, token: str | None = None) -> bytes:
    stamp, tok = str(ts if ts is not None else int(time.time())), token or uuid.uuid4().hex
    sig = hmac.new(key.encode(), (stamp + tok).encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": stamp, "token": tok, "signature": sig}, "event-data": event}).encode()


@pytest.mark.slow
def test_postmark_sendgrid_mailgun_through_digest_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sg_key, sg_public = _sendgrid_key()
    cfg_path = write_config(tmp_path, f'[newsletter]\nbase_url = "{base}"\n[web]\nport = {port}\n'
                                      f'[bounces]\npostmark_user = "pm"\nsendgrid_public_key = "{sg_public}"\n')
    store = Store.open(load_config(cfg_path, env={}, root=tmp_path))
    subs = [store.add_subscriber(f"r{i}@example.net", confirmed=True)[0] for i in range(8)]
    import test_web_serve

    mg_key = "key-" + "m" * 32
    monkeypatch.setattr(test_web_serve, "_env", lambda: {**_base_env(), "DIGEST_BOUNCES_POSTMARK_PASSWORD": "pm-pw",
                                                         "DIGEST_BOUNCES_MAILGUN_SIGNING_KEY": mg_key})
    proc = _serve(cfg_path)
    try:
        _wait_up(proc, base)
        with httpx.Client(base_url=base, timeout=10) as http:
            # Postmark: basic auth
            hard = {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "Email": subs[0].email, "ID": 42,
                    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found)."}
            assert http.post("/webhooks/postmark", json=hard).status_code == 401
            assert http.post("/webhooks/postmark", json=hard, auth=("pm", "wrong")).status_code == 401
            r = http.post("/webhooks/postmark", json=hard, auth=("pm", "pm-pw"))
            assert r.status_code == 200 and r.json()["outcomes"] == {"suppressed": 1}
            spam = {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": subs[1].email, "ID": 43}
            assert http.post("/webhooks/postmark", json=spam, auth=("pm", "pm-pw")).status_code == 200
            soft = {"RecordType": "Bounce", "Type": "SoftBounce", "Email": subs[2].email, "ID": 44}
            assert http.post("/webhooks/postmark", json=soft, auth=("pm", "pm-pw")).json()["outcomes"] == {"scored": 1}

            # SendGrid: signed events
            events = json.dumps([
                {"email": subs[3].email, "event": "bounce", "type": "bounce", "status": "5.1.1",
                 "reason": "550 5.1.1 user unknown", "sg_event_id": "e1"},
                {"email": subs[4].email, "event": "spamreport", "sg_event_id": "e2"},
                {"email": subs[5].email, "event": "bounce", "type": "blocked", "status": "5.7.1", "sg_event_id": "e3"},
                {"email": subs[5].email, "event": "delivered", "sg_event_id": "e4"},
            ]).encode()
            assert http.post("/webhooks/sendgrid", content=events).status_code == 401
            forged = dict(_sendgrid_headers(sg_key, events))
            assert http.post("/webhooks/sendgrid", content=events.replace(b"e1", b"e9"), headers=forged).status_code \
                == 403
            stale = _sendgrid_headers(sg_key, events, int(time.time()) - 3600)
            assert http.post("/webhooks/sendgrid", content=events, headers=stale).status_code == 403
            r = http.post("/webhooks/sendgrid", content=events, headers=_sendgrid_headers(sg_key, events))
            assert r.status_code == 200 and r.json()["outcomes"] == {"suppressed": 2, "scored": 1}

            # Mailgun: HMAC of timestamp + token, a token used once
            failed = {"event": "failed", "severity": "permanent", "recipient": subs[6].email, "id": "mg1",
                      "reason": "bounce", "delivery-status": {"code": 550, "message": "5.1.1 mailbox does not exist"}}
            assert http.post("/webhooks/mailgun", content=_mailgun("key-wrong", failed)).status_code == 403
            assert http.post("/webhooks/mailgun", content=_mailgun(mg_key, failed, int(time.time()) - 7200)) \
                .status_code == 403
            body = _mailgun(mg_key, failed)
            r = http.post("/webhooks/mailgun", content=body)
            assert r.status_code == 200 and r.json()["outcomes"] == {"suppressed": 1}
            assert http.post("/webhooks/mailgun", content=body).status_code == 403  # replayed
            temp = {"event": "failed", "severity": "temporary", "recipient": subs[7].email, "id": "mg2",
                    "delivery-status": {"code": 452, "message": "4.2.2 over quota"}}
            assert http.post("/webhooks/mailgun", content=_mailgun(mg_key, temp)).json()["outcomes"] == {"scored": 1}
    finally:
        _stop(proc)
    states = {s.email: s.status for s in store.subscribers()}
    assert [states[s.email] for s in subs] == ["suppressed", "suppressed", "confirmed", "suppressed", "suppressed",
                                               "confirmed", "suppressed", "confirmed"]
    assert store.subscriber(id=subs[5].id).bounce_score == pytest.approx(0.5)  # blocked 5.7.1: soft
    store.close()


def _base_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not (k.startswith("DIGEST_") and not k.startswith("DIGEST_TEST_"))}
    env["DIGEST_SECURITY_SECRET_KEY"] = SECRET
    return env


@pytest.mark.slow
def test_ses_through_a_real_uvicorn(app_env) -> None:  # type: ignore[no-untyped-def]
    """The SES webhook over real HTTP: uvicorn on a loopback port serving the app (the SNS certificate
    fetch is the test's, since no SNS host is reachable from here)."""
    import threading

    import uvicorn

    cfg, store, subs, client, _fetched = app_env
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        verp = reader(cfg, store.secret_key(SECRET))
        body = json.dumps(_sns(_ses_bounce(verp.address(subs[0].id, 0), subs[0].email), version="2"))
        r = httpx.post(f"http://127.0.0.1:{port}/webhooks/ses", content=body, timeout=10)
        assert r.status_code == 200 and r.json()["outcomes"] == {"suppressed": 1}
        forged = json.loads(body)
        forged["Message"] = forged["Message"].replace("Permanent", "Transient")
        r = httpx.post(f"http://127.0.0.1:{port}/webhooks/ses", content=json.dumps(forged), timeout=10)
        assert r.status_code == 403
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert _state(store, subs[0].id) == "suppressed"
