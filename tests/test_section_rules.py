"""The section model's decision rules beside the model: the legal-headline rule (policy)."""

from __future__ import annotations

import numpy as np
import pytest

from digest.intel.editorial import judge
from digest.intel.section_model import SECTIONS, clear_policy, decide


@pytest.mark.parametrize("title", [
    "Teenager arrested over cyber attack that grounded flights at three airports",
    "Retail chain fined £9m by data watchdog over 2024 customer data theft",
    "Former bank IT worker pleads guilty to selling customer logins",
    "Hospital group agrees $12 million settlement in patient data lawsuit",
    "Police seize servers of phishing-as-a-service platform in joint takedown",
    "Two suspects appear in court over school network hack",
    "Regulator fines bank over breach of customer records",
    "Authorities seize $3 million in crypto from extortion crew",
    "Former admin sentenced to two years in prison for sabotage",
])
def test_a_headline_about_legal_or_police_action_is_policy(title: str) -> None:
    assert clear_policy(title)


@pytest.mark.parametrize("title", [
    "Car maker extends production shutdown after cyber attack",
    "Hackers claim theft of 40GB from regional court system",  # a court as the victim, not a case
    "Security firm finds new loader spreading through fake invoices",
    "Council confirms residents' data was exposed in breach",
    "Fine-tuning LLMs to triage malware samples",
    "Free trial of AI tool delivers infostealer",
    "Prison service hit by ransomware attack",
    "Jail management software vendor breached",
    "Hackers seize control of smart home hubs",
    "Clinical trial data exposed in breach",
    "CISA pleads with agencies to patch",
])
def test_a_headline_about_an_incident_or_research_is_not(title: str) -> None:
    assert not clear_policy(title)


def test_the_legal_rule_sits_below_the_ad_and_exploited_rules() -> None:
    logits = np.array([0.0, 0.0, 5.0, 0.0, 0.0, 1.0, 2.0])  # breach first, then other
    assert decide(logits, SECTIONS, sponsored=False, exploited=False, policy=True) == "policy"
    assert decide(logits, SECTIONS, sponsored=False, exploited=True, policy=True) == "exploited"
    assert decide(logits, SECTIONS, sponsored=True, exploited=False, policy=True) == "other"
    assert decide(logits, SECTIONS, sponsored=False, exploited=False) == "breach"


def test_judge_files_an_arrest_after_an_outage_under_policy_and_says_why() -> None:
    """A follow-up on an incident the model would file with the incident: the arrest is the news."""
    out = judge("Man arrested over cyber attack that disrupted check-in at European airports",
                "Police said a man in his forties was detained on suspicion of computer misuse offences after "
                "the attack on a check-in software supplier caused delays across several airports.", explain=True)
    assert out.topic == "policy"
    assert any("policy: a legal headline" in w for w in out.why), out.why
    plain = judge("Cyber attack disrupts check-in at European airports",
                  "Travellers faced delays after an attack on a check-in software supplier.")
    assert plain.topic != "policy"


def test_forward_cross_validation_fits_on_earlier_blocks_only(monkeypatch) -> None:
    """Forward folds: block k is scored by a model fitted on blocks 0..k-1, never on later weeks."""
    from digest.eval import section_fit
    from digest.intel import section_model

    sizes: list[int] = []
    real = section_model.train

    def recording(xs, ys, **kw):
        sizes.append(len(ys))
        return real(xs, ys, **kw)

    monkeypatch.setattr(section_model, "train", recording)
    fold_of = [b for b in range(5) for _ in range(4)]  # five blocks of four articles
    xs = np.eye(20)
    ys = ["breach", "policy"] * 10
    section_fit.cv_accuracy(xs, ys, 1e-3, fold_of, forward=True)
    assert sizes == [8, 12, 16]  # blocks 2, 3, 4 fitted on the 2, 3, 4 blocks before them
    sizes.clear()
    section_fit.cv_accuracy(xs, ys, 1e-3, fold_of)
    assert sizes == [16] * 5  # date-blocked: each block fitted on the four others


def test_eval_editorial_dev_only_never_runs_the_test_half(tmp_path, monkeypatch) -> None:
    import json
    import textwrap

    from digest.config import load_config
    from digest.eval.editorial import run_eval

    loader = tmp_path / "loader.py"
    loader.write_text(textwrap.dedent('''
        import json
        from dataclasses import dataclass
        from datetime import datetime
        from pathlib import Path

        @dataclass
        class RealItem:
            key: str
            title: str
            text: str
            source: str
            published: datetime
            link: str

        def shared_dir():
            return "nowhere"

        def load_items(shared=None):
            rows = [("a", "Police arrest two over council data theft", "2025-09-02T10:00:00+00:00"),
                    ("b", "Retailer says hackers stole customer records", "2025-12-02T10:00:00+00:00")]
            return {k: RealItem(k, t, "The council said so.", "Example News", datetime.fromisoformat(d), "")
                    for k, t, d in rows}

        def load_labels(path):
            return [json.loads(line) for line in Path(path).read_text().splitlines()]

        def load_weeks(path):
            return []
    '''))
    labels = tmp_path / "labels"
    labels.mkdir()
    lines = [{"key": "a", "split": "dev", "topic": "policy", "sponsored": False, "importance": 2},
             {"key": "b", "split": "test", "topic": "breach", "sponsored": False, "importance": 2}]
    (labels / "editorial.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    import sys

    import digest.eval.realnews as real_loader

    monkeypatch.setitem(sys.modules, "digest.eval.realnews", real_loader)  # the fake loader registers itself there
    monkeypatch.setenv("DIGEST_REALNEWS_LOADER", str(loader))
    seen: list[str] = []
    out = run_eval(load_config(None, env={}), directory=labels, echo=seen.append, dev_only=True)
    assert list(out) == ["dev"]
    assert any("dev half (1 labelled" in s for s in seen) and not any("test half" in s for s in seen)
    assert out["dev"]["ours"].section_right == 1  # the arrest headline: policy


def test_cross_validation_scores_the_installed_decision_when_given_the_rules() -> None:
    """With every row's legal-headline flag set, every scored row is filed under policy."""
    from digest.eval.section_fit import cv_accuracy

    fold_of = [b for b in range(5) for _ in range(4)]
    ys = ["policy"] + ["breach"] * 19  # the one policy row in the first block
    legal = [(False, False, True)] * 20  # (sponsored, clear exploited, legal headline)
    assert cv_accuracy(np.eye(20), ys, 1e-3, fold_of, forward=True) == 1.0
    assert cv_accuracy(np.eye(20), ys, 1e-3, fold_of, forward=True, rules=legal) == 0.0
    ad = [(True, False, True)] * 20  # an ad is not filed under policy
    assert cv_accuracy(np.eye(20), ys, 1e-3, fold_of, forward=True, rules=ad) == 1.0
