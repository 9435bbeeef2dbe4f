"""Actor figures on DEV data only: real-news dev half (through ``digest analyse``), AnnoCTR train and dev.

Run: ``.venv/bin/python bench/actors_dev.py [-v]`` (``-v`` lists the real-news dev errors and the AnnoCTR
train/dev misses and false names). The test halves are never read here, so a run is no test look.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.config import load_config
from digest.eval.actors import (
    BaselineRecognizer,
    core_name,
    default_snippets_path,
    read_annoctr,
    read_snippets,
    score_annoctr,
    score_snippets,
    shared_dir,
)
from digest.eval.editorial import _ActorNames, evaluate, load_gold
from digest.intel.actors.recognize import ActorRecognizer
from digest.intel.analysis import kb_dir


def annoctr(rec: ActorRecognizer, verbose: bool) -> None:
    root = shared_dir() / "corpus" / "annoctr"
    base = BaselineRecognizer()
    for split in ("train", "dev"):
        docs = read_annoctr(root, split)
        ours, theirs = score_annoctr(docs, rec.detect), score_annoctr(docs, base.detect)
        print(f"AnnoCTR {split}: P {ours.precision:.3f} R {ours.recall:.3f} F1 {ours.f1:.3f}"
              f" (baseline {theirs.f1:.3f}, gain {ours.f1 - theirs.f1:+.3f})")
        if verbose:
            for name, text, gold, other in docs:
                skip = {core_name(x) for x in other}
                want = {core_name(x) for x in gold} - {""} - skip
                found = {core_name(m) for h in rec.detect("", text) for m in h.mentions} - {""} - skip
                fp, fn = sorted(found - want), sorted(want - found)
                if fp or fn:
                    print(f"  {split} {name[:50]}: FP {fp} FN {fn}")


def realnews(verbose: bool) -> None:
    config = load_config()
    gold, _ = load_gold()
    dev = [g for g in gold if g.split == "dev"]
    fig = evaluate(config, dev, [], baseline=False, names=_ActorNames(config))
    for label, value in fig.rows():
        if "actor" in label:
            print(f"real-news dev {label}: {value}")
    if verbose:
        for kind in ("primary", "actor-free", "actor"):
            for line in fig.errors.get(kind, []):
                print(f"  {kind}: {line}")


def snippets(rec: ActorRecognizer) -> None:
    s = score_snippets(read_snippets(default_snippets_path()), rec.detect_batch)
    print(f"snippets: P {s.pairs.precision:.3f} R {s.pairs.recall:.3f} alias recall {s.alias_recall:.3f}"
          f" B-cubed {s.bcubed_f1:.3f} trap hits {s.trap_hits}")


def main() -> None:
    verbose = "-v" in sys.argv
    rec = ActorRecognizer.default(kb_dir(load_config()))
    snippets(rec)
    if "--no-annoctr" not in sys.argv:
        annoctr(rec, verbose)
    if "--no-realnews" not in sys.argv:
        realnews(verbose)


if __name__ == "__main__":
    main()
