"""The bounce intake: one message or one provider event in, recorded, scored, suppressed.

Every path (the pipe, the mailbox reader, the webhooks) ends here. A message is classified
(:mod:`digest.mail.bounces`), its VERP token verified (:mod:`digest.mail.verp`), recorded with its
raw text in ``bounce_events`` for audit, and scored (:mod:`digest.mail.suppress`). Nothing but a
verified VERP token (or an authenticated provider's event) names a subscriber: a forged or garbled
bounce, or one for a token we never issued, is a one-line log entry and suppresses nobody.

Outcomes: ``scored`` / ``suppressed`` (a bounce or complaint counted), ``ignored`` (understood and
nothing to do: an auto-reply, a delay warning, a not-spam report), ``unknown-subscriber`` (a
verified token of a subscriber deleted since), and the three that are not understood, which a mailbox reader moves aside and never
deletes: ``not-understood``, ``forged`` (a VERP address whose signature does not verify) and
``no-token`` (a bounce that names no VERP address of ours).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import select

from digest.config import Config
from digest.errors import TokenError
from digest.mail import suppress
from digest.mail.bounces import Classified, classify
from digest.mail.verp import VerpClaims, reader
from digest.store import BounceEvent, Delivery, Issue, Store, Subscriber, utcnow
from digest.tokens import TokenSigner

log = logging.getLogger("digest.bounces")

NOT_UNDERSTOOD = ("not-understood", "forged", "no-token")
MAX_RAW = 1_000_000


@dataclass(frozen=True)
class ProviderEvent:
    """One bounce or complaint as a provider's webhook reports it (already authenticated)."""

    kind: str  # hard | soft | complaint | delayed | ignored
    address: str
    status: str = ""
    detail: str = ""
    #: the envelope sender the provider reports (SES ``mail.source``): our VERP address
    envelope_sender: str = ""
    event_id: str = ""
    raw: str = ""


@dataclass(frozen=True)
class IntakeResult:
    outcome: str
    kind: str
    subscriber_id: int | None = None
    issue_id: int | None = None
    address: str = ""
    status: str = ""
    detail: str = ""
    event_id: int | None = None

    @property
    def understood(self) -> bool:
        return self.outcome not in NOT_UNDERSTOOD

    def line(self) -> str:
        who = f"subscriber {self.subscriber_id}" if self.subscriber_id else (self.address or "nobody")
        extra = " ".join(x for x in (self.status, self.detail[:160]) if x)
        return f"{self.outcome}: {self.kind} for {who}" + (f" ({extra})" if extra else "")


def _raw_text(raw: bytes | str) -> str:
    text = raw if isinstance(raw, str) else raw[:MAX_RAW].decode("utf-8", "replace")
    return text[:MAX_RAW].replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL


def _clean(text: str, limit: int) -> str:
    """A field from a message or a webhook as stored: no NUL (PostgreSQL refuses it), capped."""
    return str(text).replace("\x00", "\ufffd")[:limit]


class Intake:
    """Record and score bounces for one store and configuration."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        key = store.secret_key(config.security.secret_key)
        self.verp = reader(config, key)
        self.links = TokenSigner(key)

    # ---- messages (pipe, mailbox) -------------------------------------------------------------
    def process_message(self, raw: bytes, source: str, *, mailbox_key: str = "",
                        envelope: list[str] | None = None) -> IntakeResult:
        """Classify, verify, record and score one message; never raises for bad input."""
        c = classify(raw, envelope)
        claims, token = self._claims(c)
        if not c.understood:
            return self._finish(source, c.kind, "not-understood", None, c, raw, mailbox_key, detail=c.detail)
        if c.kind in ("autoreply", "delayed", "ignored"):
            return self._finish(source, c.kind, "ignored", claims, c, raw, mailbox_key)
        if claims is None:
            outcome = "forged" if token else "no-token"
            why = (f"VERP token {token[:60]!r} does not verify" if token else
                   "names no VERP address of ours (no Delivered-To/To/Return-Path bounces+...)")
            return self._finish(source, c.kind, outcome, None, c, raw, mailbox_key, detail=why)
        return self._finish(source, c.kind, "", claims, c, raw, mailbox_key)

    def _claims(self, c: Classified) -> tuple[VerpClaims | None, str]:
        hit = self.verp.find(c.verp_candidates)
        if hit is not None and hit[1] is not None:
            return hit[1], hit[0]
        for token in c.unsubscribe_tokens:  # a complaint whose provider stripped the envelope
            try:
                claims = self.links.verify("unsubscribe", token)
            except TokenError:
                log.debug("complaint: unsubscribe token does not verify")
            else:
                return VerpClaims(claims.subscriber_id, 0), token
        return None, hit[0] if hit is not None else ""

    def _finish(self, source: str, kind: str, outcome: str, claims: VerpClaims | None, c: Classified,
                raw: bytes, mailbox_key: str, detail: str = "") -> IntakeResult:
        worst = next((r for r in c.recipients if r.kind == kind), None)
        address = worst.address if worst else ""
        return self._record(source, kind, outcome, claims.subscriber_id if claims else None,
                            claims.issue if claims else None, address, c.status, detail or c.detail,
                            mailbox_key, _raw_text(raw))

    # ---- provider events (webhooks) -----------------------------------------------------------
    def process_event(self, event: ProviderEvent, source: str) -> IntakeResult:
        """Record and score one authenticated provider event."""
        sid: int | None = None
        iid: int | None = None
        raw = _raw_text(event.raw)
        if event.envelope_sender:
            hit = self.verp.parse(parseaddr(event.envelope_sender)[1] or event.envelope_sender)
            if hit is not None:
                if hit[1] is None:
                    return self._record(source, event.kind, "forged", None, None, event.address, event.status,
                                        f"VERP token {hit[0][:60]!r} does not verify", event.event_id, raw)
                sid, iid = hit[1].subscriber_id, hit[1].issue
        if event.kind in ("delayed", "ignored"):
            return self._record(source, event.kind, "ignored", sid, iid, event.address, event.status,
                                event.detail, event.event_id, raw)
        if sid is None:
            with self.store.session() as s:
                sid = s.scalar(select(Subscriber.id).where(Subscriber.email == event.address.strip().lower()))
                if sid is not None:
                    iid = s.scalar(select(Delivery.issue_id).where(Delivery.subscriber_id == sid,
                                                                   Delivery.status == "sent")
                                   .order_by(Delivery.id.desc()).limit(1))
        if sid is None:
            return self._record(source, event.kind, "ignored", None, None, event.address, event.status,
                                "not a subscriber", event.event_id, raw)
        return self._record(source, event.kind, "", sid, iid, event.address, event.status, event.detail,
                            event.event_id, raw)

    # ---- the one writer --------------------------------------------------------------------------
    def _record(self, source: str, kind: str, outcome: str, sid: int | None, iid: int | None, address: str,
                status: str, detail: str, key: str, raw: str) -> IntakeResult:
        """Write the event and, when ``outcome`` is '' (to be decided), score it; one transaction."""
        b = self.config.bounces
        now = utcnow()
        with self.store.session() as s:
            sub = None
            if sid is not None:
                sub = s.get(Subscriber, sid, with_for_update=self.store.dialect == "postgresql")
                if sub is None:  # a verified token, but the subscriber was deleted since
                    outcome = outcome or "unknown-subscriber"
                    sid, detail = None, f"subscriber {sid} is no longer on the list; {detail}".strip("; ")
            if iid is not None and s.get(Issue, iid) is None:
                iid = None
            if not outcome and sub is not None:
                if kind == "complaint":
                    r = suppress.complaint(s, sub, detail=detail, source=source, now=now)
                else:
                    r = suppress.score_bounce(s, sub, kind, b, detail=status or detail, source=source, now=now)
                outcome = "suppressed" if r.suppressed and r.counted else ("scored" if r.counted else "ignored")
                if not r.counted and not detail:
                    detail = "already counted today" if sub.status != "suppressed" else "already suppressed"
            outcome = outcome or "ignored"
            event = BounceEvent(received_at=now, source=source[:20], kind=kind[:20], outcome=outcome,
                                subscriber_id=sid, issue_id=iid, address=_clean(address, 320),
                                status=_clean(status, 20), detail=_clean(detail, 2000),
                                mailbox_key=_clean(key, 300), raw=raw)
            s.add(event)
            s.flush()
            result = IntakeResult(outcome, kind, sid, iid, address, status, detail, event.id)
        if result.outcome == "unknown-subscriber":
            log.warning("bounce for nobody on the list (%s): %s", source, result.line())
        elif result.understood:
            log.info("bounce %s", result.line())
        else:
            log.warning("bounce set aside (%s, %s): %s", source, key or "-", result.line())
        return result

    def seen(self, source: str, mailbox_key: str) -> bool:
        """Whether a message with this mailbox key was already set aside (POP3 cannot move it)."""
        with self.store.session() as s:
            return s.scalar(select(BounceEvent.id).where(BounceEvent.source == source,
                                                         BounceEvent.mailbox_key == mailbox_key)
                            .limit(1)) is not None
