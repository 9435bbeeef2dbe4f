"""Bounce and complaint webhooks of the relays: authenticated as each provider documents, then parsed.

* **Amazon SES through SNS**: the SNS message's signature (``SignatureVersion`` 1: RSA-SHA1, 2:
  RSA-SHA256) over the canonical string SNS defines, with the certificate at ``SigningCertURL``,
  which must be an ``https`` URL on an ``sns.<region>.amazonaws.com`` host; and its ``TopicArn``
  must be one of ``bounces.ses_topic_arns`` (anyone can make an SNS topic that signs). A
  ``SubscriptionConfirmation`` is confirmed by fetching its ``SubscribeURL`` (checked the same way).
* **Postmark**: HTTP basic auth, the user and password set in the webhook's URL
  (``bounces.postmark_user``, ``DIGEST_BOUNCES_POSTMARK_PASSWORD``).
* **SendGrid**: the signed event webhook, ECDSA P-256 with SHA-256 over timestamp + body
  (``X-Twilio-Email-Event-Webhook-Signature``/``-Timestamp``), verified with the public key from
  SendGrid's settings (``bounces.sendgrid_public_key``).
* **Mailgun**: HMAC-SHA256 of timestamp + token under the webhook signing key
  (``DIGEST_BOUNCES_MAILGUN_SIGNING_KEY``); a token is accepted once.

Signed requests older than ``bounces.webhook_max_age_seconds`` are refused (replays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from digest.config import BouncesConfig
from digest.mail.bounces import kind_of_code
from digest.mail.intake import ProviderEvent

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_CODE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
MAX_CERT = 64 * 1024


class WebhookAuthError(Exception):
    """The request is not from the provider (or not for us): refused with ``status``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class WebhookInputError(Exception):
    """An authenticated request whose body we cannot read (400)."""


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookInputError(f"not JSON: {exc}") from None


def _raw(item: Any) -> str:
    return json.dumps(item, sort_keys=True)[:100_000]


def _fresh(ts: float, max_age: int, now: float | None = None) -> bool:
    return abs((now or time.time()) - ts) <= max_age


# ---- Amazon SES through SNS ----------------------------------------------------------------------
SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def sns_string_to_sign(msg: dict[str, Any]) -> bytes:
    """The canonical text SNS signs: ``Name\\nvalue\\n`` for each field of the type, in this order
    (Subject only when the notification has one)."""
    fields = SNS_FIELDS.get(str(msg.get("Type")))
    if fields is None:
        raise WebhookAuthError(403, f"unknown SNS message type {str(msg.get('Type'))[:40]!r}")
    out = []
    for name in fields:
        if name not in msg or msg[name] is None:
            if name == "Subject":
                continue
            raise WebhookAuthError(403, f"SNS message without {name}")
        out.append(f"{name}\n{msg[name]}\n")
    return "".join(out).encode("utf-8")


def check_sns_url(url: str, what: str = "SigningCertURL") -> str:
    """``url`` when it is https on an SNS host (``sns.<region>.amazonaws.com``), else refused."""
    parts = urlsplit(str(url))
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not _SNS_HOST.fullmatch(host) or parts.username or parts.password \
            or parts.port not in (None, 443):
        raise WebhookAuthError(403, f"{what} is not an https URL on an sns.<region>.amazonaws.com host: "
                                    f"{str(url)[:120]!r}")
    if what == "SigningCertURL" and not parts.path.endswith(".pem"):
        raise WebhookAuthError(403, f"SigningCertURL is not a .pem certificate: {str(url)[:120]!r}")
    return str(url)


def https_get(url: str) -> bytes:
    import httpx

    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        r = client.get(url)
        r.raise_for_status()
        if len(r.content) > MAX_CERT:
            raise ValueError("answer too large")
        return r.content


class SnsVerifier:
    """Verify SNS messages; certificates fetched once per URL (``fetch`` is the HTTPS GET)."""

    def __init__(self, fetch: Callable[[str], bytes] = https_get) -> None:
        self.fetch = fetch
        self._certs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _cert(self, url: str) -> Any:
        from cryptography import x509

        with self._lock:
            cert = self._certs.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self.fetch(url))
            except Exception as exc:  # noqa: BLE001 - unreachable, not a certificate: not verified
                raise WebhookAuthError(403, f"cannot load the SNS signing certificate: {type(exc).__name__}") \
                    from None
            with self._lock:
                self._certs[url] = cert
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise WebhookAuthError(403, "the SNS signing certificate is not valid now")
        return cert

    def verify(self, msg: dict[str, Any]) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        version = str(msg.get("SignatureVersion", ""))
        algorithm = {"1": hashes.SHA1, "2": hashes.SHA256}.get(version)
        if algorithm is None:
            raise WebhookAuthError(403, f"unknown SNS SignatureVersion {version[:10]!r}")
        text = sns_string_to_sign(msg)
        url = check_sns_url(str(msg.get("SigningCertURL", "")))
        try:
            signature = base64.b64decode(str(msg.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError):
            raise WebhookAuthError(403, "SNS Signature is not base64") from None
        key = self._cert(url).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookAuthError(403, "the SNS signing certificate has no RSA key")
        try:
            key.verify(signature, text, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise WebhookAuthError(403, "SNS signature does not verify") from None


def ses_events(cfg: BouncesConfig, body: bytes, verifier: SnsVerifier) -> tuple[str, list[ProviderEvent]]:
    """('notification' | 'subscribed' | ..., events) for one SNS POST; raises WebhookAuthError."""
    topics = [t.strip() for t in cfg.ses_topic_arns.split(",") if t.strip()]
    if not topics:
        raise WebhookAuthError(403, "the SES webhook is not configured (bounces.ses_topic_arns)")
    msg = _json(body)
    if not isinstance(msg, dict):
        raise WebhookAuthError(403, "not an SNS message")
    verifier.verify(msg)
    if msg.get("TopicArn") not in topics:
        raise WebhookAuthError(403, f"SNS topic {str(msg.get('TopicArn'))[:120]!r} is not in bounces.ses_topic_arns")
    if msg["Type"] == "SubscriptionConfirmation":
        verifier.fetch(check_sns_url(str(msg.get("SubscribeURL", "")), "SubscribeURL"))
        return "subscribed", []
    if msg["Type"] == "UnsubscribeConfirmation":
        return "unsubscribed", []
    note = _json(str(msg.get("Message", "")).encode())
    if not isinstance(note, dict):
        raise WebhookInputError("SES notification is not a JSON object")
    return "notification", parse_ses(note, str(msg.get("MessageId", "")))


def parse_ses(note: dict[str, Any], message_id: str = "") -> list[ProviderEvent]:
    kind_name = str(note.get("notificationType") or note.get("eventType") or "")
    mail = note.get("mail") or {}
    source = str(mail.get("source", "")) if isinstance(mail, dict) else ""
    events: list[ProviderEvent] = []
    raw = _raw(note)
    if kind_name == "Bounce":
        b = note.get("bounce") or {}
        btype = str(b.get("bounceType", ""))
        detail = f"SES {btype}/{b.get('bounceSubType', '')}"
        for r in b.get("bouncedRecipients") or []:
            if not isinstance(r, dict):
                continue
            status = str(r.get("status") or "")
            status = status if _CODE.match(status) else ""
            kind = "soft" if btype != "Permanent" else (kind_of_code(status) if status else "hard")
            diag = str(r.get("diagnosticCode") or "")
            events.append(ProviderEvent(kind, str(r.get("emailAddress", "")), status,
                                        f"{detail}: {diag}"[:500] if diag else detail, source,
                                        f"ses:{message_id}", raw))
    elif kind_name == "Complaint":
        c = note.get("complaint") or {}
        ftype = str(c.get("complaintFeedbackType") or "abuse")
        kind = "ignored" if ftype == "not-spam" else "complaint"
        for r in c.get("complainedRecipients") or []:
            if isinstance(r, dict):
                events.append(ProviderEvent(kind, str(r.get("emailAddress", "")), "",
                                            f"SES complaint, feedback type {ftype}", source,
                                            f"ses:{message_id}", raw))
    return events


# ---- Postmark ------------------------------------------------------------------------------------
POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Inactive"}
POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError", "SpamNotification", "Blocked", "ContentRelated",
                 "MailFrontier", "ChallengeVerification", "VirusNotification", "SMTPApiError"}


def postmark_events(cfg: BouncesConfig, authorization: str, body: bytes) -> list[ProviderEvent]:
    if not (cfg.postmark_user and cfg.postmark_password):
        raise WebhookAuthError(403, "the Postmark webhook is not configured (bounces.postmark_user and "
                                    "DIGEST_BOUNCES_POSTMARK_PASSWORD)")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise WebhookAuthError(401, "Postmark webhook without basic auth")
    try:
        given = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookAuthError(401, "Postmark webhook: basic auth is not base64") from None
    expected = f"{cfg.postmark_user}:{cfg.postmark_password}".encode()
    if not hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest()):
        raise WebhookAuthError(401, "Postmark webhook: wrong user or password")
    item = _json(body)
    items = item if isinstance(item, list) else [item]
    events = []
    for it in items:
        if not isinstance(it, dict):
            continue
        record = str(it.get("RecordType", ""))
        address = str(it.get("Email", ""))
        event_id = f"postmark:{it.get('ID', '')}"
        if record == "SpamComplaint" or it.get("Type") == "SpamComplaint":
            events.append(ProviderEvent("complaint", address, "", "Postmark spam complaint", "", event_id, _raw(it)))
        elif record == "Bounce":
            btype = str(it.get("Type", ""))
            kind = "hard" if btype in POSTMARK_HARD else "soft" if btype in POSTMARK_SOFT else "ignored"
            detail = f"Postmark {btype}: {it.get('Description') or it.get('Details') or ''}".strip()
            events.append(ProviderEvent(kind, address, "", detail[:500], "", event_id, _raw(it)))
    return events


# ---- SendGrid ------------------------------------------------------------------------------------
def load_public_key(text: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    text = text.strip()
    if "BEGIN PUBLIC KEY" in text:
        return load_pem_public_key(text.encode())
    return load_der_public_key(base64.b64decode(re.sub(r"\s+", "", text)))


def sendgrid_events(cfg: BouncesConfig, signature: str, timestamp: str, body: bytes,
                    now: float | None = None) -> list[ProviderEvent]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not cfg.sendgrid_public_key:
        raise WebhookAuthError(403, "the SendGrid webhook is not configured (bounces.sendgrid_public_key)")
    if not signature or not timestamp:
        raise WebhookAuthError(401, "SendGrid webhook without its signature headers")
    if not timestamp.isdigit() or not _fresh(int(timestamp), cfg.webhook_max_age_seconds, now):
        raise WebhookAuthError(403, "SendGrid webhook timestamp missing or too old")
    try:
        key = load_public_key(cfg.sendgrid_public_key)
        sig = base64.b64decode(signature, validate=True)
        key.verify(sig, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        raise WebhookAuthError(403, "SendGrid signature does not verify") from None
    items = _json(body)
    if not isinstance(items, list):
        raise WebhookInputError("SendGrid events are not a JSON array")
    events = []
    for it in items:
        if not isinstance(it, dict):
            continue
        name = str(it.get("event", ""))
        status = str(it.get("status") or "")
        status = status if _CODE.match(status) else ""
        address = str(it.get("email", ""))
        event_id = f"sendgrid:{it.get('sg_event_id', '')}"
        reason = str(it.get("reason") or it.get("response") or "")
        if name == "bounce":
            if str(it.get("type", "bounce")) == "blocked":
                kind = "soft"
            else:
                kind = kind_of_code(status) if status else "hard"
            events.append(ProviderEvent(kind, address, status, f"SendGrid {it.get('type', 'bounce')}: {reason}"[:500],
                                        "", event_id, _raw(it)))
        elif name == "spamreport":
            events.append(ProviderEvent("complaint", address, "", "SendGrid spam report", "", event_id, _raw(it)))
        elif name == "deferred":
            events.append(ProviderEvent("delayed", address, status, f"SendGrid deferred: {reason}"[:500], "",
                                        event_id, _raw(it)))
    return events


# ---- Mailgun -------------------------------------------------------------------------------------
class SeenTokens:
    """Mailgun tokens accepted recently: a replayed request is refused."""

    def __init__(self, size: int = 10000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, token: str) -> bool:
        with self._lock:
            if token in self._seen:
                return False
            self._seen[token] = None
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True


def mailgun_events(cfg: BouncesConfig, body: bytes, seen: SeenTokens, now: float | None = None) -> list[ProviderEvent]:
    if not cfg.mailgun_signing_key:
        raise WebhookAuthError(403, "the Mailgun webhook is not configured (DIGEST_BOUNCES_MAILGUN_SIGNING_KEY)")
    data = _json(body)
    sig = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(sig, dict):
        raise WebhookAuthError(401, "Mailgun webhook without a signature")
    ts, token, given = str(sig.get("timestamp", "")), str(sig.get("token", "")), str(sig.get("signature", ""))
    expected = hmac.new(cfg.mailgun_signing_key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise WebhookAuthError(403, "Mailgun signature does not verify")
    if not ts.isdigit() or not _fresh(int(ts), cfg.webhook_max_age_seconds, now):
        raise WebhookAuthError(403, "Mailgun webhook timestamp too old")
    if not seen.first_time(token):
        raise WebhookAuthError(403, "Mailgun webhook token replayed")
    ev = data.get("event-data")
    if not isinstance(ev, dict):
        raise WebhookInputError("Mailgun webhook without event-data")
    name = str(ev.get("event", ""))
    address = str(ev.get("recipient", ""))
    event_id = f"mailgun:{ev.get('id', '')}"
    if name == "complained":
        return [ProviderEvent("complaint", address, "", "Mailgun complaint", "", event_id, _raw(ev))]
    if name != "failed":
        return []
    ds = ev.get("delivery-status") or {}
    ds = ds if isinstance(ds, dict) else {}
    m = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", f"{ds.get('enhanced-code', '')} {ds.get('message', '')} "
                                                    f"{ds.get('description', '')}")
    status = m.group(1) if m else ""
    if ev.get("severity") == "temporary":
        kind = "soft"
    else:
        kind = kind_of_code(status) if status else "hard"
    detail = f"Mailgun {ev.get('severity', '')} {ev.get('reason', '')}: {ds.get('code', '')} " \
             f"{ds.get('message') or ds.get('description') or ''}"
    return [ProviderEvent(kind, address, status, " ".join(detail.split())[:500], "", event_id, _raw(ev))]
