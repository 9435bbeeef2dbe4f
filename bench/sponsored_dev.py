"""Sponsored rules on the DEV half of the real-news labels: precision, recall and the errors to read.

Run: ``.venv/bin/python bench/sponsored_dev.py [-v]`` (``-v`` lists the misses and false alarms).
The test half is never read here.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.eval.editorial import load_gold
from digest.intel.sponsored import sponsored, sponsored_reasons


def main() -> None:
    gold, _ = load_gold()
    dev = [g for g in gold if g.split == "dev" and g.sponsored is not None]
    tp = fp = fn = 0
    misses, alarms = [], []
    for g in dev:
        p = sponsored(g.title, g.text)
        if p and g.sponsored:
            tp += 1
        elif p:
            fp += 1
            alarms.append(f"  FP {g.key[:40]:40} {g.title[:100]} {sponsored_reasons(g.title, g.text)}")
        elif g.sponsored:
            fn += 1
            misses.append(f"  FN {g.key[:40]:40} {g.title[:100]} | {' '.join(g.text.split())[:260]}")
    print(f"dev sponsored: precision {tp / max(tp + fp, 1):.3f} recall {tp / max(tp + fn, 1):.3f} "
          f"(tp {tp}, fp {fp}, fn {fn}; {len(dev)} items)")
    if "-v" in sys.argv:
        print("\n".join(alarms + misses))


if __name__ == "__main__":
    main()
