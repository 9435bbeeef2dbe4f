"""Summaries measured on real text the project did not write, split by date into a dev and a test half.

The material is read from ``../shared`` at evaluation time (nothing of it is copied into the
project): the July 2025 feed snapshots and ``cybersecnews.json`` (dev up to 2025-07-19, test after),
the AnnoCTR reports (train and dev splits are dev, its test split is test), the threat reports and
article pages (dev), and the NewsDataHub items, title and description (dev up to 2025-11-15, test
after). Tune on dev; test is only measured.

Each summary is checked against the Concise Cyber rules (:func:`check_summary`: at most 3 sentences
and ``max_words`` words, no URL, question, boilerplate or dangling opening, a complete last sentence,
every sentence from the article), beside a plain baseline measured in the same run: the article's
opening sentences within the word budget, as a lead-N summarizer would take them.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from digest.intel.summarize import check_summary, extractive_summary
from digest.intel.text import clean_text, split_sentences, words

__all__ = ["EvalText", "SplitReport", "lead_summary", "load_texts", "report", "run_summary_eval"]

FEED_CUT = datetime(2025, 7, 20, tzinfo=UTC)
NEWS_CUT = "2025-11-16"


@dataclass(frozen=True)
class EvalText:
    id: str
    kind: str  # feed, annoctr, report, page, news
    split: str  # dev or test
    title: str
    text: str


def load_texts(shared: Path) -> list[EvalText]:
    """Every real text of ``shared`` with a dev/test split by date; [] when the folder is absent."""
    from digest.eval.content import load_corpus

    corpus = shared / "corpus"
    out: list[EvalText] = []
    if (corpus / "feeds" / "cybersecnews.json").is_file():
        for it in load_corpus(shared):
            split = "dev" if it.published is None or it.published < FEED_CUT else "test"
            out.append(EvalText(it.id, "feed", split, it.title, it.text))
    for part in ("train", "dev", "test"):
        for path in sorted((corpus / "annoctr" / "text" / part).glob("*.txt")):
            out.append(EvalText(path.stem, "annoctr", "test" if part == "test" else "dev", path.stem,
                                path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted((corpus / "reports").glob("*.txt")):
        out.append(EvalText(path.stem, "report", "dev", path.stem, path.read_text(encoding="utf-8", errors="replace")))
    pages = sorted((corpus / "pages").glob("*.html"))
    if pages:
        from digest.errors import ExtractError
        from digest.ingest.extract import extract_article

        for path in pages:
            try:
                ex = extract_article(path.read_bytes(), f"https://example.org/{path.name}")
            except ExtractError:
                continue
            out.append(EvalText(path.stem, "page", "dev", ex.title or path.stem, ex.text))
    news = corpus / "news" / "newsdatahub-cyber-3000.csv"
    if news.is_file():
        with news.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                split = "dev" if row.get("pub_date", "") < NEWS_CUT else "test"
                out.append(EvalText(row["id"], "news", split, row.get("title", ""), row.get("description", "")))
    return out


def lead_summary(title: str, text: str, *, max_words: int = 70, key_terms: Sequence[str] = ()) -> str:
    """The plain baseline: the article's first sentences, up to three, while they fit in ``max_words``."""
    out: list[str] = []
    budget = max_words
    for s in split_sentences(text):
        n = len(words(s))
        if n > budget or len(out) == 3:
            break
        out.append(s)
        budget -= n
    return " ".join(out)


@dataclass
class SplitReport:
    total: int = 0
    broken: int = 0
    empty: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.broken / self.total if self.total else 0.0

    @property
    def median(self) -> float:
        nonempty = [n for n in self.lengths if n]
        return statistics.median(nonempty) if nonempty else 0.0


def report(texts: Iterable[EvalText], summarize=extractive_summary, *, max_words: int = 70) -> SplitReport:  # type: ignore[no-untyped-def]
    rep = SplitReport()
    for t in texts:
        summary = summarize(t.title, t.text, max_words=max_words)
        rep.total += 1
        rep.lengths.append(len(words(summary)))
        if not summary:
            rep.empty += 1
        problems = check_summary(summary, t.text, max_words=max_words)
        if problems:
            rep.broken += 1
            rep.rules.update(p.split(":")[0] for p in problems)
            if len(rep.examples) < 8:
                rep.examples.append((f"{t.kind}:{t.id}", problems[0]))
    return rep


def _line(label: str, rep: SplitReport) -> str:
    rules = ", ".join(f"{k} {v}" for k, v in rep.rules.most_common(6))
    return (f"  {label:34} {rep.total:5} items  breaking a rule {rep.broken:4} ({rep.rate:6.1%})  "
            f"median {rep.median:4.0f} words, longest {max(rep.lengths, default=0)}" + (f"  [{rules}]" if rules else ""))


def run_summary_eval(shared: Path, *, max_words: int = 70, verbose: bool = False) -> list[str]:
    """The lines ``digest eval-summaries`` prints: per split and kind of text, digest beside the lead baseline."""
    texts = [t for t in load_texts(shared) if clean_text(t.text)]
    if not texts:
        return [f"Summaries: {shared} holds no corpus; skipped."]
    lines = [f"Summaries of real text (max {max_words} words; rules of check_summary), digest beside lead-3:"]
    for split in ("dev", "test"):
        part = [t for t in texts if t.split == split]
        articles = [t for t in part if t.kind != "news"]
        lines.append(f" {split}:")
        for label, group in ((f"articles ({', '.join(sorted({t.kind for t in articles}))})", articles),
                             ("news items (title + description)", [t for t in part if t.kind == "news"])):
            if not group:
                continue
            ours = report(group, max_words=max_words)
            base = report(group, lead_summary, max_words=max_words)
            lines.append(_line(f"digest, {label}", ours))
            lines.append(_line(f"lead-3, {label}", base))
            if verbose:
                lines.extend(f"      {ident}: {problem}" for ident, problem in ours.examples)
    return lines
