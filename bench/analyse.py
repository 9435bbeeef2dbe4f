"""Benchmark: CPU per article of the analysis, before and after the editorial judgments.

"before" is what each article cost until now: actors (one batch), the keyword topic with the
story-wide exploited flag, and the summary (``digest analyse``'s ``baseline`` path, which judges
with the keyword rules). "after" is ``digest analyse`` as it ships: the same plus the exploited
flag per CVE, the section model, sponsored rules, importance features and the batch's story
clustering for outlet counts. Both run through :func:`digest.cli.analyse.analyse_batch` on the
same articles (real corpus sentences, see ``bench/content.py``), CPU time of this process.
Run: ``.venv/bin/python bench/analyse.py [N]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from content import SHARED, build_articles

from digest.config import load_config
from digest.intel.analyse import AnalyseDoc, analyse_batch


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    if not (SHARED / "corpus").is_dir():
        print(f"bench/analyse.py: {SHARED} not found; nothing to measure")
        return
    config = load_config(None, env={})
    docs = [AnalyseDoc(id=i, title=t, text=x, source=f"src{k % 12}", published=w)
            for k, (i, t, x, w) in enumerate(build_articles(n))]
    analyse_batch(config, docs[:5])  # load the knowledge base and the models once, outside the timing
    analyse_batch(config, docs[:5], baseline=True)
    figures = {}
    for name, baseline in (("before", True), ("after", False)):
        t0 = time.process_time()
        out = analyse_batch(config, docs, baseline=baseline)
        figures[name] = 1000 * (time.process_time() - t0) / n
        assert len(out) == n
    print(f"{n} articles ({sum(len(d.text.split()) for d in docs) // n} words on average), CPU of one process:")
    print(f"  before (keyword rules)       {figures['before']:6.2f} ms/article")
    print(f"  after  (editorial judgments) {figures['after']:6.2f} ms/article "
          f"(+{figures['after'] - figures['before']:.2f})")


if __name__ == "__main__":
    main()
