"""Which of the actors a story names it is about: the primary actor, the others, the incidental ones.

A story names actors for many reasons: the one it is about (in the headline, the subject of the
lede, attributed, repeated), others involved, and mentions in passing (negated, hedged, background,
related-coverage links). Only the first may file a story under an actor.

This module is the one place that decides; the digest (compose) and ``digest analyse`` use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from digest.models import ActorHit

__all__ = ["ActorRole", "primary_actor", "rank_actors"]


@dataclass(frozen=True)
class ActorRole:
    """One actor of a story and its part in it."""

    actor: ActorHit
    primary: bool
    incidental: bool
    score: float


def _count(text: str, names: Sequence[str]) -> int:
    n = 0
    for name in names:
        n += len(re.findall(rf"(?<!\w){re.escape(name)}(?!\w)", text))
    return n


def rank_actors(title: str, text: str, hits: Sequence[ActorHit]) -> list[ActorRole]:
    """Every hit with its role, most salient first; at most one is primary.

    Baseline: a name in the headline counts most, then mentions in the opening, then repetition.
    """
    lede = text[:600]
    scored: list[tuple[float, int, ActorHit]] = []
    for order, hit in enumerate(hits):
        names = hit.mentions or (hit.name,)
        score = 3.0 * _count(title, names) + 1.5 * _count(lede, names) + 0.5 * _count(text, names)
        scored.append((score, order, hit))
    scored.sort(key=lambda t: (-t[0], t[1]))
    roles: list[ActorRole] = []
    for rank, (score, _order, hit) in enumerate(scored):
        roles.append(ActorRole(actor=hit, primary=rank == 0 and score > 0, incidental=score == 0, score=score))
    return roles


def primary_actor(title: str, text: str, hits: Sequence[ActorHit]) -> ActorHit | None:
    """The actor the story is about, or None when it is about none of those it names."""
    for role in rank_actors(title, text, hits):
        if role.primary:
            return role.actor
    return None
