"""Extractive summaries: the Concise Cyber rules, key-entity credit, the splitter and the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pysbd
import pytest
from click.testing import CliRunner

from digest.cli.content import summarize_cmd
from digest.config import SummarizerConfig, load_config
from digest.context import AppContext
from digest.intel.summarize import (
    ExtractiveSummarizer,
    check_summary,
    extractive_summary,
    key_entities,
)
from digest.intel.summarizer import make_summarizer
from digest.intel.text import sentence_problems, split_sentences, words

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seed" / "concise-cyber-jewelbug.txt"

ARTICLE = """Cyber Weekly
Subscribe to our newsletter for the latest threat news
Advertisement
Image: Getty Images
Hackers linked to the Volt Harbor group breached the network of Nordwind Logistics in March, stealing 2 TB of shipping records.
Security firm Redline Labs disclosed the intrusion on Tuesday and attributed it to Volt Harbor with high confidence.
He said the attackers moved slowly to avoid detection.
However, the company has not confirmed how the attackers got in.
Was this the work of a state? Nobody knows yet.
Read more at https://example.com/volt-harbor for indicators.
Share on Facebook
Nordwind Logistics said it restored operations within four days and notified regulators in Germany.
Copyright 2025 Cyber Weekly. All rights reserved.
"""


def sentences_of(summary: str) -> list[str]:
    return split_sentences(summary)


def test_summary_follows_the_rules_and_skips_boilerplate() -> None:
    summary = extractive_summary("Volt Harbor Breaches Nordwind Logistics", ARTICLE)
    assert summary.startswith("Hackers linked to the Volt Harbor group")
    assert 2 <= len(sentences_of(summary)) <= 3
    assert len(words(summary)) <= 70
    for banned in ("Subscribe", "Advertisement", "Getty", "He said", "However", "?", "http", "Share on",
                   "Copyright", "Cyber Weekly"):
        assert banned not in summary
    assert check_summary(summary, ARTICLE) == []


def test_says_who_reported_it() -> None:
    summary = extractive_summary("Volt Harbor Breaches Nordwind Logistics", ARTICLE)
    assert "Redline Labs" in summary


def test_long_lede_is_replaced_not_cut() -> None:
    lede = "The attackers " + " ".join(["quietly"] * 75) + " stole data from Acme Bank."
    text = (f"{lede}\nAcme Bank said the intrusion began in May and lasted six weeks.\n"
            "Researchers at Kestrel Security linked the attack to the Grey Finch crew.")
    summary = extractive_summary("Acme Bank Breached", text)
    assert "quietly" not in summary
    assert summary.endswith(".")
    assert summary == ("Acme Bank said the intrusion began in May and lasted six weeks. "
                       "Researchers at Kestrel Security linked the attack to the Grey Finch crew.")


def test_never_more_than_max_words_and_ends_with_full_sentence() -> None:
    text = " ".join(f"Sentence number {i} describes the Orion Ember campaign against hospital {i} in detail."
                    for i in range(1, 30))
    for limit in (20, 35, 70):
        summary = extractive_summary("Orion Ember", text, max_words=limit)
        assert 0 < len(words(summary)) <= limit
        assert summary.endswith(".")
        assert all(not sentence_problems(s) for s in split_sentences(summary))


def test_key_term_credit_pulls_in_the_actor_sentence() -> None:
    text = ("Police in Spain searched three offices in Madrid on Monday morning. "
            "Officers took away computers, phones and paper records for analysis. "
            "The raids followed a two-year investigation into online payment fraud. "
            "Investigators believe the suspects worked for the Copper Lynx extortion crew for years. "
            "Prosecutors expect to file charges before the end of the year.")
    plain = extractive_summary("Spanish Police Raid Offices", text)
    assert "Copper Lynx" not in plain
    credited = extractive_summary("Spanish Police Raid Offices", text, key_terms=["Copper Lynx"])
    assert "Copper Lynx" in credited
    assert len(split_sentences(credited)) >= 2


def test_key_entities_include_recurring_and_headline_names() -> None:
    ents = key_entities("Jewelbug Breached Russian IT Firm",
                        "Symantec said Jewelbug was active. Symantec tracks it. Symantec said so. CVE-2025-1234 used.",
                        ["Earth Alux"])
    assert ents[0] == "Earth Alux"
    assert "CVE-2025-1234" in ents and "Symantec" in ents and "Jewelbug" in ents


def test_empty_or_unusable_text_gives_empty_summary() -> None:
    assert extractive_summary("Title", "") == ""
    assert extractive_summary("Title", "Subscribe now\nShare on X\nIs this the end?") == ""


def test_teaser_markers_are_dropped_and_cut_sentences_refused() -> None:
    text = ("Law enforcement has seized the leak sites of the BlackSuit ransomware gang this week. [...]")
    assert extractive_summary("BlackSuit", text) == "Law enforcement has seized the leak sites of the BlackSuit ransomware gang this week."
    cut = "Attackers abused a flaw in the login portal of Contoso VPN to reach internal networks and…"
    assert extractive_summary("Contoso", cut) == ""


@pytest.mark.parametrize(
    ("sentence", "rule"),
    [
        ("Subscribe below for free to get these delivered straight to your inbox.", "boilerplate"),
        ("Related articles on ransomware are linked in the sidebar below.", "boilerplate"),
        ("We use cookies to improve your experience on our website.", "boilerplate"),
        ("Photo: Reuters/John Smith shows the building in Moscow.", "caption"),
        ("Who is behind the attack on the Dutch police?", "question"),
        ("Indicators are listed at https://example.org/iocs for defenders.", "url"),
        ("He said the attackers used stolen credentials to log in.", "dangling-start"),
        ("This shows that the group is expanding its operations.", "dangling-start"),
        ("However, the vendor has not released a patch for the flaw.", "dangling-start"),
        ("the attackers then moved to the domain controller.", "fragment"),
        ("Details of the Five-Month Breach", "fragment"),
    ],
)
def test_sentence_rules(sentence: str, rule: str) -> None:
    assert rule in sentence_problems(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "The stolen session cookies were posted on a Russian-language forum.",
        "Attackers abused the sign-in page of the VPN portal to harvest passwords.",
        "Victims were tricked into downloading a subscription-based remote access trojan.",
        "The state-sponsored group has targeted telecom operators since 2021.",
    ],
)
def test_cyber_vocabulary_is_not_mistaken_for_boilerplate(sentence: str) -> None:
    assert sentence_problems(sentence) == []


def test_check_summary_reports_each_problem() -> None:
    text = "Acme Corp said hackers stole data in May. Acme Corp restored all systems within a week."
    assert check_summary("Acme Corp said hackers stole data in May.", text)[0].startswith("too-short")
    assert any(p.startswith("too-long") for p in check_summary(" ".join(["Word"] * 80) + ".", text))
    assert any(p.startswith("question") for p in check_summary("Did Acme pay the ransom to the gang?", text))
    assert any(p.startswith("empty") for p in check_summary("", text))
    assert check_summary("", "Subscribe to our newsletter") == []


def test_splitter_handles_abbreviations_numbers_and_quotes() -> None:
    text = ("Mr. J. Smith of Acme Inc. said the U.S. Department of Justice charged two men. "
            "Version 2.4.1 fixes it, e.g. on example.com servers. The firm paid $1.5 million. "
            "\"Stop it!\" she said. The attack hit the U.S. The group denied it.")
    assert split_sentences(text) == [
        "Mr. J. Smith of Acme Inc. said the U.S. Department of Justice charged two men.",
        "Version 2.4.1 fixes it, e.g. on example.com servers.",
        "The firm paid $1.5 million.",
        "\"Stop it!\" she said.",
        "The attack hit the U.S.",
        "The group denied it.",
    ]


def test_splitter_keeps_headings_apart_and_rejoins_wrapped_lines() -> None:
    text = "Details of the Breach\nThe attackers stayed for five\nmonths inside the network. They left."
    assert split_sentences(text) == ["Details of the Breach", "The attackers stayed for five months inside the network.",
                                     "They left."]


def test_splitter_agrees_with_pysbd_on_prose() -> None:
    prose = ("A threat actor with ties to China has been attributed to a five-month-long intrusion. "
             "According to a report from Symantec, a division of Broadcom Inc., the campaign ran from January to May 2025. "
             "Dr. Jane Doe, a researcher at the U.S. firm, said the group used version 3.2 of its backdoor. "
             "The attackers reached code repositories! Defenders should rotate credentials now.")
    ours = split_sentences(prose)
    theirs = [s.strip() for s in pysbd.Segmenter(language="en", clean=False).segment(prose)]
    assert ours == theirs


def test_seed_summary_names_jewelbug_and_symantec() -> None:
    if not SEED.is_file():
        pytest.skip(f"seed article not found at {SEED} (../shared is absent)")
    text = SEED.read_text(encoding="utf-8")
    summary = extractive_summary("Chinese Threat Group Jewelbug Breached Russian IT Firm for Five Months", text)
    assert "Jewelbug" in summary and "Symantec" in summary
    assert 2 <= len(split_sentences(summary)) <= 3
    assert len(words(summary)) <= 70
    assert "Subscribe" not in summary and "Advertisements" not in summary
    assert check_summary(summary, text) == []


def test_every_corpus_summary_keeps_the_rules() -> None:
    if not (SHARED / "corpus" / "feeds" / "cybersecnews.json").is_file():
        pytest.skip(f"feed corpus not found under {SHARED} (../shared is absent)")
    from digest.eval.content import load_corpus

    items = load_corpus(SHARED)
    assert len(items) > 200
    for it in items:
        summary = extractive_summary(it.title, it.text)
        assert check_summary(summary, it.text) == [], (it.id, summary)


def test_make_summarizer_selects_backend() -> None:
    assert isinstance(make_summarizer(SummarizerConfig()), ExtractiveSummarizer)
    from digest.intel.llm import OpenAISummarizer

    s = make_summarizer(SummarizerConfig(backend="openai", endpoint="http://127.0.0.1:9/v1", model="m"))
    assert isinstance(s, OpenAISummarizer)
    assert s.url == "http://127.0.0.1:9/v1/chat/completions"
    s.close()


def _group() -> click.Group:
    @click.group()
    @click.pass_context
    def g(ctx: click.Context) -> None:
        ctx.obj = AppContext(load_config(env={}))

    g.add_command(summarize_cmd, "summarize")
    return g


def test_cli_summarize_reads_json_lines_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": "x1", "title": "Volt Harbor Breaches Nordwind Logistics", "text": ARTICLE}),
        "{not json",
        json.dumps({"id": 7, "title": "Empty", "text": ""}),
    ]
    result = CliRunner().invoke(_group(), ["summarize", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1, result.output  # a bad line: the good ones are summarized, exit 1 (as actors detect)
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["x1", 7]
    assert "Volt Harbor" in out[0]["summary"] and out[1]["summary"] == ""
    assert "line 2" in result.stderr and result.stderr.count("\n") == 1
    clean = CliRunner().invoke(_group(), ["summarize", "-"], input=lines[0] + "\n\n" + lines[2] + "\n")
    assert clean.exit_code == 0 and clean.stderr == "", clean.output
    assert [json.loads(x)["id"] for x in clean.stdout.splitlines()] == ["x1", 7]


def test_third_person_sentences_are_preferred_over_a_vendors_we() -> None:
    from digest.intel.summarize import extractive_summary

    text = ("Today we are releasing our analysis of a new phishing campaign. "
            "APT29, the Russian espionage group, sent wine-tasting invitations to diplomats at 14 embassies "
            "in May, Sample Labs said on Tuesday. "
            "The emails carried a loader that side-loads a malicious DLL into a signed program. "
            "US officials confirmed that two ministries were affected by the campaign.")
    summary = extractive_summary("APT29 Targets Diplomats", text)
    assert "we are releasing" not in summary
    assert summary.startswith("APT29, the Russian espionage group")
    assert "US officials" in summary or "loader" in summary
    only_we = ("We observed APT29 sending invitations to diplomats in May. "
               "We attribute the activity to the Russian group with high confidence.")
    assert extractive_summary("APT29", only_we).startswith("We observed")  # nothing else to say it with
