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
])
def test_a_headline_about_legal_or_police_action_is_policy(title: str) -> None:
    assert clear_policy(title)


@pytest.mark.parametrize("title", [
    "Car maker extends production shutdown after cyber attack",
    "Hackers claim theft of 40GB from regional court system",  # a court as the victim, not a case
    "Security firm finds new loader spreading through fake invoices",
    "Council confirms residents' data was exposed in breach",
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
