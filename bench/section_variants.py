"""The section-model designs :mod:`section_designs` compares (fit on one set of articles, predict another)."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from digest.intel import section_model as sm

D = {name: 2 * sm.DIM + i for i, name in enumerate(sm.DENSE)}
GROUP = {"exploited": "incident", "ransomware": "incident", "breach": "incident", "malware": "incident",
         "policy": "policy", "industry": "rest", "other": "rest"}


@dataclass
class Data:
    golds: list[Any]
    x: np.ndarray

    def subset(self, idx: Sequence[int]) -> Data:
        return Data([self.golds[i] for i in idx], self.x[list(idx)])

    @property
    def ys(self) -> list[str]:
        return [g.section or "other" for g in self.golds]


def _cols(x: np.ndarray, part: str) -> np.ndarray:
    base, dim = sm.BASE, sm.DIM
    if part == "all+emb":
        return x
    if part == "all":
        return x[:, :base]
    if part == "rules+emb":
        return np.hstack([x[:, 2 * dim:base], x[:, base:]])
    if part == "emb":
        return x[:, base:]
    if part == "rules":
        return x[:, 2 * dim:base]
    if part == "title+rules+emb":
        return np.hstack([x[:, :dim], x[:, 2 * dim:]])
    raise KeyError(part)


def _predict(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    w, b = np.asarray(model["weights"]), np.asarray(model["bias"])
    logits = x @ w + b
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _class_weights(ys: Sequence[str], power: float) -> np.ndarray:
    counts = {c: ys.count(c) for c in set(ys)}
    return np.array([(len(ys) / (len(counts) * counts[y])) ** power for y in ys])


def _story_weights(golds: Sequence[Any], power: float) -> np.ndarray:
    """1 / (1 + the other articles of the same event)^power: a story told by twenty outlets counts less than twenty."""
    from digest.intel.editorial import coverage

    near = coverage([g.title for g in golds], [g.text for g in golds], [g.published for g in golds])
    return np.array([1.0 / (1.0 + len(n)) ** power for n in near])


def linear(part: str, l2: float, *, power: float = 0.0, override: bool | str = False, epochs: int = 300,
           tau: float = 0.0, dedup: float = 0.0) -> Callable[[Data, Data], list[str]]:
    def run(tr: Data, te: Data) -> list[str]:
        ys = tr.ys
        sw = _class_weights(ys, power) if power else np.ones(len(ys))
        if dedup:
            sw = sw * _story_weights(tr.golds, dedup)
        model = sm.train(_cols(tr.x, part), ys, l2=l2, epochs=epochs, sample_weight=sw)
        p = _predict(model, _cols(te.x, part))
        if tau:  # logit adjustment: divide out part of the training prior
            prior = np.array([ys.count(c) / len(ys) for c in model["classes"]])
            p = p / prior ** tau
        out = [model["classes"][int(k)] for k in p.argmax(axis=1)]
        return [_override(te.x[i], o, override) for i, o in enumerate(out)] if override else out
    return run


def ad_restricted(part: str, l2: float, *, override: bool | str = False, tau: float = 0.0) -> Callable[[Data, Data], list[str]]:
    """A hierarchical decision: an item the sponsored rules flag is filed under "other" or "industry" only
    (the labels' convention for ads), the others under any section."""
    from digest.intel.sponsored import sponsored

    def run(tr: Data, te: Data) -> list[str]:
        ys = tr.ys
        model = sm.train(_cols(tr.x, part), ys, l2=l2)
        p = _predict(model, _cols(te.x, part))
        if tau:
            prior = np.array([ys.count(c) / len(ys) for c in model["classes"]])
            p = p / prior ** tau
        allowed = np.array([c in ("other", "industry") for c in model["classes"]])
        out = []
        for i, g in enumerate(te.golds):
            row = np.where(allowed, p[i], -1.0) if sponsored(g.title, g.text) else p[i]
            o = model["classes"][int(row.argmax())]
            out.append(_override(te.x[i], o, override) if override else o)
        return out
    return run


def _override(x: np.ndarray, pred: str, which: bool | str = True) -> str:
    """The clear cases: a CVE the text says is exploited; a named actor in a headline that says ransomware."""
    if which in (True, "exploited", "exploited-both") and x[D["has_cve"]] and (x[D["cve_exploited"]] or x[D["says_exploited"]]):
        return "exploited"
    if which in (True, "exploited-any", "exploited-both") and x[D["says_exploited"]] and x[D["title_vuln"]]:
        return "exploited"
    if which in (True, "ransomware") and x[D["has_actor"]] and x[D["title_ransom"]]:
        return "ransomware"
    return pred


_WORD = re.compile(r"[a-z][a-z0-9'-]+|\d+")
TDIM = 1 << 14


def _tokens(title: str, text: str) -> tuple[list[str], list[str]]:
    tw = _WORD.findall(title.lower())
    bw = _WORD.findall(" ".join(text.split()[:300]).lower())
    return ([f"t:{w}" for w in tw] + [f"t:{a} {b}" for a, b in itertools.pairwise(tw)],
            [f"b:{w}" for w in bw] + [f"b:{a} {b}" for a, b in itertools.pairwise(bw)])


def _hashed(golds: Sequence[Any]) -> list[tuple[dict[int, float], dict[int, float]]]:
    out = []
    for g in golds:
        blocks = []
        for toks in _tokens(g.title, g.text):
            c: dict[int, float] = {}
            for t in toks:
                k = zlib.crc32(t.encode()) % TDIM
                c[k] = c.get(k, 0.0) + 1.0
            blocks.append(c)
        out.append((blocks[0], blocks[1]))
    return out


def _tfidf(tr: Data, te: Data, title_weight: float) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    htr, hte = _hashed(tr.golds), _hashed(te.golds)
    df = np.zeros(2 * TDIM)
    for t, b in htr:
        for k in t:
            df[k] += 1
        for k in b:
            df[TDIM + k] += 1
    idf = np.log((len(htr) + 1) / (df + 1)) + 1.0

    def mat(rows: list[tuple[dict[int, float], dict[int, float]]]) -> sparse.csr_matrix:
        r, c, v = [], [], []
        for i, (t, b) in enumerate(rows):
            for off, block, wt in ((0, t, title_weight), (TDIM, b, 1.0)):
                vec = {k: (1 + math.log(n)) * idf[off + k] for k, n in block.items()}
                norm = math.sqrt(sum(x * x for x in vec.values())) or 1.0
                for k, x in vec.items():
                    r.append(i)
                    c.append(off + k)
                    v.append(wt * x / norm)
        return sparse.csr_matrix((v, (r, c)), shape=(len(rows), 2 * TDIM))

    return mat(htr), mat(hte)


def tfidf(title_weight: float, l2: float, *, extra: str | None = None,
          power: float = 0.0, override: bool = False) -> Callable[[Data, Data], list[str]]:
    def run(tr: Data, te: Data) -> list[str]:
        a, b = _tfidf(tr, te, title_weight)
        if extra:
            a = sparse.hstack([a, sparse.csr_matrix(_cols(tr.x, extra))]).tocsr()
            b = sparse.hstack([b, sparse.csr_matrix(_cols(te.x, extra))]).tocsr()
        ys = tr.ys
        model = sm.train(a, ys, l2=l2, sample_weight=_class_weights(ys, power) if power else None)
        p = _predict(model, b)
        out = [model["classes"][int(k)] for k in p.argmax(axis=1)]
        return [_override(te.x[i], o) for i, o in enumerate(out)] if override else out
    return run


def hierarchical(part: str, l2: float) -> Callable[[Data, Data], list[str]]:
    """First the group (an incident / policy / the rest), then the section within the group."""
    def run(tr: Data, te: Data) -> list[str]:
        ys = tr.ys
        xa, xb = _cols(tr.x, part), _cols(te.x, part)
        top = sm.train(xa, [GROUP[y] for y in ys], l2=l2)
        pg = _predict(top, xb)
        groups = [top["classes"][int(k)] for k in pg.argmax(axis=1)]
        out = list(groups)
        for grp in set(GROUP.values()):
            members = sorted({y for y in ys if GROUP[y] == grp})
            idx_tr = [i for i, y in enumerate(ys) if GROUP[y] == grp]
            idx_te = [i for i, g in enumerate(groups) if g == grp]
            if not idx_te:
                continue
            if len(members) == 1:
                for i in idx_te:
                    out[i] = members[0]
                continue
            sub = sm.train(xa[idx_tr], [ys[i] for i in idx_tr], l2=l2)
            ps = _predict(sub, xb[idx_te])
            for i, k in zip(idx_te, ps.argmax(axis=1)):
                out[i] = sub["classes"][int(k)]
        return out
    return run


def ensemble(*members: Callable[[Data, Data], np.ndarray]) -> Callable[[Data, Data], list[str]]:
    def run(tr: Data, te: Data) -> list[str]:
        p = sum(m(tr, te) for m in members)
        return [CLASSES[int(k)] for k in p.argmax(axis=1)]
    return run


CLASSES = tuple(sm.SECTIONS)


def _full(p: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    out = np.zeros((p.shape[0], len(CLASSES)))
    for j, c in enumerate(classes):
        out[:, CLASSES.index(c)] = p[:, j]
    return out


def linear_p(part: str, l2: float) -> Callable[[Data, Data], np.ndarray]:
    def run(tr: Data, te: Data) -> np.ndarray:
        model = sm.train(_cols(tr.x, part), tr.ys, l2=l2)
        return _full(_predict(model, _cols(te.x, part)), model["classes"])
    return run


def tfidf_p(title_weight: float, l2: float, extra: str | None) -> Callable[[Data, Data], np.ndarray]:
    def run(tr: Data, te: Data) -> np.ndarray:
        a, b = _tfidf(tr, te, title_weight)
        if extra:
            a = sparse.hstack([a, sparse.csr_matrix(_cols(tr.x, extra))]).tocsr()
            b = sparse.hstack([b, sparse.csr_matrix(_cols(te.x, extra))]).tocsr()
        model = sm.train(a, tr.ys, l2=l2)
        return _full(_predict(model, b), model["classes"])
    return run


DESIGNS: dict[str, Callable[[Data, Data], list[str]]] = {
    "installed: words+rules+emb, l2 1e-3": linear("all+emb", 1e-3),
    "words+rules+emb, l2 1e-2": linear("all+emb", 1e-2),
    "words+rules+emb, l2 3e-2": linear("all+emb", 3e-2),
    "words+rules+emb, l2 1e-1": linear("all+emb", 1e-1),
    "rules only, l2 1e-3": linear("rules", 1e-3),
    "embedding only, l2 1e-3": linear("emb", 1e-3),
    "embedding only, l2 1e-2": linear("emb", 1e-2),
    "rules+emb, l2 1e-3": linear("rules+emb", 1e-3),
    "rules+emb, l2 1e-2": linear("rules+emb", 1e-2),
    "title words+rules+emb, l2 1e-3": linear("title+rules+emb", 1e-3),
    "tfidf title x2 + text, l2 1e-3": tfidf(2.0, 1e-3),
    "tfidf title x2 + text, l2 1e-2": tfidf(2.0, 1e-2),
    "tfidf title x3 + text + rules+emb, l2 1e-3": tfidf(3.0, 1e-3, extra="rules+emb"),
    "tfidf title x2 + text + rules+emb, l2 1e-3": tfidf(2.0, 1e-3, extra="rules+emb"),
    "words+rules+emb, class weights^0.5": linear("all+emb", 1e-3, power=0.5),
    "words+rules+emb, class weights^1": linear("all+emb", 1e-3, power=1.0),
    "words+rules+emb + rule override": linear("all+emb", 1e-3, override=True),
    "hierarchical words+rules+emb, l2 1e-3": hierarchical("all+emb", 1e-3),
    "words+rules+emb + override exploited (CVE)": linear("all+emb", 1e-3, override="exploited"),
    "words+rules+emb + override exploited (flaw headline)": linear("all+emb", 1e-3, override="exploited-any"),
    "ads -> other/industry, words+rules+emb": ad_restricted("all+emb", 1e-3),
    "ads -> other/industry + override exploited (flaw headline)": ad_restricted("all+emb", 1e-3, override="exploited-any"),
    "ads -> other/industry + override exploited + prior tau 0.5": ad_restricted("all+emb", 1e-3, override="exploited-any",
                                                                                tau=0.5),
    "ads -> other/industry + both exploited overrides": ad_restricted("all+emb", 1e-3, override="exploited-both"),
    "ads -> other/industry + override exploited, l2 3e-4": ad_restricted("all+emb", 3e-4, override="exploited-any"),
    "ads -> other/industry + override exploited, rules+emb": ad_restricted("rules+emb", 1e-3, override="exploited-any"),
    "words+rules+emb + override ransomware": linear("all+emb", 1e-3, override="ransomware"),
    "words+rules+emb, l2 3e-4": linear("all+emb", 3e-4),
    "words+rules+emb, l2 1e-4, 600 epochs": linear("all+emb", 1e-4, epochs=600),
    "words+rules+emb, l2 1e-3, 600 epochs": linear("all+emb", 1e-3, epochs=600),
    "embedding only, l2 1e-4, 600 epochs": linear("emb", 1e-4, epochs=600),
    "words+rules+emb, story weights^0.5": linear("all+emb", 1e-3, dedup=0.5),
    "words+rules+emb, story weights^1": linear("all+emb", 1e-3, dedup=1.0),
    "words+rules+emb, story weights^0.5 + class weights^0.5": linear("all+emb", 1e-3, dedup=0.5, power=0.5),
    "words+rules+emb, prior tau 0.5": linear("all+emb", 1e-3, tau=0.5),
    "words+rules+emb, prior tau 1": linear("all+emb", 1e-3, tau=1.0),
    "ensemble: words+rules+emb + tfidf x2+rules+emb": ensemble(linear_p("all+emb", 1e-3),
                                                               tfidf_p(2.0, 1e-3, "rules+emb")),
    "ensemble: + rules+emb": ensemble(linear_p("all+emb", 1e-3), tfidf_p(2.0, 1e-3, "rules+emb"),
                                      linear_p("rules+emb", 1e-3)),
}


def fit_predict(name: str, tr: Data, te: Data) -> list[str]:
    return DESIGNS[name](tr, te)
