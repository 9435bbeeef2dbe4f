"""Per-article intelligence: summary, topic, CVEs and actors, behind one small object.

The recognizer and summarizer are built once per process and reused for every article.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest.config import Config
from digest.models import ActorHit, AliasLink, TopicInfo

if TYPE_CHECKING:
    from digest.intel.editorial import Judgment


@dataclass(frozen=True)
class Analysis:
    summary: str
    topic: TopicInfo
    actors: tuple[ActorHit, ...]
    links: tuple[AliasLink, ...]


class Analyzer:
    """Summarize, classify and recognise actors in articles, carrying learned alias links along."""

    def __init__(self, config: Config, links: Iterable[AliasLink] = ()) -> None:
        from digest.intel.actors.recognize import ActorRecognizer
        from digest.intel.summarizer import make_summarizer

        self.config = config
        self.recognizer = ActorRecognizer.default(kb_dir(config))
        self.summarizer = make_summarizer(config.summarizer)
        self.links: list[AliasLink] = list(links)
        from digest.intel.kev import load_kev

        self.kev = load_kev(kb_dir(config))  # CISA's catalogue, when `digest kev update` installed one

    def analyse(self, title: str, text: str, source_id: str = "",
                seconds: dict[str, float] | None = None, summarize: bool = True) -> Analysis:
        """Actors (and the alias links the text states), topic and summary of one article.

        ``seconds``, when given, gets the time each step took added under "actors", "topic" and
        "summarize" (what `digest poll` reports per stage). ``summarize=False`` leaves the summary
        empty (`digest poll` with ``summarizer.when = "compose"``: the issue summarizes what it shows).
        """
        from digest.intel.topics import classify

        t0 = time.perf_counter()
        actors, new_links = self.recognizer.detect_and_learn(title, text, self.links, source_id=source_id)
        if new_links:
            self.links.extend(new_links)
        key_terms = [m for a in actors for m in a.mentions]
        t1 = time.perf_counter()
        topic = classify(title, text)
        key_terms.extend(topic.cves)
        t2 = time.perf_counter()
        summary = self.summarizer.summarize(title, text, key_terms=key_terms) if summarize else ""
        if seconds is not None:
            seconds["actors"] = seconds.get("actors", 0.0) + t1 - t0
            seconds["topic"] = seconds.get("topic", 0.0) + t2 - t1
            if summarize:
                seconds["summarize"] = seconds.get("summarize", 0.0) + time.perf_counter() - t2
        return Analysis(summary=summary, topic=topic, actors=tuple(actors), links=tuple(new_links))

    def detect(self, title: str, text: str) -> list[ActorHit]:
        return self.recognizer.detect(title, text, self.links)

    def judge(self, title: str, text: str, *, actors: Sequence[ActorHit], source: str = "",
              source_kind: str = "news", published: datetime | None = None) -> Judgment:
        """The editorial judgment (section, CVE flags, sponsored, importance, primary actor)."""
        from digest.intel.editorial import judge

        return judge(title, text, actors=actors, source=source, source_kind=source_kind, published=published,
                     kev=self.kev)


def kb_dir(config: Config) -> Path | None:
    """Where `actors update-kb` installs newer galaxies (None when nothing was installed)."""
    path = config.path("var/kb")
    return path if path.is_dir() else None
