"""Bounce scoring and suppression, like Mailman's: hard 1, soft 0.5, at most once a day per address.

A subscriber's score decays with a half-life of ``bounces.decay_days`` (7) days; the bounces of one
UTC day count once, as the worst of them (a soft one then a hard one the same day add up to 1, two
hard ones to 1). At ``bounces.threshold`` (1) the address is suppressed with its reason. A
complaint suppresses at once. An address that bounces hard before it was ever sent an issue (the
confirmation mail bounced, or the first issue did) is removed from the list at once: it was never
a working address. A suppressed subscriber gets no mail: issues go to 'confirmed' addresses only,
and a sign-up or `subscribe` of a suppressed address sends no confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.config import BouncesConfig
from digest.store import Delivery, Subscriber, utcnow

#: states whose address we still mail (a pending one gets its confirmation mail)
ACTIVE = ("confirmed", "pending")


@dataclass(frozen=True)
class ScoreResult:
    score: float
    suppressed: bool
    reason: str = ""
    counted: bool = True


def decayed(score: float, since: datetime | None, now: datetime, half_life_days: float) -> float:
    if not score or since is None:
        return score
    days = max(0.0, (now - since).total_seconds() / 86400)
    return score * 0.5 ** (days / half_life_days)


def _suppress(sub: Subscriber, reason: str, now: datetime) -> None:
    sub.status = "suppressed"
    sub.suppressed_reason = reason[:1000]
    sub.suppressed_at = now


def _ever_sent(session: Session, subscriber_id: int) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.subscriber_id == subscriber_id, Delivery.status == "sent")))


def score_bounce(session: Session, sub: Subscriber, kind: str, cfg: BouncesConfig, *, detail: str = "",
                 source: str = "", now: datetime | None = None) -> ScoreResult:
    """Count one hard or soft bounce against ``sub`` (in the caller's transaction)."""
    now = now or utcnow()
    weight = cfg.hard_score if kind == "hard" else cfg.soft_score
    what = f"{kind} bounce" + (f" ({detail[:200]})" if detail else "") + (f" via {source}" if source else "")
    if sub.status not in ACTIVE:
        return ScoreResult(sub.bounce_score or 0.0, sub.status == "suppressed", sub.suppressed_reason or "", False)
    if kind == "hard" and not _ever_sent(session, sub.id):
        _suppress(sub, f"removed: {what} before its first issue, on {now:%Y-%m-%d}", now)
        sub.bounce_score, sub.bounce_at, sub.bounce_day_score = weight, now, weight
        return ScoreResult(weight, True, sub.suppressed_reason or "")
    last = sub.bounce_at
    counted = True
    if last is not None and last.date() == now.date():
        extra = max(0.0, weight - (sub.bounce_day_score or 0.0))  # once a day: the worst bounce of the day
        counted = extra > 0
        if counted:
            sub.bounce_score, sub.bounce_at = round((sub.bounce_score or 0.0) + extra, 6), now
            sub.bounce_day_score = weight
    else:
        score = decayed(sub.bounce_score or 0.0, last, now, cfg.decay_days) + weight
        sub.bounce_score, sub.bounce_at, sub.bounce_day_score = round(score, 6), now, weight
    if sub.bounce_score >= cfg.threshold - 1e-9:
        _suppress(sub, f"bounce score {sub.bounce_score:.2f} reached {cfg.threshold:g}; last: {what}, "
                       f"on {now:%Y-%m-%d}", now)
        return ScoreResult(sub.bounce_score, True, sub.suppressed_reason or "", counted)
    return ScoreResult(sub.bounce_score, False, "", counted)


def complaint(session: Session, sub: Subscriber, *, detail: str = "", source: str = "",
              now: datetime | None = None) -> ScoreResult:
    """A complaint ("this is spam"): suppressed at once, whatever the state (an unsubscribed address
    stays unsubscribed: it gets no mail either way)."""
    now = now or utcnow()
    if sub.status in ACTIVE:
        _suppress(sub, f"complaint ({detail or 'spam report'})" + (f" via {source}" if source else "")
                  + f", on {now:%Y-%m-%d}", now)
        return ScoreResult(sub.bounce_score or 0.0, True, sub.suppressed_reason or "")
    return ScoreResult(sub.bounce_score or 0.0, sub.status == "suppressed", sub.suppressed_reason or "", False)


def unsuppress(session: Session, sub: Subscriber) -> bool:
    """Make a suppressed address confirmed again with a clean score. False if it was not suppressed."""
    if sub.status != "suppressed":
        return False
    sub.status = "confirmed"
    sub.bounce_score, sub.bounce_day_score, sub.bounce_at = 0.0, 0.0, None
    sub.hard_bounces = 0
    sub.suppressed_reason, sub.suppressed_at = None, None
    if sub.confirmed_at is None:
        sub.confirmed_at = utcnow()
    return True
