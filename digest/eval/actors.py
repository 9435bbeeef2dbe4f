"""Evaluation of actor recognition, each figure beside the plain galaxy-lookup baseline.

Two sets:

* **AnnoCTR** (``../shared/corpus/annoctr``): real CTI reports with expert labels; the score is on
  the *distinct* hacker-group names of each report (label GROUP). Names are compared by their core:
  lower case, alphanumerics only, without generic words around them ("the", "group", "gang",
  "APT", "ransomware", "actors"), so "Babuk gang" and "Babuk group" are one name, as are
  "APT 29" and "APT29". Micro-averaged precision, recall and F1 over reports.
* **Own labelled snippets** (``tests/data/actor_snippets.jsonl``): short news snippets, about half
  naming actors (the same actor under different names in different snippets) and half traps. Read
  as one batch, as ``digest actors detect`` does. Figures: precision and recall of (snippet,
  actor) pairs, alias recall (labelled mentions found), actors found in traps, and cross-document
  grouping as B-cubed F1 over the correctly found pairs.

The baseline matches every name and synonym of the MISP threat-actor galaxy shipped with
``pymispgalaxies``, as written (case-sensitive) and as whole words, each galaxy entry its own actor,
with no other rule: what a naive lookup does. Both systems are scored the same way, on the mention
strings each finds in the report (so a canonical name never stands in for the alias the report uses).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from digest.intel.actors.kb import load_galaxy_file, norm, packaged_galaxy_dir, slug
from digest.models import ActorHit, Alias

__all__ = [
    "BaselineRecognizer",
    "Scores",
    "SnippetScores",
    "core_name",
    "default_snippets_path",
    "read_annoctr",
    "read_snippets",
    "run_eval",
    "score_annoctr",
    "score_snippets",
    "shared_dir",
]

_GENERIC = {"the", "group", "gang", "ransomware", "apt", "actor", "actors", "team", "crew", "operators",
            "hackers", "threat", "cluster"}


def shared_dir() -> Path:
    """``../shared`` beside the project's root."""
    return Path(__file__).resolve().parents[3] / "shared"


def default_snippets_path() -> Path:
    """The project's own labelled snippets."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "actor_snippets.jsonl"


def core_name(name: str) -> str:
    """The comparable core of a group name ("the Babuk ransomware gang" -> "babuk")."""
    name = re.sub(r"\s*['’]\s*s$", "", name.strip())  # "TrickBot group ’ s" (a possessive in the labels)
    words = re.sub(r"\b([a-z]+) (\d+)\b", r"\1\2", norm(name)).split()  # "APT 29" is "APT29"
    while len(words) > 1 and words[0] in _GENERIC:
        words.pop(0)
    while len(words) > 1 and words[-1] in _GENERIC:
        words.pop()
    return "".join(words)


class BaselineRecognizer:
    """Plain lookup of every name and synonym of the threat-actor galaxy (the issue's baseline).

    What a naive implementation does: each name as written in the galaxy, matched case-sensitively
    as a whole word (no letter, digit or underscore just before or after it), every name on its
    own (overlapping matches all count), each galaxy entry its own actor, no other rule.
    """

    def __init__(self, galaxy_path: Path | None = None) -> None:
        data = load_galaxy_file(galaxy_path or packaged_galaxy_dir() / "threat-actor.json")
        self.entries: dict[str, str] = {}
        keys: dict[str, set[str]] = defaultdict(set)
        for v in data["values"]:
            eid = slug(v["value"])
            self.entries[eid] = v["value"]
            for n in [v["value"], *((v.get("meta") or {}).get("synonyms") or [])]:
                n = n.strip()
                if n:
                    keys[n].add(eid)
        self.auto = ahocorasick.Automaton()
        for k, ids in keys.items():
            self.auto.add_word(k, (len(k), tuple(sorted(ids))))
        self.auto.make_automaton()

    @staticmethod
    def _word(ch: str) -> bool:
        return ch.isalnum() or ch == "_"

    def detect(self, title: str, text: str) -> list[ActorHit]:
        """Every galaxy entry one of whose names occurs, as written, as a whole word in the document."""
        full = f"{title}\n\n{text}" if title else text
        n = len(full)
        found: dict[str, list[str]] = defaultdict(list)
        for last, (klen, ids) in self.auto.iter(full):
            start, end = last - klen + 1, last + 1
            if (start > 0 and self._word(full[start - 1])) or (end < n and self._word(full[end])):
                continue
            mention = full[start:end]
            for i in ids:
                if mention not in found[i]:
                    found[i].append(mention)
        return [ActorHit(i, self.entries[i], (Alias(self.entries[i]),), tuple(m)) for i, m in found.items()]

    def detect_batch(self, docs: Sequence[tuple[str, str, str]]) -> dict[str, list[ActorHit]]:
        """Detect in each document; the baseline learns nothing across documents."""
        return {d: self.detect(t, x) for d, t, x in docs}


# ---------------------------------------------------------------------------- AnnoCTR


@dataclass
class Scores:
    """Precision, recall and F1 with the counts behind them."""

    tp: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


_EXCLUDED_LABELS = ("MALWARE", "TOOL")


def _bio_docs(path: Path) -> list[tuple[list[str], set[str], set[str]]]:
    """(tokens, GROUP spans, MALWARE and TOOL spans) of each report of a BIO file."""
    docs: list[tuple[list[str], set[str], set[str]]] = []
    tokens: list[str] = []
    spans: dict[str, set[str]] = defaultdict(set)
    current: list[str] = []
    kind = ""

    def close() -> None:
        nonlocal kind
        if current:
            spans[kind].add(" ".join(current))
            current.clear()
        kind = ""

    def flush() -> None:
        close()
        if tokens:
            docs.append((list(tokens), set(spans["GROUP"]),
                         set().union(*(spans[k] for k in _EXCLUDED_LABELS))))

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("<DOCSTART>"):
            flush()
            tokens, spans = [], defaultdict(set)
            continue
        if not line.strip():
            close()
            continue
        parts = line.split("\t")
        tok, label = parts[0], parts[-1]
        tokens.append(tok)
        if label.startswith("B-"):
            close()
            kind = label[2:]
            current.append(tok)
        elif label.startswith("I-") and current and label[2:] == kind:
            current.append(tok)
        else:
            close()
    flush()
    return docs


def read_annoctr(root: Path, split: str) -> list[tuple[str, str, set[str], set[str]]]:
    """(file name, full text, gold GROUP names, names labelled MALWARE or TOOL) for each report."""
    bio = _bio_docs(root / "ner_bio" / f"{split}.bio")
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "text" / split).glob("*.txt"))}
    keyed = {name: re.sub(r"[\W_]", "", t.lower())[:400] for name, t in texts.items()}
    out = []
    for tokens, groups, excluded in bio:
        key = re.sub(r"[\W_]", "", "".join(tokens).lower())[:400]

        def common(a: str, b: str = key) -> int:
            n = 0
            for x, y in zip(a, b):
                if x != y:
                    break
                n += 1
            return n

        best = max(keyed, key=lambda name: common(keyed[name]))
        out.append((best, texts[best], groups, excluded))
    return out


def score_annoctr(docs: Iterable[tuple[str, str, set[str], set[str]]],
                  detect: Callable[[str, str], list[ActorHit]]) -> Scores:
    """Micro precision/recall/F1 of distinct core group names per report.

    A core name the annotators labelled MALWARE or TOOL anywhere in that report counts neither way
    (the issue's definition): AnnoCTR labels "the Maze gang" MALWARE, so whether a system calls Maze
    a group there is not scored.
    """
    tp = pred = gold = 0
    for _name, text, groups, excluded in docs:
        skip = {core_name(x) for x in excluded}
        g = {core_name(x) for x in groups} - {""} - skip
        p = {core_name(m) for h in detect("", text) for m in h.mentions} - {""} - skip
        tp += len(g & p)
        pred += len(p)
        gold += len(g)
    return Scores(tp, pred, gold)


# ---------------------------------------------------------------------------- own snippets


@dataclass
class SnippetScores:
    """Figures on the labelled snippets."""

    pairs: Scores
    alias_recall: float
    trap_hits: int
    traps: int
    bcubed_precision: float
    bcubed_recall: float

    @property
    def bcubed_f1(self) -> float:
        p, r = self.bcubed_precision, self.bcubed_recall
        return 2 * p * r / (p + r) if p + r else 0.0


def read_snippets(path: Path) -> list[dict]:
    """The labelled snippets, one JSON object a line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_snippets(snippets: list[dict],
                   detect_batch: Callable[[Sequence[tuple[str, str, str]]], dict[str, list[ActorHit]]]
                   ) -> SnippetScores:
    """Score a recognizer's batch detection against the labels."""
    results = detect_batch([(s["id"], s.get("title", ""), s.get("text", "")) for s in snippets])
    tp = pred = gold = 0
    alias_found = alias_total = 0
    trap_hits = traps = 0
    items: list[tuple[str, str]] = []  # (gold label, predicted id) of each correct pair
    for s in snippets:
        hits = results.get(s["id"], [])
        labels = s.get("actors", [])
        if not labels:
            traps += 1
            trap_hits += len(hits)
        pred += len(hits)
        gold += len(labels)
        found_mentions = {norm(m) for h in hits for m in h.mentions}
        used: set[int] = set()
        for lab in labels:
            gm = {norm(m) for m in lab["mentions"]}
            alias_total += len(gm)
            alias_found += len(gm & found_mentions)
            for i, h in enumerate(hits):
                if i not in used and gm & {norm(m) for m in h.mentions}:
                    used.add(i)
                    tp += 1
                    items.append((lab["label"], h.id))
                    break
    bp = br = 0.0
    for g, p in items:
        same_pred = [x for x in items if x[1] == p]
        same_gold = [x for x in items if x[0] == g]
        both = sum(1 for x in items if x == (g, p))
        bp += both / len(same_pred)
        br += both / len(same_gold)
    n = len(items) or 1
    return SnippetScores(Scores(tp, pred, gold), alias_found / alias_total if alias_total else 1.0,
                         trap_hits, traps, bp / n if items else 0.0, br / n if items else 0.0)


# ---------------------------------------------------------------------------- report


def run_eval(recognizer, baseline: BaselineRecognizer | None = None, *, annoctr: Path | None = None,
             snippets: Path | None = None, split: str = "test", echo: Callable[[str], None] = print) -> dict:
    """Print both evaluations, ours beside the baseline; return the figures."""
    baseline = baseline or BaselineRecognizer()
    out: dict = {}
    snippets = snippets or default_snippets_path()
    if snippets.is_file():
        data = read_snippets(snippets)
        ours = score_snippets(data, recognizer.detect_batch)
        base = score_snippets(data, baseline.detect_batch)
        n_actor = sum(1 for s in data if s.get("actors"))
        echo(f"Own labelled snippets ({len(data)}: {n_actor} naming actors, {len(data) - n_actor} traps)")
        echo(f"  {'':22}{'digest':>10}{'baseline':>10}")
        rows = [("precision", ours.pairs.precision, base.pairs.precision),
                ("recall", ours.pairs.recall, base.pairs.recall),
                ("F1", ours.pairs.f1, base.pairs.f1),
                ("alias recall", ours.alias_recall, base.alias_recall),
                ("B-cubed F1", ours.bcubed_f1, base.bcubed_f1)]
        for label, a, b in rows:
            echo(f"  {label:22}{a:10.3f}{b:10.3f}")
        echo(f"  {'actors found in traps':22}{ours.trap_hits:10d}{base.trap_hits:10d}")
        out["snippets"] = {"ours": ours, "baseline": base}
    else:
        echo(f"Own labelled snippets: {snippets} not found, skipped")
    root = annoctr or shared_dir() / "corpus" / "annoctr"
    if (root / "ner_bio" / f"{split}.bio").is_file():
        docs = read_annoctr(root, split)
        ours_a = score_annoctr(docs, recognizer.detect)
        base_a = score_annoctr(docs, baseline.detect)
        echo(f"AnnoCTR {split} ({len(docs)} reports, distinct GROUP names per report)")
        echo(f"  {'':22}{'digest':>10}{'baseline':>10}")
        for label, a, b in (("precision", ours_a.precision, base_a.precision),
                            ("recall", ours_a.recall, base_a.recall),
                            ("F1", ours_a.f1, base_a.f1)):
            echo(f"  {label:22}{a:10.3f}{b:10.3f}")
        echo(f"  {'F1 gain':22}{ours_a.f1 - base_a.f1:+10.3f}")
        out["annoctr"] = {"ours": ours_a, "baseline": base_a}
    else:
        echo(f"AnnoCTR: {root} not found, skipped")
    return out


# ---------------------------------------------------------------------------- real news (issue 13)


@dataclass
class RealNewsActorScores:
    """Actor figures on hand-labelled real news (labels of ``tests/data/realnews/editorial.jsonl``).

    * ``primary``: stories labelled with a primary actor whose predicted primary is that actor;
    * ``kept_free``: stories labelled with no primary actor that get no primary either;
    * ``precision``: predicted non-incidental actors that are among the story's labelled actors (an
      actor the labels call incidental, tagged as a story's actor, is wrong);
    * ``detected_precision``: every detected actor, incidental or not, that the labels name at all.
    """

    primary_right: int = 0
    primary_total: int = 0
    free_kept: int = 0
    free_total: int = 0
    tags_right: int = 0
    tags: int = 0
    detected_right: int = 0
    detected: int = 0
    errors: list[str] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.errors is None:
            self.errors = []

    @property
    def primary(self) -> float:
        return self.primary_right / self.primary_total if self.primary_total else 1.0

    @property
    def kept_free(self) -> float:
        return self.free_kept / self.free_total if self.free_total else 1.0

    @property
    def precision(self) -> float:
        return self.tags_right / self.tags if self.tags else 1.0

    @property
    def detected_precision(self) -> float:
        return self.detected_right / self.detected if self.detected else 1.0


def _names_of(hit: ActorHit) -> set[str]:
    return {norm(n) for n in (hit.name, *(a.name for a in hit.aliases), *hit.mentions)} - {""}


def _is(hit: ActorHit | None, label: str | None) -> bool:
    return hit is not None and label is not None and norm(label) in _names_of(hit)


def score_realnews(labels: Iterable[dict], items: dict, detect_batch, *, split: str = "dev"
                   ) -> RealNewsActorScores:
    """Score actors and the primary actor (``salience.rank_actors``) on one split of the labels.

    ``items`` maps a label's key to an object with ``title`` and ``text`` (``realnews.load_items``);
    labels whose item is missing are skipped. The split's items are read as one batch.
    """
    from digest.intel.actors.salience import rank_actors

    rows = [r for r in labels if r.get("split") == split and r["key"] in items]
    results = detect_batch([(r["key"], items[r["key"]].title, items[r["key"]].text) for r in rows])
    s = RealNewsActorScores()
    for r in rows:
        item = items[r["key"]]
        roles = rank_actors(item.title, item.text, results.get(r["key"], []))
        primary = next((x.actor for x in roles if x.primary), None)
        gold_primary = r.get("primary")
        gold = [*r.get("actors", [])]
        named = gold + [*r.get("incidental", [])]
        if gold_primary:
            s.primary_total += 1
            s.primary_right += _is(primary, gold_primary)
        else:
            s.free_total += 1
            s.free_kept += primary is None
        if (primary is None) != (not gold_primary) or (gold_primary and not _is(primary, gold_primary)):
            s.errors.append(f"{r['key']}: primary {primary.name if primary else None!r}, "
                            f"labelled {gold_primary!r}")
        for role in roles:
            ok = any(_is(role.actor, g) for g in gold)
            s.detected += 1
            s.detected_right += any(_is(role.actor, g) for g in named)
            if not role.incidental:
                s.tags += 1
                s.tags_right += ok
                if not ok:
                    s.errors.append(f"{r['key']}: tag {role.actor.name!r} ({', '.join(role.actor.mentions)}), "
                                    f"labelled {gold} incidental {r.get('incidental', [])}")
    return s
