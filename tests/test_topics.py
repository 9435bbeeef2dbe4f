"""Topics, CVE extraction and the exploited flag."""

from __future__ import annotations

import pytest

from digest.intel.topics import TOPICS, classify, extract_cves, is_exploited


def test_topics_order_and_titles() -> None:
    assert list(TOPICS.items()) == [
        ("exploited", "Exploited Vulnerabilities"), ("ransomware", "Ransomware & Extortion"),
        ("breach", "Data Breaches"), ("malware", "Malware"), ("policy", "Policy & Law Enforcement"),
        ("industry", "Industry"), ("other", "Other News"),
    ]


def test_extract_cves_uppercase_deduplicated_in_order() -> None:
    text = "Fixes cve-2025-53770 and CVE-2025-49704; CVE‑2025‑53770 again, and CVE 2024-3400. Not CVE-25-1."
    assert extract_cves(text) == ("CVE-2025-53770", "CVE-2025-49704", "CVE-2024-3400")


@pytest.mark.parametrize(
    "text",
    [
        "The flaw has been exploited in the wild since July.",
        "Microsoft says CVE-2025-53770 is actively exploited.",
        "CISA added the bug to its Known Exploited Vulnerabilities catalog on Monday.",
        "The vendor confirmed active exploitation of the vulnerability.",
        "Hackers are exploiting a critical flaw in CrushFTP servers.",
    ],
)
def test_exploited_flag(text: str) -> None:
    assert is_exploited("Vendor fixes flaw", text)


@pytest.mark.parametrize(
    "text",
    [
        "There is no evidence the flaw has been exploited in the wild.",
        "The company is not aware of active exploitation.",
        "A proof-of-concept exploit was published for the vulnerability.",
    ],
)
def test_not_exploited(text: str) -> None:
    assert not is_exploited("Vendor fixes flaw", text)


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    [
        ("SharePoint zero-day exploited in attacks", "Attackers exploit CVE-2025-53770 in the wild.", "exploited"),
        ("BlackSuit ransomware leak sites seized", "The gang extorted hundreds of victims.", "ransomware"),
        ("Dior says customer data was stolen", "Names and contact details were exposed in a data breach.", "breach"),
        ("New Coyote banking trojan abuses UI Automation", "The malware steals credentials from banks.", "malware"),
        ("Laptop farmer sentenced to 8.5 years", "A court sentenced the woman after she pleaded guilty.", "policy"),
        ("Security startup raises $50 million", "The funding round was led by investors.", "industry"),
        ("Mitel patches critical MiVoice flaw", "The vulnerability lets attackers bypass login; no exploitation known.",
         "industry"),
        ("Microsoft is named a Leader in the 2025 Gartner Magic Quadrant for Endpoint Protection",
         "Human-operated ransomware encounters surged. Defender stops ransomware and extortion attacks.", "industry"),
        ("CrowdStrike Ranked #1 in 2025 Frost Radar for MDR", "The ransomware threat keeps growing.", "industry"),
        ("Japan finds object beyond Pluto", "Astronomers announced a small body in the outer solar system.", "other"),
    ],
)
def test_classify(title: str, text: str, topic: str) -> None:
    assert classify(title, text).topic == topic


def test_classify_returns_cves_and_flag() -> None:
    info = classify("Cisco ISE flaws under attack", "Cisco says CVE-2025-20281 and CVE-2025-20337 are exploited in the wild.")
    assert info.topic == "exploited" and info.exploited
    assert info.cves == ("CVE-2025-20281", "CVE-2025-20337")
    assert info.topic in TOPICS


def test_keywords_count_in_the_first_400_words_only() -> None:
    from digest.intel.topics import classify_scored

    filler = "the council met again on tuesday\n" * 66  # 396 words, spread over lines
    early = classify_scored("Council news", filler + "a new ransomware strain, ransomware again")[1]
    late = classify_scored("Council news", filler + "one two three four five ransomware ransomware")[1]
    assert early["ransomware"] == 2.0  # "ransomware" is word 399 (counted) and word 401 (not)
    assert late["ransomware"] == 0.0  # words 402 and 403: past the opening the score reads
