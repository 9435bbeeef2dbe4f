"""Editorial judgment on one article: section, exploited flag per CVE, sponsored, importance.

One place for the judgments the digest prints (``digest analyse`` is its contract command): a
story is filed under its primary actor (:mod:`digest.intel.salience`), in the section ``topic``
names, with the exploited flag per CVE; sponsored items stay out of the issue; importance orders
and selects the stories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.models import ActorHit

from .salience import primary_actor
from .topics import classify

__all__ = ["CveFlag", "Judgment", "judge", "story_importance"]


@dataclass(frozen=True)
class CveFlag:
    id: str
    exploited: bool


@dataclass(frozen=True)
class Judgment:
    topic: str  # a key of digest.intel.topics.TOPICS
    cves: tuple[CveFlag, ...] = ()
    sponsored: bool = False
    importance: float = 0.0  # higher matters more; comparable within a batch
    primary: str | None = None  # the primary actor's id
    why: tuple[str, ...] = ()  # what `digest analyse --explain` prints

    @property
    def exploited_cves(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.cves if c.exploited)


def judge(title: str, text: str, *, actors: Sequence[ActorHit] = (), source: str = "",
          source_kind: str = "news", published: datetime | None = None) -> Judgment:
    """Baseline: the keyword topic, the story-wide exploited flag on every CVE, nothing sponsored."""
    info = classify(title, text)
    primary = primary_actor(title, text, actors)
    importance = 1.0 + (1.0 if primary else 0.0) + (1.0 if info.exploited else 0.0)
    return Judgment(topic=info.topic, cves=tuple(CveFlag(c, info.exploited) for c in info.cves),
                    sponsored=False, importance=importance, primary=primary.id if primary else None)


def story_importance(judgments: Sequence[Judgment], *, outlets: int = 1) -> float:
    """A story's importance from its articles' and the number of outlets that carry it."""
    best = max((j.importance for j in judgments), default=0.0)
    return best + 0.5 * max(outlets - 1, 0)
