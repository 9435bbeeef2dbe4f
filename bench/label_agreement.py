"""Agreement of two annotators on the real-news editorial labels (prints, never asserts).

Compares ``tests/data/realnews/editorial_b.jsonl`` (the second annotator, 200 items, labelled blind)
with ``tests/data/realnews/editorial.jsonl`` on the keys both label: topic, sponsored, primary actor,
actor sets, importance and CVE exploited, with raw agreement and Cohen's kappa where the label is
categorical. Primary actors are compared twice: by name (case and punctuation ignored), a lower
bound, and with aliases resolved through the project's knowledge base (two names agree when they
name a common actor of ``digest.intel.actors.kb``). Titles of disagreeing items are read from ``../shared``
at run time when it is present (nothing of the corpus is stored here).

Run: ``PYTHONPATH=. .venv/bin/python bench/label_agreement.py [--a PATH] [--b PATH] [--no-list]``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "realnews"


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters over the same items: (p_o - p_e) / (1 - p_e); 1.0 when p_e is 1."""
    if len(a) != len(b) or not a:
        raise ValueError("kappa needs two equally long, non-empty label lists")
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in ca.keys() | cb.keys()) / (n * n)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


def weighted_kappa(a: Sequence[int], b: Sequence[int], levels: Sequence[int]) -> float:
    """Linearly weighted kappa for ordinal labels: disagreement weight |i - j| / (k - 1)."""
    if len(a) != len(b) or not a:
        raise ValueError("kappa needs two equally long, non-empty label lists")
    n, k = len(a), len(levels)
    idx = {v: i for i, v in enumerate(levels)}
    ca, cb = Counter(a), Counter(b)

    def w(x: int, y: int) -> float:
        return abs(idx[x] - idx[y]) / (k - 1)

    observed = sum(w(x, y) for x, y in zip(a, b, strict=True)) / n
    expected = sum(ca[x] * cb[y] * w(x, y) for x in levels for y in levels) / (n * n)
    return 1.0 if expected == 0 else 1 - observed / expected


def _jsonl(path: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {r["key"]: r for r in rows}


def _norm(name: str | None) -> str:
    from digest.intel.actors.kb import norm

    return norm(name) if name else ""


class AliasResolver:
    """Whether two actor names are the same actor: same normalised name, or a common KB actor."""

    def __init__(self) -> None:
        try:
            from digest.intel.actors.kb import KnowledgeBase

            self._kb: Any = KnowledgeBase.build()
        except Exception as exc:  # noqa: BLE001 - the figure falls back to names and says so
            print(f"(knowledge base unavailable, aliases not resolved: {exc})")
            self._kb = None

    def ids(self, name: str) -> set[str]:
        """KB actor ids of a name; "BlackCat (ALPHV)" is looked up whole and as each of its parts."""
        if not self._kb:
            return set()
        parts = [name, *(x.strip() for x in re.split(r"[()/]", name) if x.strip())]
        return {a.id for part in parts for a in self._kb.candidates(part)}

    def same(self, x: str | None, y: str | None) -> bool:
        if _norm(x) == _norm(y):
            return True
        if not x or not y:
            return False
        return bool(self.ids(x) & self.ids(y))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def compare(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]],
            resolver: AliasResolver | None = None) -> dict[str, Any]:
    """Every figure and every disagreement (by category) on the keys both files label."""
    keys = sorted(a.keys() & b.keys())
    if not keys:
        raise ValueError("the two label files share no key")
    res = resolver or AliasResolver()
    fig: dict[str, Any] = {"n": len(keys)}
    dis: dict[str, list[tuple[str, Any, Any]]] = {}

    def cat(name: str, get: Callable[[dict[str, Any]], Any]) -> tuple[list[Any], list[Any]]:
        xa, xb = [get(a[k]) for k in keys], [get(b[k]) for k in keys]
        dis[name] = [(k, x, y) for k, x, y in zip(keys, xa, xb, strict=True) if x != y]
        return xa, xb

    ta, tb = cat("topic", lambda r: r["topic"])
    fig["topic"] = (1 - len(dis["topic"]) / len(keys), cohen_kappa(ta, tb))
    fig["topic_confusion"] = Counter((x, y) for _, x, y in dis["topic"])
    sa, sb = cat("sponsored", lambda r: bool(r["sponsored"]))
    fig["sponsored"] = (1 - len(dis["sponsored"]) / len(keys), cohen_kappa(sa, sb))
    ia, ib = cat("importance", lambda r: r["importance"])
    fig["importance"] = (1 - len(dis["importance"]) / len(keys),
                         sum(abs(x - y) <= 1 for x, y in zip(ia, ib, strict=True)) / len(keys),
                         cohen_kappa(ia, ib), weighted_kappa(ia, ib, (1, 2, 3)))
    fig["importance_confusion"] = Counter(zip(ia, ib, strict=True))
    # importance on the items both call news (an ad is 1 by rule, which inflates agreement)
    news = [i for i, k in enumerate(keys) if not a[k]["sponsored"] and not b[k]["sponsored"]]
    fig["importance_news"] = (len(news), sum(ia[i] == ib[i] for i in news) / max(len(news), 1),
                              weighted_kappa([ia[i] for i in news], [ib[i] for i in news], (1, 2, 3)))

    # primary actor: by name (lower bound) and with aliases
    pa, pb = [a[k]["primary"] for k in keys], [b[k]["primary"] for k in keys]
    by_name = [_norm(x) == _norm(y) for x, y in zip(pa, pb, strict=True)]
    by_alias = [res.same(x, y) for x, y in zip(pa, pb, strict=True)]
    either = [i for i, k in enumerate(keys) if pa[i] or pb[i]]
    both = [i for i in either if pa[i] and pb[i]]
    fig["primary"] = {
        "all_by_name": sum(by_name) / len(keys), "all_by_alias": sum(by_alias) / len(keys),
        "either": len(either), "either_by_alias": sum(by_alias[i] for i in either) / max(len(either), 1),
        "both": len(both), "both_by_alias": sum(by_alias[i] for i in both) / max(len(both), 1),
        "has_primary_kappa": cohen_kappa([bool(x) for x in pa], [bool(y) for y in pb]),
    }
    dis["primary"] = [(keys[i], pa[i], pb[i]) for i in range(len(keys)) if not by_alias[i]]
    dis["primary (alias only)"] = [(keys[i], pa[i], pb[i]) for i in range(len(keys))
                                   if by_alias[i] and not by_name[i]]

    # actor sets (actors named as the story's), by alias-aware match
    def set_match(xs: list[str], ys: list[str]) -> tuple[int, int, int]:
        matched_y: set[int] = set()
        tp = 0
        for x in xs:
            for j, y in enumerate(ys):
                if j not in matched_y and res.same(x, y):
                    matched_y.add(j)
                    tp += 1
                    break
        return tp, len(xs) - tp, len(ys) - tp

    tp = fa = fb = 0
    dis["actors"] = []
    for k in keys:
        t, x, y = set_match(a[k]["actors"], b[k]["actors"])
        tp, fa, fb = tp + t, fa + x, fb + y
        if x or y:
            dis["actors"].append((k, a[k]["actors"], b[k]["actors"]))
    fig["actors"] = (tp, fa, fb, 2 * tp / max(2 * tp + fa + fb, 1))
    dis["incidental"] = [(k, a[k].get("incidental", []), b[k].get("incidental", [])) for k in keys
                         if {_norm(x) for x in a[k].get("incidental", [])}
                         != {_norm(x) for x in b[k].get("incidental", [])}]

    # CVE exploited, per (item, CVE) both list
    ea, eb, dis["cve exploited"], missing = [], [], [], 0
    for k in keys:
        ca = {c["id"].upper(): c["exploited"] for c in a[k]["cves"]}
        cb = {c["id"].upper(): c["exploited"] for c in b[k]["cves"]}
        missing += len(ca.keys() ^ cb.keys())
        for cid in sorted(ca.keys() & cb.keys()):
            ea.append(ca[cid])
            eb.append(cb[cid])
            if ca[cid] != cb[cid]:
                dis["cve exploited"].append((f"{k} {cid}", ca[cid], cb[cid]))
    fig["cve"] = (len(ea), sum(x == y for x, y in zip(ea, eb, strict=True)) / max(len(ea), 1),
                  cohen_kappa(ea, eb) if ea else float("nan"), missing)
    va, vb = cat("vuln", lambda r: bool(r.get("vuln")))
    fig["vuln"] = (1 - len(dis["vuln"]) / len(keys), cohen_kappa(va, vb))
    fig["split_mismatch"] = sum(a[k]["split"] != b[k]["split"] for k in keys)
    return {"figures": fig, "disagreements": dis, "keys": keys}


def report(result: dict[str, Any], titles: dict[str, str], listing: bool = True) -> None:
    f = result["figures"]
    n = f["n"]
    p = f["primary"]
    print(f"Items labelled by both annotators: {n} (split mismatches: {f['split_mismatch']})\n")
    print("| label | agreement | Cohen's kappa | note |")
    print("| --- | --- | --- | --- |")
    print(f"| topic (7 sections) | {_pct(f['topic'][0])} | {f['topic'][1]:.2f} | |")
    print(f"| sponsored | {_pct(f['sponsored'][0])} | {f['sponsored'][1]:.2f} | |")
    print(f"| importance, exact | {_pct(f['importance'][0])} | {f['importance'][2]:.2f} "
          f"(linear weighted {f['importance'][3]:.2f}) | within one: {_pct(f['importance'][1])} |")
    m, agr, wk = f["importance_news"]
    print(f"| importance, news only | {_pct(agr)} | weighted {wk:.2f} | {m} items neither calls an ad |")
    print(f"| primary actor, by name | {_pct(p['all_by_name'])} | | all items, none = none agrees |")
    print(f"| primary actor, aliases resolved | {_pct(p['all_by_alias'])} | | "
          f"{_pct(p['either_by_alias'])} of the {p['either']} items where either names one; "
          f"{_pct(p['both_by_alias'])} of the {p['both']} where both do |")
    print(f"| has a primary actor (yes/no) | | {p['has_primary_kappa']:.2f} | |")
    tp, fa, fb, f1 = f["actors"]
    print(f"| actors (sets, aliases resolved) | F1 {f1:.2f} | | {tp} shared, {fa} only A, {fb} only B |")
    cn, cagr, ck, cmiss = f["cve"]
    ckt = "n/a" if math.isnan(ck) else f"{ck:.2f}"
    print(f"| CVE exploited | {_pct(cagr)} of {cn} | {ckt} | {cmiss} CVE listed by one file only |")
    print(f"| vuln marker | {_pct(f['vuln'][0])} | {f['vuln'][1]:.2f} | |")
    print("\nTopic confusions (A -> B, count):")
    for (x, y), c in f["topic_confusion"].most_common():
        print(f"  {x:>10} -> {y:<10} {c}")
    print("\nImportance A x B:")
    for x in (1, 2, 3):
        print("  " + "  ".join(f"{f['importance_confusion'][(x, y)]:4d}" for y in (1, 2, 3)) + f"   (A={x})")
    if not listing:
        return
    for name, rows in result["disagreements"].items():
        if not rows:
            continue
        print(f"\n## {name}: {len(rows)} (A | B | title)")
        for k, x, y in rows:
            title = titles.get(k.split(" ")[0], "")
            print(f"  {k[:60]:60} | {x!s:28} | {y!s:28} | {title[:80]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, default=DATA / "editorial.jsonl", help="first annotator")
    ap.add_argument("--b", type=Path, default=DATA / "editorial_b.jsonl", help="second annotator")
    ap.add_argument("--no-list", action="store_true", help="figures only, no disagreement listing")
    args = ap.parse_args()
    result = compare(_jsonl(args.a), _jsonl(args.b))
    try:
        from digest.eval.realnews import load_items

        titles = {k: it.title for k, it in load_items().items()}
    except Exception:  # noqa: BLE001 - titles are a convenience
        titles = {}
    report(result, titles, listing=not args.no_list)


if __name__ == "__main__":
    main()
