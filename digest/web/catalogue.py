"""The actors a reader can follow: every canonical actor of the knowledge base and of the articles.

One entry per actor, as issues name it (the learned alias links applied: "Jewelbug" with Earth
Alux, CL-STA-0049 and REF7707, not four entries), each searchable by any of its names. The
preferences page shows only what a reader asks for (a search), what they follow and the actors
most seen in the news, never the whole list (1,359 actors in the packaged galaxies).

Built once per process and rebuilt when the stored links or actors change (a few cheap counts per
request) or after :data:`SEEN_TTL` for the coverage counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from digest.config import Config
from digest.intel.actors.kb import norm
from digest.store import Actor, ActorLink, ArticleActor, Store

#: seconds a catalogue's coverage counts are used before they are counted again
SEEN_TTL = 600.0
#: countries that name no state
_NO_COUNTRY = {"unknown", ""}


@dataclass(frozen=True)
class Choice:
    """One followable actor."""

    id: str
    name: str
    #: its other names, as vendors write them
    others: tuple[str, ...]
    country: str | None
    #: articles stored about it
    seen: int
    #: the matching key of every name
    keys: tuple[str, ...]


class Catalogue:
    def __init__(self, choices: Iterable[Choice], aliases: dict[str, str]) -> None:
        self.choices = sorted(choices, key=lambda c: (c.name.casefold(), c.id))
        self.by_id = {c.id: c for c in self.choices}
        #: a former or other id (an actor stored before a link joined it to another) -> the canonical id
        self.aliases = aliases
        self.countries = sorted({c.country for c in self.choices
                                 if c.country and c.country.strip().lower() not in _NO_COUNTRY})
        self._seen = sorted((c for c in self.choices if c.seen), key=lambda c: (-c.seen, c.name.casefold()))

    def __len__(self) -> int:
        return len(self.choices)

    def resolve(self, actor_id: str) -> str | None:
        """The canonical id of an id a reader may have stored (None: names nothing known)."""
        if actor_id in self.by_id:
            return actor_id
        return self.aliases.get(actor_id)

    def most_seen(self, n: int) -> list[Choice]:
        return self._seen[:n]

    def search(self, query: str, limit: int) -> tuple[list[Choice], int]:
        """Actors any of whose names contain ``query`` (case and punctuation ignored), best first,
        and how many matched in all. A name that is the query, then one that starts with it, first."""
        q = norm(query)
        if not q:
            return [], 0
        q_tight = q.replace(" ", "")
        ranked: list[tuple[int, int, str, Choice]] = []
        for c in self.choices:
            best = 3
            for k in c.keys:
                tight = k.replace(" ", "")
                if k == q or tight == q_tight:
                    best = 0
                    break
                if k.startswith(q) or tight.startswith(q_tight):
                    best = min(best, 1)
                elif q in k or q_tight in tight:
                    best = min(best, 2)
            if best < 3:
                ranked.append((best, -c.seen, c.name.casefold(), c))
        ranked.sort(key=lambda r: r[:3])
        return [r[3] for r in ranked[:limit]], len(ranked)


def _signature(store: Store) -> tuple[object, ...]:
    with store.session() as s:
        links = s.execute(select(func.count(), func.max(ActorLink.id)).select_from(ActorLink)).one()
        actors = s.scalar(select(func.count()).select_from(Actor))
    return (tuple(links), actors)


def build(config: Config, store: Store) -> Catalogue:
    """The catalogue from the knowledge base, the stored actors and links, and coverage counts."""
    from digest.intel.actors.recognize import ActorRecognizer
    from digest.intel.analysis import kb_dir

    rec = ActorRecognizer.default(kb_dir(config))
    with store.session() as s:
        rows = [(r[0], r[1], r[2]) for r in s.execute(select(Actor.id, Actor.name, Actor.country))]
        counts = dict(s.execute(select(ArticleActor.actor_id, func.count()).group_by(ArticleActor.actor_id)).all())
    links = list(store.alias_links())
    hits, former = rec.canonical_actors(links, [(aid, name) for aid, name, _c in rows])
    aliases = {h.id: h.id for h in hits} | former
    stored_country = {aid: c for aid, _n, c in rows if c}
    seen: dict[str, int] = {}
    for aid, n in counts.items():
        canon = aliases.get(aid)
        if canon is not None:
            seen[canon] = seen.get(canon, 0) + int(n)
    choices = []
    for h in hits:
        names = [a.name for a in h.aliases]
        others = tuple(n for n in names if norm(n) != norm(h.name))
        keys = tuple(dict.fromkeys(norm(n) for n in [h.name, *names] if norm(n)))
        country = h.country or stored_country.get(h.id)
        choices.append(Choice(h.id, h.name, others, country, seen.get(h.id, 0), keys))
    return Catalogue(choices, {k: v for k, v in aliases.items() if k != v})


class CatalogueCache:
    """One catalogue per web app, rebuilt when the stored actors or links change (thread-safe)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config, self.store = config, store
        self._lock = threading.Lock()
        self._value: tuple[tuple[object, ...], float, Catalogue] | None = None

    def get(self) -> Catalogue:
        sig = _signature(self.store)
        with self._lock:
            if self._value is not None:
                old_sig, built, cat = self._value
                if old_sig == sig and time.monotonic() - built < SEEN_TTL:
                    return cat
            cat = build(self.config, self.store)
            self._value = (sig, time.monotonic(), cat)
            return cat
