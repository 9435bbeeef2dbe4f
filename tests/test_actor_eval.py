"""The actor evaluation: metrics, the labelled set's shape, and the `actors eval` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli.actors import actors
from digest.config import load_config
from digest.context import AppContext
from digest.eval.actors import (
    BaselineRecognizer,
    core_name,
    default_snippets_path,
    read_annoctr,
    read_snippets,
    score_annoctr,
    score_snippets,
)
from digest.intel.actors.recognize import ActorRecognizer
from digest.models import ActorHit

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_core_name() -> None:
    assert core_name("the Babuk ransomware gang") == core_name("Babuk group") == "babuk"
    assert core_name("APT 29") == core_name("APT29") == "apt29"
    assert core_name("APT") == "apt"


def test_labelled_set_shape() -> None:
    rows = read_snippets(default_snippets_path())
    assert len(rows) >= 80
    named = [r for r in rows if r["actors"]]
    traps = [r for r in rows if not r["actors"]]
    assert abs(len(named) - len(traps)) <= 0.2 * len(rows)
    labels = {}
    for r in named:
        for a in r["actors"]:
            labels.setdefault(a["label"], set()).update(a["mentions"])
    assert sum(1 for names in labels.values() if len(names) > 1) >= 8  # same actor, different names


def test_snippet_scores_on_toy_data() -> None:
    snippets = [
        {"id": "1", "title": "", "text": "", "actors": [{"label": "x", "mentions": ["Foo"]}]},
        {"id": "2", "title": "", "text": "", "actors": [{"label": "x", "mentions": ["Bar"]}]},
        {"id": "3", "title": "", "text": "", "actors": []},
    ]

    def split_batch(docs):
        return {"1": [ActorHit("a", "Foo", mentions=("Foo",))], "2": [ActorHit("b", "Bar", mentions=("Bar",))],
                "3": [ActorHit("c", "Baz", mentions=("Baz",))]}

    s = score_snippets(snippets, split_batch)
    assert (s.pairs.tp, s.pairs.predicted, s.pairs.gold) == (2, 3, 2)
    assert s.trap_hits == 1 and s.alias_recall == 1.0
    assert s.bcubed_precision == 1.0 and s.bcubed_recall == 0.5


def test_own_set_meets_targets_and_beats_baseline() -> None:
    rows = read_snippets(default_snippets_path())
    ours = score_snippets(rows, ActorRecognizer.default().detect_batch)
    base = score_snippets(rows, BaselineRecognizer().detect_batch)
    assert ours.pairs.precision >= 0.95 and ours.pairs.recall >= 0.95
    assert ours.trap_hits == 0
    assert ours.bcubed_f1 >= 0.95
    assert ours.pairs.f1 > base.pairs.f1 and base.trap_hits > 0


def test_annoctr_dev_beats_baseline() -> None:
    root = SHARED / "corpus" / "annoctr"
    if not (root / "ner_bio" / "dev.bio").is_file():
        pytest.skip("../shared/corpus/annoctr not present")
    docs = read_annoctr(root, "dev")
    assert len({d[0] for d in docs}) == len(docs)  # each labelled report found its text
    ours = score_annoctr(docs, ActorRecognizer.default().detect)
    base = score_annoctr(docs, BaselineRecognizer().detect)
    assert ours.f1 > base.f1


def test_eval_command_prints_both_columns(tmp_path: Path) -> None:
    app = AppContext(load_config(None, env={}, root=tmp_path))
    result = CliRunner().invoke(actors, ["eval", "--annoctr", str(tmp_path / "none")], obj=app)
    assert result.exit_code == 0, result.output
    assert "baseline" in result.output and "B-cubed F1" in result.output
    assert "AnnoCTR" in result.output


def test_baseline_is_a_case_sensitive_whole_word_lookup() -> None:
    base = BaselineRecognizer()
    found = {m for h in base.detect("", "APT28 and Fancy Bear struck; fancy bear rugs and APT28x did not.") for m in h.mentions}
    assert found == {"APT28", "Fancy Bear"}


def test_core_name_drops_a_possessive() -> None:
    assert core_name("TrickBot group ’ s") == core_name("TrickBot gang") == "trickbot"


def _write_annoctr(root: Path, rows: list[tuple[str, str]], text: str) -> None:
    (root / "ner_bio").mkdir(parents=True)
    (root / "text" / "dev").mkdir(parents=True)
    lines = ["<DOCSTART>\tO", ""] + [f"{tok}\t{label}" for tok, label in rows]
    (root / "ner_bio" / "dev.bio").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "text" / "dev" / "r1.txt").write_text(text, encoding="utf-8")


def test_a_name_labelled_malware_in_the_report_counts_neither_way(tmp_path: Path) -> None:
    # the annotators call Quokka a GROUP once and MALWARE once, Wombat only MALWARE, Numbat a GROUP
    rows = [("Quokka", "B-GROUP"), ("gang", "I-GROUP"), ("deployed", "O"), ("Quokka", "B-MALWARE"),
            (",", "O"), ("Wombat", "B-MALWARE"), ("and", "O"), ("the", "O"), ("Numbat", "B-GROUP"),
            ("group", "I-GROUP"), ("used", "O"), ("Bilby", "B-TOOL"), ("Loader", "I-TOOL")]
    _write_annoctr(tmp_path, rows, "Quokka gang deployed Quokka, Wombat and the Numbat group used Bilby Loader")
    docs = read_annoctr(tmp_path, "dev")
    assert docs[0][2] == {"Quokka gang", "Numbat group"}
    assert docs[0][3] == {"Quokka", "Wombat", "Bilby Loader"}

    def detect(title: str, text: str) -> list[ActorHit]:
        return [ActorHit(n.lower(), n, mentions=(n,)) for n in ("Quokka", "Wombat", "Numbat", "Bilby Loader")]

    s = score_annoctr(docs, detect)
    assert (s.tp, s.predicted, s.gold) == (1, 1, 1)  # only Numbat is scored

    def misses(title: str, text: str) -> list[ActorHit]:
        return []

    assert score_annoctr(docs, misses).gold == 1  # Quokka's GROUP label is not a miss either
