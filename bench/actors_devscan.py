"""Dev-period scan: every item of ``../shared`` dated in the dev half (labelled or not), its actors.

Run: ``.venv/bin/python bench/actors_devscan.py OUT.jsonl`` writes one line per dev-period item (key, title,
actors with mentions and role); diff two runs' files to see what a rule changes. Test-period items are
never read (items after the dev cut dates are skipped before detection).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.config import load_config
from digest.eval.realnews import load_items
from digest.intel.actors.recognize import ActorRecognizer
from digest.intel.actors.salience import rank_actors
from digest.intel.analysis import kb_dir

CUT_NDH = datetime(2025, 11, 16, tzinfo=UTC)
CUT_JULY = datetime(2025, 7, 22, tzinfo=UTC)


def dev_items() -> dict:
    out = {}
    for key, item in load_items().items():
        when = item.published
        if when is None:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < (CUT_NDH if key.startswith("ndh:") else CUT_JULY):
            out[key] = item
    return out


def main() -> None:
    rec = ActorRecognizer.default(kb_dir(load_config()))
    items = dev_items()
    hits = rec.detect_batch([(k, it.title, it.text) for k, it in items.items()])
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        for k, it in sorted(items.items()):
            roles = rank_actors(it.title, it.text, hits.get(k, []))
            acts = [[r.actor.name, list(r.actor.mentions), "P" if r.primary else "i" if r.incidental else "-"]
                    for r in roles]
            f.write(json.dumps({"key": k, "title": it.title, "actors": acts}, ensure_ascii=False) + "\n")
    print(f"{len(items)} dev-period items")


if __name__ == "__main__":
    main()
