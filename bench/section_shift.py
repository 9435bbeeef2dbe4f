"""Section-model designs under a time shift: DEV half only, three cross-validations side by side.

* ``random``: five folds of articles shuffled with a fixed seed (13);
* ``blocked``: the dev weeks in date order cut into five blocks, each scored by a model fitted on
  the other four (``bench/section_designs.py``'s folds; past and future weeks train);
* ``forward``: the same five blocks, block k (k = 2, 3, 4) scored by a model fitted on blocks
  0..k-1 only (train on earlier months, validate on later ones, as the test half is scored).

``--test NAME ...`` fits the named designs on all of dev and prints their test accuracy: each such
run is a look at the test half and must be reported. Every design goes through the installed decision (:func:`digest.intel.section_model.decide`: an
ad is filed under other or industry only; the clear exploited cases go to exploited). Without
``--test`` the test half is not read. Features are cached by ``bench/section_designs.py`` (``--rebuild`` there).
Run: ``.venv/bin/python bench/section_shift.py [design ...] [-v] [--errors] [--random|--blocked|--forward]``.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from section_designs import _load, confusion, date_blocks
from section_variants import CLASSES, Data, _full, _predict

from digest.intel import section_model as sm
from digest.intel.sponsored import sponsored

D = {name: 2 * sm.DIM + i for i, name in enumerate(sm.DENSE)}
Proba = Callable[[Data, Data], np.ndarray]


# --------------------------------------------------------------------------- cross-validations

def folds(dev: Data, scheme: str) -> list[tuple[list[int], list[int]]]:
    """(train indices, validation indices) per fold of ``scheme``."""
    n = len(dev.golds)
    if scheme == "random":
        order = list(range(n))
        random.Random(13).shuffle(order)
        fold_of = [0] * n
        for pos, i in enumerate(order):
            fold_of[i] = pos % 5
        return [([i for i in range(n) if fold_of[i] != f], [i for i in range(n) if fold_of[i] == f]) for f in range(5)]
    block = date_blocks(dev)
    if scheme == "blocked":
        return [([i for i in range(n) if block[i] != f], [i for i in range(n) if block[i] == f]) for f in range(5)]
    if scheme == "forward":
        return [([i for i in range(n) if block[i] < k], [i for i in range(n) if block[i] == k]) for k in (2, 3, 4)]
    raise KeyError(scheme)


RULES: dict[str, set[str]] = {}  # design name -> the extra rules of its decision


def decide_all(p: np.ndarray, te: Data, rules: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The installed decision on probabilities over CLASSES: ads under other/industry, then the exploited
    override; ``rules``: "legal" adds the legal-headline one (:func:`digest.intel.section_model.clear_policy`)."""
    out = []
    for i, g in enumerate(te.golds):
        x = te.x[i]
        info_cves = bool(x[D["has_cve"]])
        says, cve_exp, actor = bool(x[D["says_exploited"]]), bool(x[D["cve_exploited"]]), bool(x[D["has_actor"]])
        flaw_title = sm._CUE_RE["vuln"].search(g.title.lower()) is not None
        clear = (info_cves and (cve_exp or says) and (flaw_title or not actor)) or (says and flaw_title)
        ad = sponsored(g.title, g.text)
        out.append(sm.decide(np.log(p[i] + 1e-12), CLASSES, sponsored=ad, exploited=clear,
                             policy="legal" in rules and sm.clear_policy(g.title)))
    return out


def run_cv(design: Proba, dev: Data, scheme: str, rules: set[str] | frozenset[str] = frozenset(),
           ) -> tuple[float, list[int], list[str]]:
    idx_all: list[int] = []
    pred_all: list[str] = []
    for tr, va in folds(dev, scheme):
        p = design(dev.subset(tr), dev.subset(va))
        idx_all += va
        pred_all += decide_all(p, dev.subset(va), rules)
    ys = dev.ys
    right = sum(1 for i, p in zip(idx_all, pred_all) if ys[i] == p)
    return right / len(idx_all), idx_all, pred_all


# --------------------------------------------------------------------------- features

_TOK = re.compile(r"[A-Za-z][A-Za-z0-9'-]+|\d+")
_SENT_START = re.compile(r"(?:^|[.!?:;\"“”]\s+)([A-Z][\w'-]*)")


def _names(text: str) -> set[str]:
    """Words the text writes only capitalised, never at a sentence start: names (a rough, per-item test)."""
    starts = {m.group(1) for m in _SENT_START.finditer(text)}
    caps, lower = set(), set()
    for t in _TOK.findall(text):
        (caps if t[0].isupper() and t not in starts else lower if t[0].islower() else set()).add(t.lower())
    return caps - lower


def tokens(title: str, text: str, *, names: bool, digits: bool, bigrams: bool, body_words: int = 300) -> tuple[list[str], list[str]]:
    """Title and body tokens; ``names=False`` drops the item's names, ``digits=False`` tokens with a digit."""
    body = " ".join(text.split()[:body_words])
    drop = _names(f"{body}") if not names else set()

    def keep(ws: list[str]) -> list[str]:
        out = []
        for w in ws:
            lw = w.lower()
            if not digits and any(c.isdigit() for c in lw):
                out.append("<num>")
            elif lw in drop:
                out.append("<name>")
            else:
                out.append(lw)
        return out

    tw, bw = keep(_TOK.findall(title)), keep(_TOK.findall(body))
    tt = [f"t:{w}" for w in tw] + ([f"t:{a} {b}" for a, b in itertools.pairwise(tw)] if bigrams else [])
    bt = [f"b:{w}" for w in bw] + ([f"b:{a} {b}" for a, b in itertools.pairwise(bw)] if bigrams else [])
    return tt, bt


HDIM = 1 << 14


def word_matrix(tr: Data, te: Data, *, names: bool = True, digits: bool = True, bigrams: bool = True,
                min_df: int = 1, title_weight: float = 1.0, idf: bool = False,
                ) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Hashed title and body blocks (sub-linear counts, each block L2-normalised), tokens seen in fewer
    than ``min_df`` training articles dropped."""
    opts = {"names": names, "digits": digits, "bigrams": bigrams}
    toks_tr = [tokens(g.title, g.text, **opts) for g in tr.golds]
    toks_te = [tokens(g.title, g.text, **opts) for g in te.golds]
    df: dict[str, int] = {}
    for tt, bt in toks_tr:
        for t in set(tt) | set(bt):
            df[t] = df.get(t, 0) + 1
    n = len(toks_tr)

    def mat(rows: Sequence[tuple[list[str], list[str]]]) -> sparse.csr_matrix:
        r, c, v = [], [], []
        for i, blocks in enumerate(rows):
            for off, toks, wt in ((0, blocks[0], title_weight), (HDIM, blocks[1], 1.0)):
                counts: dict[int, float] = {}
                for t in toks:
                    if df.get(t, 0) < min_df:
                        continue
                    k = zlib.crc32(t.encode()) % HDIM
                    w = math.log((n + 1) / (df.get(t, 0) + 1)) + 1.0 if idf else 1.0
                    counts[k] = counts.get(k, 0.0) + w
                vec = {k: 1.0 + math.log(x) if x >= 1 else x for k, x in counts.items()}
                norm = math.sqrt(sum(x * x for x in vec.values())) or 1.0
                for k, x in vec.items():
                    r.append(i)
                    c.append(off + k)
                    v.append(wt * x / norm)
        return sparse.csr_matrix((v, (r, c)), shape=(len(rows), 2 * HDIM))

    return mat(toks_tr), mat(toks_te)


def dense_cols(x: np.ndarray, part: str) -> np.ndarray:
    base, dim = sm.BASE, sm.DIM
    return {"rules": x[:, 2 * dim:base], "emb": x[:, base:], "rules+emb": x[:, 2 * dim:],
            "installed": x}[part]


# --------------------------------------------------------------------------- designs

def _weights(tr: Data, class_power: float, story_power: float) -> np.ndarray | None:
    if not class_power and not story_power:
        return None
    ys = tr.ys
    sw = np.ones(len(ys))
    if class_power:
        counts = {c: ys.count(c) for c in set(ys)}
        sw *= np.array([(len(ys) / (len(counts) * counts[y])) ** class_power for y in ys])
    if story_power:
        from digest.intel.editorial import coverage

        near = coverage([g.title for g in tr.golds], [g.text for g in tr.golds], [g.published for g in tr.golds])
        sw *= np.array([1.0 / (1.0 + len(m)) ** story_power for m in near])
    return sw


def design(dense: str | None = "installed", *, words: dict[str, Any] | None = None, l2: float = 1e-3,
           tau: float = 0.0, class_power: float = 0.0, story_power: float = 0.0, epochs: int = 300,
           emb_scale: float = 1.0) -> Proba:
    """A softmax regression on the cached columns ``dense`` (none, rules, emb, rules+emb, installed)
    beside the re-tokenised words ``words`` (options of :func:`word_matrix`); ``tau`` divides out part of
    the training prior; ``emb_scale`` rescales the cached embedding block (installed scale 2)."""
    def run(tr: Data, te: Data) -> np.ndarray:
        parts_tr, parts_te = [], []
        if dense:
            a, b = dense_cols(tr.x, dense), dense_cols(te.x, dense)
            if emb_scale != 1.0 and dense in ("emb", "rules+emb", "installed"):
                a, b = a.copy(), b.copy()
                a[:, -sm.EMB_DIM:] *= emb_scale
                b[:, -sm.EMB_DIM:] *= emb_scale
            parts_tr.append(sparse.csr_matrix(a))
            parts_te.append(sparse.csr_matrix(b))
        if words is not None:
            a, b = word_matrix(tr, te, **words)
            parts_tr.append(a)
            parts_te.append(b)
        xa, xb = sparse.hstack(parts_tr).tocsr(), sparse.hstack(parts_te).tocsr()
        ys = tr.ys
        model = sm.train(xa, ys, l2=l2, epochs=epochs, sample_weight=_weights(tr, class_power, story_power))
        p = _predict(model, xb)
        if tau:
            prior = np.array([ys.count(c) / len(ys) for c in model["classes"]])
            p = p / prior ** tau
            p /= p.sum(axis=1, keepdims=True)
        return _full(p, model["classes"])
    return run


def mean_of(*members: Proba, weights: Sequence[float] | None = None) -> Proba:
    def run(tr: Data, te: Data) -> np.ndarray:
        ws = weights or [1.0] * len(members)
        return sum(w * m(tr, te) for w, m in zip(ws, members)) / sum(ws)
    return run


W0 = {"names": True, "digits": True, "bigrams": True}  # the installed words, re-tokenised (no outlet token)
ROBUST = {"names": False, "digits": False, "bigrams": True}

DESIGNS: dict[str, Proba] = {
    "installed (words+rules+emb, l2 1e-3)": design("installed"),
    "installed, l2 3e-3": design("installed", l2=3e-3),
    "installed, l2 1e-2": design("installed", l2=1e-2),
    "installed, l2 3e-4": design("installed", l2=3e-4),
    "installed, prior tau 0.5": design("installed", tau=0.5),
    "installed, prior tau 1": design("installed", tau=1.0),
    "installed, story weights^0.5": design("installed", story_power=0.5),
    "installed, story weights^1": design("installed", story_power=1.0),
    "installed, class weights^0.5": design("installed", class_power=0.5),
    "rules+emb": design("rules+emb"),
    "rules+emb, emb x2": design("rules+emb", emb_scale=2.0),
    "rules+emb + words (re-tokenised)": design("rules+emb", words=W0),
    "rules+emb + words, no names": design("rules+emb", words={**W0, "names": False}),
    "rules+emb + words, no digits": design("rules+emb", words={**W0, "digits": False}),
    "rules+emb + words, no names/digits": design("rules+emb", words=ROBUST),
    "rules+emb + words, no names/digits, unigrams": design("rules+emb", words={**ROBUST, "bigrams": False}),
    "rules+emb + words, min df 3": design("rules+emb", words={**W0, "min_df": 3}),
    "rules+emb + words, no names/digits, min df 3": design("rules+emb", words={**ROBUST, "min_df": 3}),
    "rules+emb + words, no names/digits, min df 3, title x2": design("rules+emb", words={**ROBUST, "min_df": 3,
                                                                                       "title_weight": 2.0}),
    "rules+emb + words, no names/digits, idf": design("rules+emb", words={**ROBUST, "idf": True}),
    "ensemble: installed + rules+emb": mean_of(design("installed"), design("rules+emb")),
    "ensemble: installed + rules+emb + robust words": mean_of(design("installed"), design("rules+emb"),
                                                              design(None, words={**ROBUST, "min_df": 3})),
}

DESIGNS.update({
    "installed, emb x2": design("installed", emb_scale=2.0),
    "installed, emb x0.5": design("installed", emb_scale=0.5),
    "installed, class weights^0.5, prior tau 0.5": design("installed", class_power=0.5, tau=0.5),
    "installed, class weights^1": design("installed", class_power=1.0),
    "installed, class weights^0.5, l2 3e-4": design("installed", class_power=0.5, l2=3e-4),
})
for _name in ("installed (words+rules+emb, l2 1e-3)", "installed, prior tau 0.5", "rules+emb",
              "installed, class weights^0.5", "installed, class weights^0.5, prior tau 0.5",
              "installed, class weights^0.5, l2 3e-4"):
    DESIGNS[f"{_name} + legal headline -> policy"] = DESIGNS[_name]
    RULES[f"{_name} + legal headline -> policy"] = {"legal"}


def main() -> None:
    args = sys.argv[1:]
    verbose = "-v" in args
    schemes = [s for s in ("random", "blocked", "forward") if f"--{s}" in args] or ["random", "blocked", "forward"]
    dev, test = _load(False)
    if "--test" in args:  # a look at the test half: fit each named design on all of dev, print its test accuracy
        only = [a for a in args if not a.startswith("-")]
        for name in [n for n in DESIGNS if any(o == n for o in only)]:
            pred = decide_all(DESIGNS[name](dev, test), test, RULES.get(name, set()))
            acc = sum(a == b for a, b in zip(test.ys, pred)) / len(pred)
            print(f"TEST LOOK: {name!r} fitted on {len(dev.golds)} dev articles: test {acc:.3f} ({len(pred)})")
        return
    del test  # the test half is not read below
    only = [a for a in args if not a.startswith("-")]
    names = [n for n in DESIGNS if not only or any(o in n for o in only)]
    print(f"{len(dev.golds)} dev articles; " + ", ".join(f"{s}: {sum(len(v) for _t, v in folds(dev, s))} scored"
                                                        for s in schemes))
    for name in names:
        t0 = time.perf_counter()
        cells = []
        for s in schemes:
            acc, idx, pred = run_cv(DESIGNS[name], dev, s, RULES.get(name, set()))
            cells.append(f"{s} {acc:.3f}")
            if verbose and s == "forward":
                gold = [dev.ys[i] for i in idx]
                print(confusion(gold, pred))
                if "--errors" in args:
                    for i, p in zip(idx, pred):
                        if p != dev.ys[i]:
                            g = dev.golds[i]
                            print(f"  {g.published:%Y-%m-%d} gold {g.section:10} pred {p:10} {g.title[:100]}")
        print(f"{name:58} " + "  ".join(cells) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
