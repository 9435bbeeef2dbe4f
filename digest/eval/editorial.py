"""Evaluation of the editorial judgments on real news the project labelled, each beside a plain baseline.

The labels (``tests/data/realnews/editorial.jsonl`` and ``weeks.jsonl``, see
:mod:`digest.eval.realnews` for how they were made and where the texts come from) are split by
date into a dev half, on which the section model and the importance weights are fitted
(``digest eval-editorial --train``), and a test half that is only measured. Everything is measured
through the contract: :func:`digest.intel.analyse.analyse_batch`, one batch per ISO week (the
batch whose outlets and recency importance may use), once as shipped and once with ``baseline``
(today's keyword topic, the story-wide exploited flag, nothing sponsored, stories ranked by
outlets then recency).

Figures per half: section accuracy; exploited per (article, CVE) precision and recall; sponsored
precision and recall; the share of a week's hand-picked top stories ranked within the top 1.5 k by
importance (k = their number); and, through :mod:`digest.intel.actors.salience`, primary actor right (of
articles with a labelled primary actor), articles without an actor kept free of one, and actor
precision (an actor found is right when it is one the article names, incidental mentions included).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.config import Config
from digest.eval.tally import PR
from digest.intel.analyse import AnalyseDoc, analyse_batch

__all__ = ["Gold", "evaluate", "load_gold", "run_eval", "train_models"]

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("exploited", "ransomware", "breach", "malware", "policy", "industry", "other")


@dataclass(frozen=True)
class Gold:
    """One labelled article and its text."""

    key: str
    split: str  # "dev" | "test"
    title: str
    text: str
    source: str = ""
    published: datetime | None = None
    source_kind: str = "news"
    section: str | None = None
    primary: str | None = None  # a name; None: the article is about no actor
    actors: frozenset[str] = frozenset()  # names, incidental mentions included
    cves: dict[str, bool] = field(default_factory=dict)
    sponsored: bool | None = None
    importance: int | None = None
    week: str = ""


def labels_dir() -> Path:
    """Where the labels are: $DIGEST_REALNEWS_DIR, else tests/data/realnews of the checkout."""
    env = os.environ.get("DIGEST_REALNEWS_DIR")
    return Path(env) if env else ROOT / "tests" / "data" / "realnews"


def _realnews_module() -> Any:
    """digest.eval.realnews (the labels' loader); $DIGEST_REALNEWS_LOADER names a file during development."""
    path = os.environ.get("DIGEST_REALNEWS_LOADER")
    if path:
        spec = importlib.util.spec_from_file_location("digest.eval.realnews", path)
        if spec is None or spec.loader is None:
            raise ImportError(path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        return mod
    return importlib.import_module("digest.eval.realnews")


def _kind(source: str) -> str:
    """The source kind of a labelled item's outlet, as a feed list would give it."""
    low = source.lower()
    if any(w in low for w in ("cisa", "cybersecurity-advisories", "ncsc", "cert")):
        return "government"
    if any(w in low for w in ("unit42", "unit 42", "microsoft", "crowdstrike", "proofpoint", "securelist",
                              "talos", "mandiant", "eset", "sophos", "checkpoint", "check point")):
        return "vendor"
    return "news"


def load_gold(directory: Path | None = None) -> tuple[list[Gold], list[tuple[str, list[str], str]]]:
    """The labelled articles with their texts, and the weeks' top stories ``(week, [item keys], lead key)``.

    The labels are ``editorial.jsonl`` and, when present, ``editorial_cves.jsonl`` beside it (more
    items that name CVEs, the same line format; a key already read is skipped).

    FileNotFoundError (with the reason) when the labels or the shared corpus are absent.
    """
    folder = directory or labels_dir()
    labels_path = folder / "editorial.jsonl"
    if not labels_path.is_file():
        raise FileNotFoundError(f"{labels_path} not found")
    realnews = _realnews_module()
    items = realnews.load_items()
    if not items:
        raise FileNotFoundError(f"the shared corpus ({realnews.shared_dir()}) is absent")
    gold: list[Gold] = []
    seen: set[str] = set()
    rows = realnews.load_labels(labels_path)
    extra = folder / "editorial_cves.jsonl"  # more CVE-naming items, same line format; a key seen is skipped
    if extra.is_file():
        rows += realnews.load_labels(extra)
    for row in rows:
        item = items.get(row["key"])
        if item is None or row["key"] in seen:
            continue
        seen.add(row["key"])
        names = frozenset([*(row.get("actors") or ()), *(row.get("incidental") or ())])
        gold.append(Gold(
            key=row["key"], split=row.get("split", "dev"), title=item.title, text=item.text, source=item.source,
            published=item.published, source_kind=_kind(f"{item.source} {item.link} {row['key']}"),
            section=row.get("topic"), primary=row.get("primary") or None, actors=names,
            cves={c["id"].upper(): bool(c.get("exploited")) for c in row.get("cves") or ()},
            sponsored=row.get("sponsored"), importance=row.get("importance"),
            week=item.published.strftime("%G-W%V")))
    tops: list[tuple[str, list[str], str]] = []
    weeks_path = folder / "weeks.jsonl"
    if weeks_path.is_file():
        for row in realnews.load_weeks(weeks_path):
            start = datetime.fromisoformat(str(row["week_start"]))
            stories = row.get("stories") or [{"key": k, "same": []} for k in row.get("top") or ()]
            for story in stories:
                members = {story["key"], *story.get("same", ())} & seen
                if story["key"] in seen:
                    tops.append((start.strftime("%G-W%V"), sorted(members), story["key"]))
    return gold, tops


# --------------------------------------------------------------------------- scoring

@dataclass
class Figures:
    n: int = 0
    section_right: int = 0
    section_n: int = 0
    exploited: PR = field(default_factory=PR)
    sponsored: PR = field(default_factory=PR)
    top_hit: int = 0
    top_n: int = 0
    primary_right: int = 0
    primary_n: int = 0
    free_right: int = 0
    free_n: int = 0
    actor_right: int = 0
    actor_found: int = 0
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def rows(self) -> list[tuple[str, str]]:
        def frac(a: int, b: int) -> str:
            return f"{a / b:.3f} ({a}/{b})" if b else "n/a"

        e, s = self.exploited, self.sponsored
        return [
            ("section right", frac(self.section_right, self.section_n)),
            ("exploited/CVE precision", frac(e.tp, e.tp + e.fp)),
            ("exploited/CVE recall", frac(e.tp, e.tp + e.fn)),
            ("sponsored precision", frac(s.tp, s.tp + s.fp)),
            ("sponsored recall", frac(s.tp, s.tp + s.fn)),
            ("top stories in top 1.5k", frac(self.top_hit, self.top_n)),
            ("primary actor right", frac(self.primary_right, self.primary_n)),
            ("no actor kept free", frac(self.free_right, self.free_n)),
            ("actor precision", frac(self.actor_right, self.actor_found)),
        ]


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


class _ActorNames:
    """Label names to actor ids, through the recognizer's knowledge base (a name it does not know keeps itself)."""

    def __init__(self, config: Config) -> None:
        from digest.intel.actors.recognize import ActorRecognizer
        from digest.intel.analysis import kb_dir

        self.rec = ActorRecognizer.default(kb_dir(config))
        self.cache: dict[str, set[str]] = {}

    def keys(self, name: str) -> set[str]:
        if name not in self.cache:
            from digest.eval.actors import core_name

            hit = self.rec.lookup(name)
            out = {_norm(name), core_name(name)}  # "Dark Storm Team" is "Dark Storm", as on AnnoCTR
            if hit is not None:
                out |= {hit.id, _norm(hit.name), *(_norm(a.name) for a in hit.aliases)}
            self.cache[name] = out
        return self.cache[name]

    def found_keys(self, actor: dict[str, Any]) -> set[str]:
        from digest.eval.actors import core_name

        names = [actor["name"], *actor.get("mentions", ())]
        return {actor["id"], *(_norm(n) for n in names), *(core_name(n) for n in names)} - {""}


def _week_batches(gold: Sequence[Gold]) -> dict[str, list[Gold]]:
    batches: dict[str, list[Gold]] = defaultdict(list)
    for g in gold:
        batches[g.week or (g.published.strftime("%G-W%V") if g.published else "undated")].append(g)
    return batches


def evaluate(config: Config, gold: Sequence[Gold], tops: Sequence[tuple[str, list[str], str]], *,
             baseline: bool, names: _ActorNames | None = None) -> Figures:
    """Run ``analyse_batch`` week by week over ``gold`` and score what it printed."""
    names = names or _ActorNames(config)
    fig = Figures()
    week_tops: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for w, keys, lead in tops:
        week_tops[w].append((lead, set(keys)))
    for week, golds in sorted(_week_batches(gold).items()):
        docs = [AnalyseDoc(id=g.key, title=g.title, text=g.text, source=g.source, published=g.published,
                           source_kind=g.source_kind) for g in golds]
        outs = analyse_batch(config, docs, baseline=baseline, summaries=False, explain=True)
        for g, o in zip(golds, outs):
            _score_one(fig, g, o, names)
        # importance: the week's hand-picked top stories among the top 1.5 k stories of the week's
        # batch (stories as `digest stories cluster` forms them; a story ranks by its best article)
        keys = {g.key for g in golds}
        wanted = [(lead, members) for lead, members in week_tops.get(week, ()) if lead in keys]
        if wanted:
            _rank_tops(config, fig, docs, golds, outs, wanted, baseline=baseline)
    return fig


def _rank_tops(config: Config, fig: Figures, docs: Sequence[AnalyseDoc], golds: Sequence[Gold],
               outs: Sequence[dict[str, Any]], wanted: Sequence[tuple[str, set[str]]], *, baseline: bool) -> None:
    from digest.intel.analyse import batch_stories

    stories = batch_stories(config, docs, [[a["id"] for a in o["actors"]] for o in outs],
                            [[c["id"] for c in o["cves"]] for o in outs])

    def key(members: list[int]) -> tuple[float, float]:
        newest = max((golds[i].published.timestamp() for i in members if golds[i].published), default=0.0)
        if baseline:  # outlets first, then recency
            return (-len({docs[i].source for i in members}), -newest)
        return (-max(outs[i]["importance"] for i in members), -newest)

    ranked = sorted(stories, key=key)
    limit = math.ceil(1.5 * len(wanted))
    fig.top_n += len(wanted)
    for lead, members in wanted:
        # the story's rank: its best-ranked cluster (the clusters may split one story)
        rank = next(n for n, st in enumerate(ranked, 1) if any(golds[i].key in members for i in st))
        if rank <= limit:
            fig.top_hit += 1
        else:
            fig.errors["top story ranked low"].append(f"{lead}: story ranked {rank} of {len(ranked)}")


def _score_one(fig: Figures, g: Gold, o: dict[str, Any], names: _ActorNames) -> None:
    fig.n += 1
    if g.section:
        fig.section_n += 1
        if o["topic"] == g.section:
            fig.section_right += 1
        else:
            fig.errors["section"].append(f"{g.key}: {o['topic']} for {g.section}: {g.title[:80]}")
    predicted = {c["id"]: c["exploited"] for c in o["cves"]}
    for cve, exploited in g.cves.items():
        p = predicted.get(cve, False)
        fig.exploited.add(p, exploited)
        if p != exploited:
            fig.errors["exploited"].append(f"{g.key}: {cve} {'flagged' if p else 'missed'}: {g.title[:80]}")
    if g.sponsored is not None:
        fig.sponsored.add(o["sponsored"], g.sponsored)
        if o["sponsored"] != g.sponsored:
            fig.errors["sponsored"].append(f"{g.key}: {'flagged' if o['sponsored'] else 'missed'}: {g.title[:80]}")
    primary = next((a for a in o["actors"] if a["primary"]), None)
    if g.primary:
        fig.primary_n += 1
        if primary is not None and names.found_keys(primary) & names.keys(g.primary):
            fig.primary_right += 1
        else:
            fig.errors["primary"].append(f"{g.key}: {primary['name'] if primary else None} for {g.primary}")
    else:
        fig.free_n += 1
        if primary is None:
            fig.free_right += 1
        else:
            fig.errors["actor-free"].append(f"{g.key}: {primary['name']}: {g.title[:80]}")
    gold_keys = set().union(*(names.keys(a) for a in g.actors)) if g.actors else set()
    for a in o["actors"]:
        fig.actor_found += 1
        if names.found_keys(a) & gold_keys:
            fig.actor_right += 1
        else:
            fig.errors["actor"].append(f"{g.key}: {a['name']}")


# --------------------------------------------------------------------------- training

@dataclass(frozen=True)
class _DevRow:
    gold: Gold
    x: Any  # section features
    imp: dict[str, float]  # importance features, outlets included
    info: Any = None  # the keyword rules' TopicInfo
    cve_exploited: bool = False
    has_actor: bool = False


def _dev_rows(config: Config, dev: Sequence[Gold]) -> list[_DevRow]:
    """The features judge() computes for each dev article (actors in one batch per week, as analyse does)."""
    from digest.intel.actors.recognize import ActorRecognizer
    from digest.intel.actors.salience import primary_actor
    from digest.intel.analyse import count_outlets as _outlets
    from digest.intel.analysis import kb_dir
    from digest.intel.editorial import CveFlag, coverage, importance_features
    from digest.intel.kev import load_kev
    from digest.intel.section_model import features
    from digest.intel.topics import classify, cve_flags

    rec = ActorRecognizer.default(kb_dir(config))
    kev = load_kev(kb_dir(config))
    rows: list[_DevRow] = []
    for _week, golds in sorted(_week_batches(dev).items()):
        hits = rec.detect_batch([(str(i), g.title, g.text) for i, g in enumerate(golds)])
        dates = [g.published for g in golds if g.published]
        now = max(dates) if dates else None
        prims, flags_all = [], []
        for i, g in enumerate(golds):
            prims.append(primary_actor(g.title, g.text, hits[str(i)]))
            flags_all.append(tuple(CveFlag(c, e) for c, e in cve_flags(g.title, g.text, kev)))
        docs = [AnalyseDoc(id=g.key, title=g.title, text=g.text, source=g.source, published=g.published,
                           source_kind=g.source_kind) for g in golds]
        outlets = _outlets(config, docs, [[h.id for h in hits[str(i)]] for i in range(len(golds))],
                           [[c.id for c in f] for f in flags_all])
        neighbours = coverage([g.title for g in golds], [g.text for g in golds], [g.published for g in golds],
                              sources=[g.source for g in golds])
        outlets = [max(n, len({golds[k].source for k in neighbours[i]} | {golds[i].source}))
                   for i, n in enumerate(outlets)]
        for i, g in enumerate(golds):
            info = classify(g.title, g.text)
            flags = flags_all[i]
            cve_exploited = any(c.exploited for c in flags)
            x = features(g.title, g.text, info=info, cve_exploited=cve_exploited,
                         has_actor=prims[i] is not None, source=g.source)
            imp = importance_features(g.title, g.text, primary=prims[i] is not None, cves=flags, kev=kev,
                                      says_exploited=info.exploited, source_kind=g.source_kind,
                                      published=g.published, now=now)
            imp["outlets"] = math.log2(max(outlets[i], 1))
            rows.append(_DevRow(g, x, imp, info, cve_exploited, prims[i] is not None))
    return rows


def train_models(config: Config, dev: Sequence[Gold], tops: Sequence[tuple[str, list[str], str]],
                 echo: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Fit the section model and the importance weights on the dev half and write them to data/.

    Section: :func:`digest.eval.section_fit.fit_section` (each design chosen by forward cross-validation
    on dev, the best fitted on all of dev and installed). Returns every design's model (fitted on all
    of dev), so the evaluation can measure each on test too.
    Importance: :func:`digest.eval.importance.fit_importance` (the label 1-3, +1 for an item of a
    week's top story, on the features, the section the installed model gives and the embedding).
    """
    from digest.eval.section_fit import fit_section

    rows = _dev_rows(config, dev)
    models = fit_section([r for r in rows if r.gold.section in SECTIONS], echo=echo)
    train_importance(config, dev, tops, rows=rows, echo=echo)
    return models


def importance_model(rows: Sequence[_DevRow], tops: Sequence[tuple[str, list[str], str]], *,
                     echo: Callable[[str], None] = print) -> dict[str, Any] | None:
    """The importance model fitted on ``rows`` (:func:`digest.eval.importance.fit_importance`): the label
    1-3, +1 for an item of a week's top story, on the features, the section the installed model decides
    (as judge() does) and the embedding block. None: too few labelled rows."""
    import numpy as np

    from digest.eval.importance import fit_importance
    from digest.intel import section_model
    from digest.intel.sponsored import sponsored

    top_keys = {k for _w, keys, _lead in tops for k in keys}
    imp_rows = [r for r in rows if r.gold.importance is not None or r.gold.key in top_keys]
    if len(imp_rows) < 40:
        echo(f"  importance: {len(imp_rows)} labelled dev articles, too few to fit; defaults kept")
        return None
    feats, embs = [], []
    for r in imp_rows:
        # the section judge() would give (the installed model, its ad and exploited rules)
        topic = section_model.section_of(r.x, title=r.gold.title, info=r.info, cve_exploited=r.cve_exploited,
                                         has_actor=r.has_actor, sponsored=sponsored(r.gold.title, r.gold.text))
        feats.append({**r.imp, **{f"topic_{t}": 1.0 if topic == t else 0.0 for t in SECTIONS}})
        embs.append(np.asarray(r.x[section_model.BASE:section_model.BASE + section_model.EMB_DIM]))
    labels = [float(r.gold.importance or 2) + (1.0 if r.gold.key in top_keys else 0.0) for r in imp_rows]
    return fit_importance(feats, embs, labels, [r.gold.week for r in imp_rows], echo=echo)


def train_importance(config: Config, dev: Sequence[Gold], tops: Sequence[tuple[str, list[str], str]], *,
                     rows: Sequence[_DevRow] | None = None, echo: Callable[[str], None] = print) -> None:
    """Fit the importance weights on the dev half (:func:`importance_model`) and write them to data/."""
    from digest.eval.importance import write_model
    from digest.intel.editorial import DATA, clear_caches

    model = importance_model(rows if rows is not None else _dev_rows(config, dev), tops, echo=echo)
    if model is None:
        return
    write_model(DATA / "importance_weights.json", model)
    clear_caches()
    echo("  importance weights: " + ", ".join(f"{k} {v:+.3f}" for k, v in model["weights"].items()))


def _model_cv() -> str:
    from digest.intel import section_model

    try:
        data = json.loads(section_model.MODEL_PATH.read_text(encoding="utf-8"))
        fwd = f"forward {float(data['dev_forward_cv_accuracy']):.3f}, " if "dev_forward_cv_accuracy" in data else ""
        return f"{fwd}date-blocked {float(data['dev_cv_accuracy']):.3f} ({data.get('design', '?')})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def run_eval(config: Config, *, directory: Path | None = None, train: bool = False, errors: bool = False,
             echo: Callable[[str], None] = print, train_importance_only: bool = False,
             dev_only: bool = False) -> dict[str, dict[str, Figures]]:
    """Print dev and test figures, ours beside the baseline; with ``train``, fit on dev first;
    ``dev_only``: the dev half only (for tuning; the test half is not run)."""
    splits = ("dev",) if dev_only else ("dev", "test")
    try:
        gold, tops = load_gold(directory)
    except FileNotFoundError as exc:
        echo(f"Editorial evaluation: {exc}; skipped")
        return {}
    names = _ActorNames(config)
    if train_importance_only and not train:
        train_importance(config, [g for g in gold if g.split == "dev"], tops, echo=echo)
    if train:
        from digest.intel import section_model

        models = train_models(config, [g for g in gold if g.split == "dev"], tops, echo=echo)
        installed = section_model.MODEL_PATH.read_text(encoding="utf-8")
        try:
            for name, model in models.items():
                section_model.MODEL_PATH.write_text(json.dumps(model), encoding="utf-8")
                section_model._model.cache_clear()
                acc = []
                for split in splits:
                    f = evaluate(config, [g for g in gold if g.split == split], [], baseline=False, names=names)
                    acc.append(f"{split} {f.section_right / max(f.section_n, 1):.3f}")
                echo(f"  section design {name!r} fitted on all of dev: " + ", ".join(acc))
        finally:
            section_model.MODEL_PATH.write_text(installed, encoding="utf-8")
            section_model._model.cache_clear()
    out: dict[str, dict[str, Figures]] = {}
    for split in splits:
        part = [g for g in gold if g.split == split]
        part_keys = {g.key for g in part}
        part_tops = [t for t in tops if t[2] in part_keys]
        ours = evaluate(config, part, part_tops, baseline=False, names=names)
        base = evaluate(config, part, part_tops, baseline=True, names=names)
        out[split] = {"ours": ours, "baseline": base}
        echo(f"Editorial judgments, {split} half ({len(part)} labelled articles; through `digest analyse`)")
        echo(f"  {'':26}{'digest':>18}{'baseline':>18}")
        for (label, a), (_l, b) in zip(ours.rows(), base.rows()):
            echo(f"  {label:26}{a:>18}{b:>18}")
        if split == "dev":
            cv = _model_cv()
            echo("  (dev: the section model and the importance weights were fitted on this half"
                 + (f"; the section model's cross-validated dev accuracy is {cv})" if cv else ")"))
        if errors and split == "dev":
            for kind, lines in ours.errors.items():
                echo(f"  dev errors: {kind} ({len(lines)})")
                for line in lines:
                    echo(f"    {line}")
    from digest.eval.exploited import run as run_exploited

    run_exploited(directory=directory, splits=splits, echo=echo)  # the long-prose exploited labels, the same halves
    return out
