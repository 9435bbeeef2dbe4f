#!/usr/bin/env python3
"""Importance by leave-one-week-out on the dev weeks (prints figures; not a test).

For each dev week of ``tests/data/realnews/weeks.jsonl`` with hand-picked top stories, the
importance model is fitted on the dev articles of every *other* week (``fit_importance``, as
``digest eval-editorial --train-importance`` does), and the held-out week is judged as an issue
would be: **every** corpus item of that week (newsdatahub, and the July feed snapshots) (labelled or not, as a week's feeds would bring
them) goes through ``analyse_batch`` (the contract) in one batch, clustered into stories the way
``digest stories cluster`` does, and stories are ranked by their best article's importance. Printed:
for each top story its rank, and over all weeks how many rank within the top 5, the top 8 and
the top 1.5 k (k = the week's top stories), beside the baseline (outlets, then recency).

The weeks are dev: tune on these. The test weeks are measured by ``bench/issue.py week``.

    python bench/importance_weeks.py [--design NAME] [-v]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.config import load_config
from digest.eval import editorial as ev
from digest.eval import realnews
from digest.intel import editorial
from digest.intel.analyse import AnalyseDoc, analyse_batch, batch_stories


def install(model: dict[str, Any]) -> None:
    """Make the in-process judge() use ``model`` instead of the shipped weights."""
    editorial._importance_data = lambda: model  # type: ignore[assignment]
    editorial.importance_weights.cache_clear()
    editorial._embedding_reader.cache_clear()


def week_docs(corpus: dict[str, Any], start: datetime) -> list[AnalyseDoc]:
    end = start + timedelta(days=7)
    items = sorted((it for it in corpus.values() if it.published and start <= it.published < end), key=lambda it: (it.published, it.key))
    return [AnalyseDoc(id=it.key, title=it.title, text=it.text, source=it.source, published=it.published,
                       source_kind=ev._kind(f"{it.source} {it.link} {it.key}")) for it in items]


def ranks(config: Any, docs: list[AnalyseDoc], tops: list[tuple[str, set[str]]], *, baseline: bool,
          show: bool = False) -> list[int]:
    outs = analyse_batch(config, docs, baseline=baseline, summaries=False)
    stories = batch_stories(config, docs, [[a["id"] for a in o["actors"]] for o in outs],
                            [[c["id"] for c in o["cves"]] for o in outs])

    def key(members: list[int]) -> tuple[float, float]:
        newest = max((docs[i].published.timestamp() for i in members if docs[i].published), default=0.0)
        if baseline:
            return (-len({docs[i].source for i in members}), -newest)
        return (-max(outs[i]["importance"] for i in members), -newest)

    ranked = sorted(stories, key=key)
    out = []
    for _lead, members in tops:
        out.append(next((n for n, st in enumerate(ranked, 1) if any(docs[i].id in members for i in st)), 10**6))
    if show:  # the stories above the week's lowest-ranked top story
        wanted = {n for n in out}
        for n, st in enumerate(ranked[:max(out)], 1):
            best = max(st, key=lambda i: outs[i]["importance"])
            mark = "TOP" if n in wanted else "   "
            print(f"    {mark} {n:3} {outs[best]['importance']:6.2f} {len(st)}x {outs[best]['topic']:10} "
                  f"{docs[best].title[:90]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-v", action="store_true", help="print each top story's rank")
    ap.add_argument("--show", action="store_true", help="print the stories above each week's lowest top story")
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline (quicker)")
    ap.add_argument("--weeks", type=int, default=0, help="only the first N weeks (quick look)")
    a = ap.parse_args()
    config = load_config(None)
    gold, tops = ev.load_gold()
    dev = [g for g in gold if g.split == "dev"]
    dev_keys = {g.key for g in dev}
    corpus = realnews.load_items()
    rows = ev._dev_rows(config, dev)
    by_week: dict[str, list[tuple[str, set[str]]]] = defaultdict(list)
    for w, keys, lead in tops:
        if lead in dev_keys:
            by_week[w].append((lead, set(keys)))
    weeks = sorted(by_week)[: a.weeks or None]
    shipped = editorial._importance_data()
    tally: dict[str, list[int]] = {"digest": [], "baseline": []}
    for w in weeks:
        start = datetime.strptime(w + "-1", "%G-W%V-%u").replace(tzinfo=UTC)
        train_rows = [r for r in rows if r.gold.week != w]
        model = ev.importance_model(train_rows, tops, echo=lambda _s: None)
        install(model)
        docs = week_docs(corpus, start)
        for name, base in (("digest", False), ("baseline", True))[: 1 if a.no_baseline else 2]:
            rk = ranks(config, docs, by_week[w], baseline=base, show=a.show and not base)
            tally[name] += rk
            if a.v:
                print(f"{w} {name:8} ranks {rk} of {len(docs)} items")
    install(shipped)
    n = len(tally["digest"])
    limits = [math.ceil(1.5 * len(by_week[w])) for w in weeks for _ in by_week[w]]
    print(f"dev weeks {len(weeks)}, top stories {n} (leave-one-week-out; every item of the week)")
    for name, rk in tally.items():
        if not rk:
            continue
        print(f"  {name:8} top 5: {sum(r <= 5 for r in rk):3}/{n}  top 8: {sum(r <= 8 for r in rk):3}/{n}  "
              f"top 1.5k: {sum(r <= k for r, k in zip(rk, limits)):3}/{n}  median rank {sorted(rk)[n // 2]}")


if __name__ == "__main__":
    main()
