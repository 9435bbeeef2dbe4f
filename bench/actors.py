"""Throughput of actor detection, beside the plain galaxy-lookup baseline (prints, never asserts).

Text: the AnnoCTR reports and threat reports in ../shared when present, else the project's own
labelled snippets; repeated to about 5 MB. Run: ``.venv/bin/python bench/actors.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TARGET_BYTES = 5_000_000


def corpus() -> list[tuple[str, str, str]]:
    """Documents (id, title, text) of about TARGET_BYTES of text."""
    texts: list[str] = []
    for pattern in ("corpus/annoctr/text/*/*.txt", "corpus/reports/*.txt"):
        texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(SHARED.glob(pattern))]
    if not texts:
        rows = [json.loads(x) for x in (ROOT / "tests/data/actor_snippets.jsonl").read_text().splitlines() if x]
        texts = [f"{r['title']}\n\n{r['text']}" for r in rows]
    docs, size, n = [], 0, 0
    while size < TARGET_BYTES:
        for t in texts:
            docs.append((str(n), "", t))
            size += len(t.encode("utf-8"))
            n += 1
            if size >= TARGET_BYTES:
                break
    return docs


def main() -> None:
    from digest.eval.actors import BaselineRecognizer
    from digest.intel.actors.recognize import ActorRecognizer

    t0 = time.perf_counter()
    rec = ActorRecognizer.default()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = BaselineRecognizer()
    base_build = time.perf_counter() - t0
    docs = corpus()
    mb = sum(len(t.encode("utf-8")) for _i, _t, t in docs) / 1e6
    print(f"corpus: {len(docs)} documents, {mb:.1f} MB")
    print(f"build: digest {build:.2f} s, baseline {base_build:.2f} s")
    for label, fn in (
        ("digest detect (per document)", lambda: [rec.detect(t, x) for _i, t, x in docs]),
        ("digest detect_batch", lambda: rec.detect_batch(docs)),
        ("baseline lookup", lambda: [base.detect(t, x) for _i, t, x in docs]),
    ):
        dt = float("inf")
        for _ in range(3):  # the best of three: this machine is shared and noisy
            t0 = time.perf_counter()
            fn()
            dt = min(dt, time.perf_counter() - t0)
        print(f"{label:32} {dt:6.2f} s  {mb / dt:6.1f} MB/s  (best of 3)")

    # A running worker passes the stored alias links (months of them) with every article. They are
    # applied once and reused while the list grows; a new list each call rebuilds them (the peer).
    from digest.models import AliasLink

    sample = docs[:100]
    smb = sum(len(t.encode("utf-8")) for _i, _t, t in sample) / 1e6
    for n in (0, 2000, 8000):
        links = [AliasLink(f"Velvet Okapi{i}", f"UNC{10000 + i}", "same") for i in range(n)]
        rec.detect("", "warm-up", links)
        t0 = time.perf_counter()
        for _i, t, x in sample:
            rec.detect(t, x, links)
        kept = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _i, t, x in sample[:20]:
            rec.detect(t, x, list(links))
        rebuilt = (time.perf_counter() - t0) * len(sample) / 20
        print(f"with {n:5d} stored alias links: {kept * 1000 / len(sample):6.1f} ms a document "
              f"({smb / kept:.1f} MB/s); rebuilding them for each document: {rebuilt * 1000 / len(sample):6.1f} ms")


if __name__ == "__main__":
    main()
