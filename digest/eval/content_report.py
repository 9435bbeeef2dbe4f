"""`digest eval-content`: the same-story decision on the own and the real labelled pairs, then the
corpus's clusters and summaries, as one report."""

from __future__ import annotations

from pathlib import Path

from digest.eval.content import (
    corpus_clusters,
    default_shared_dir,
    evaluate_pairs,
    load_corpus,
    load_pairs,
    summary_report,
)
from digest.eval.pairs import real_pairs_report

__all__ = ["run_eval"]


def run_eval(*, shared: Path | None = None, pairs_path: Path | None = None, window_hours: int = 72,
             show_clusters: bool = True) -> list[str]:
    """All evaluation lines, as ``digest content eval`` prints them."""
    lines: list[str] = []
    pairs = load_pairs(pairs_path)
    npos = sum(1 for p in pairs if p["same"])
    lines.append(f"Same-story decision on {len(pairs)} labelled pairs ({npos} same, {len(pairs) - npos} different):")
    for label, kwargs in (("batch, with actor ids", {"with_actors": True}),
                          ("batch, text only", {"with_actors": False}),
                          ("each pair alone, text only", {"with_actors": False, "batch": False})):
        r = evaluate_pairs(pairs, window_hours=window_hours, **kwargs)
        lines.append(f"  {label:28} precision {r.precision:.3f}  recall {r.recall:.3f}  "
                     f"(tp {r.tp}, fp {r.fp}, fn {r.fn}, tn {r.tn})")
        lines.extend(f"    {e}" for e in r.errors)
    shared_dir = shared or default_shared_dir()
    lines.append("")
    lines.extend(real_pairs_report(shared=shared_dir))
    if not (shared_dir / "corpus" / "feeds" / "cybersecnews.json").is_file():
        lines.append(f"Corpus: {shared_dir} not found; corpus clusters and summary figures skipped.")
        return lines
    items = load_corpus(shared_dir)
    clusters = corpus_clusters(items, window_hours=window_hours)
    lines.append("")
    lines.append(f"Corpus: {len(items)} items; {len(clusters)} stories covered by more than one source")
    if show_clusters:
        for k, members in enumerate(clusters, 1):
            lines.append(f"  story {k} ({len(members)} articles)")
            for m in members:
                day = m.published.date().isoformat() if m.published else "----------"
                lines.append(f"    {day}  {m.source[:22]:22}  {m.title[:90]}")
    rep = summary_report(items)
    lines.append("")
    lines.append(f"Summaries: {rep.total} items, {rep.with_text} with text, "
                 f"{rep.empty} without a usable sentence (summary left empty)")
    order = ["0 (none)", "1-19", "20-39", "40-59", "60-70", ">70"]
    lines.append("  length (words): " + ", ".join(f"{k}: {rep.lengths.get(k, 0)}" for k in order)
                 + f"; longest {rep.max_words}")
    lines.append(f"  breaking a rule: {len(rep.broken)} of {rep.total}"
                 + (f" ({', '.join(f'{k} {v}' for k, v in rep.rules.most_common())})" if rep.rules else ""))
    for item_id, problems in rep.broken[:20]:
        lines.append(f"    {item_id}: {'; '.join(problems)}")
    share = rep.actor_named / rep.actor_total if rep.actor_total else 1.0
    lines.append(f"  name the article's actor: {rep.actor_named} of {rep.actor_total} ({share:.0%})")
    return lines
