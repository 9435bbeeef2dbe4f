"""The summary evaluation over real text: counting, the lead baseline, and the dev/test report."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli.content import summaries_eval_cmd
from digest.eval.summaries import EvalText, lead_summary, report, run_summary_eval

SHARED = Path(__file__).resolve().parents[2] / "shared"

TEXT = ("However, the attackers were already inside by then. "
        "The Copper Lynx gang encrypted servers at three Dutch hospitals on Sunday and demanded $2 million. "
        "The hospitals moved patients to nearby clinics while they restored systems from backups.")


def test_the_lead_baseline_keeps_the_dangling_opener_and_the_digest_does_not() -> None:
    texts = [EvalText("t1", "feed", "dev", "Copper Lynx hits Dutch hospitals", TEXT)]
    assert lead_summary(texts[0].title, TEXT).startswith("However")
    base = report(texts, lead_summary)
    ours = report(texts)
    assert (base.broken, base.rules["dangling-start"]) == (1, 1)
    assert ours.broken == 0 and ours.total == 1
    assert 20 <= ours.median <= 70


@pytest.mark.skipif(not (SHARED / "corpus" / "annoctr").is_dir(), reason="../shared corpus not present")
def test_real_text_report_has_both_halves_and_the_baseline() -> None:
    lines = run_summary_eval(SHARED)
    text = "\n".join(lines)
    assert " dev:" in text and " test:" in text
    assert text.count("lead-3,") == text.count("digest,") >= 2


def test_command_says_when_the_corpus_is_absent(tmp_path: Path) -> None:
    result = CliRunner().invoke(summaries_eval_cmd, ["--shared", str(tmp_path)])
    assert result.exit_code == 0
    assert "holds no corpus" in result.output
