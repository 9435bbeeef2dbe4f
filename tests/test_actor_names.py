"""Issue 13, second pass: short forms of names, names a headline introduces, each from a sentence written here."""

from __future__ import annotations

import pytest

from digest.intel.actors.recognize import ActorRecognizer
from digest.intel.actors.salience import primary_actor, rank_actors


@pytest.fixture(scope="module")
def rec() -> ActorRecognizer:
    return ActorRecognizer.default()


def names(hits) -> set[str]:
    return {m for h in hits for m in h.mentions}


def ids(hits) -> set[str]:
    return {h.id for h in hits}


# ---------------------------------------------------------------- short forms ("INC" of "INC Ransom")


def test_a_name_without_its_generic_last_word_is_that_actor_beside_a_group_cue(rec: ActorRecognizer) -> None:
    assert ids(rec.detect("", "The INC ransomware gang claimed the attack on the clinic.")) == {"inc-ransom"}
    assert ids(rec.detect("", "Inc, a group linked to hundreds of ransomware attacks, claims the breach.")) == {
        "inc-ransom"}


def test_a_short_form_that_is_a_company_suffix_or_a_victim_is_no_actor(rec: ActorRecognizer) -> None:
    assert rec.detect("", "Pacific Fish, aka Dulcich, Inc. (\"Pacific Fish\"), reported a data breach.") == []
    assert rec.detect("", "Acme Inc, a group of companies, said it was hit by ransomware.") == []
    assert rec.detect("Coinbase hackers demand ransom", "The exchange said hackers stole data.") == []


def test_a_short_form_links_no_company_to_an_actor(rec: ActorRecognizer) -> None:
    docs = [("1", "", "Sea Foods, Inc. (\"Sea Foods\") said a breach hit its systems."),
            ("2", "", "INC Ransom claimed the attack on the hospital and leaked a sample.")]
    out = rec.detect_batch(docs)
    assert out["1"] == [] and {h.name for h in out["2"]} == {"INC Ransom"}


def test_a_lower_case_canonical_name_is_written_with_capitals(rec: ActorRecognizer) -> None:
    hits = rec.detect("", "The Embargo ransomware group moved $34 million in crypto.")
    assert [h.name for h in hits] == ["Embargo"]


def test_the_headline_names_the_actor_without_its_generic_word(rec: ActorRecognizer) -> None:
    title, text = "Radiant hackers publish nursery photos", "The Radiant group said it would delete the data."
    roles = rank_actors(title, text, rec.detect(title, text))
    assert [r.actor.id for r in roles] == ["radiant-group"]
    assert any(o.where == "title" for o in roles[0].occurrences)


# ---------------------------------------------------------------- names a headline or a naming phrase introduces


def test_a_quoted_name_before_a_group_noun_is_a_new_actor(rec: ActorRecognizer) -> None:
    title, text = "'Velvet Comet' Attacker Slips Past Passkeys", "Researchers found a novel phishing attack."
    hit = primary_actor(title, text, rec.detect(title, text))
    assert hit is not None and hit.name == "Velvet Comet"


def test_a_camel_case_word_before_hackers_in_a_headline_is_a_new_actor(rec: ActorRecognizer) -> None:
    title = "GlassOtter Hackers Bypass Security Keys With QR Phishing"
    text = "Researchers disclosed a phishing technique that lets threat actors downgrade key protections."
    assert names(rec.detect(title, text)) == {"GlassOtter"}


def test_a_victim_before_hackers_in_a_headline_is_no_actor(rec: ActorRecognizer) -> None:
    assert rec.detect("SolarWinds Hackers Return With New Malware",
                      "The hackers behind the SolarWinds attack are back, researchers said.") == []
    assert rec.detect("Breach at retailer", "Chinese Hackers Target Taiwan, a report says.") == []


def test_a_headline_group_word_in_title_case_names_nothing(rec: ActorRecognizer) -> None:
    hits = rec.detect("TRM Says the Ransomware Group May Have Rebranded to Embargo",
                      "The Embargo ransomware group moved $34 million.")
    assert {h.name for h in hits} == {"Embargo"}


@pytest.mark.parametrize("text", [
    "The attackers, known as Sneaky Ferret, used phishing lures and malware.",
    "Google tracks the activity as Sneaky Ferret, a financially motivated threat actor.",
    "Researchers tracked the attackers as Sneaky Ferret.",
    "Ransomware group Sneaky Ferret said it would leak the data.",
])
def test_a_naming_phrase_after_hackers_attackers_or_tracks_names_a_group(rec: ActorRecognizer, text: str) -> None:
    assert names(rec.detect("", text)) == {"Sneaky Ferret"}


def test_a_naming_phrase_names_no_bug_and_no_weekday(rec: ActorRecognizer) -> None:
    assert rec.detect("", "Tenable tracks the flaw as CVE-2025-1234 and the vulnerability is exploited.") == []
    assert rec.detect("", "Police said the ransomware operators called Tuesday to negotiate.") == []


def test_a_group_word_before_a_short_form_makes_it_the_gang(rec: ActorRecognizer) -> None:
    assert ids(rec.detect("", "Ransomware group Radiant said it was backing down.")) == {"radiant-group"}


@pytest.mark.parametrize("title,text", [
    ("Quorvex Ransomware Gang Claims Attack on Regional Hospital", "The hospital said it was investigating."),
    ("Quorvex ransomware claims attack on hospital", "The hospital said systems were encrypted."),
    ("Breach", "Quorvex, a ransomware gang that emerged this year, claimed the attack."),
    ("Breach", "Quorvex, a relatively new ransomware operation, claimed the attack."),
    ("Breach", "The attack was claimed by Quorvex, a ransomware group active since July."),
    ("Breach", "The attack was claimed by the Quorvex ransomware operation."),
    ("Regional Hospital Hit", "The Quorvex crew claimed the breach on its leak site."),
])
def test_a_new_gang_named_by_its_act_an_apposition_or_after_a_headline(rec: ActorRecognizer, title: str,
                                                                         text: str) -> None:
    assert names(rec.detect(title, text)) == {"Quorvex"}


@pytest.mark.parametrize("text", [
    "The intrusions are the work of Sneaky Ferret, a China-nexus espionage group, researchers said.",
    "Researchers attributed the campaign to Sneaky Ferret, a Russia-aligned threat actor.",
    'A threat actor using the alias "Sneaky Ferret" claimed to sell the data on a forum.',
    'A hacker going by the name "Sneaky Ferret" claimed to sell the data on a forum.',
])
def test_an_apposition_or_an_alias_phrase_names_a_new_actor(rec: ActorRecognizer, text: str) -> None:
    assert names(rec.detect("", text)) == {"Sneaky Ferret"}


@pytest.mark.parametrize("text", [
    "Often, a threat actor will use both impersonation and compromise in one campaign.",
    "Though the attack was first discovered in August, an attacker had access since May.",
    "In Germany, a hacking group attacked several ministries.",
    "After breaching Oracle's E-Business Suite, a well-known group of hackers is extorting executives.",
    "Kering, the French luxury group, said customer data was stolen by hackers.",
    "Kering, a French luxury group, said customer data was stolen in a cyberattack.",
    "Record ransomware claims rose in the third quarter, the insurer said.",
])
def test_an_opening_phrase_a_business_group_or_a_noun_is_no_apposition(rec: ActorRecognizer, text: str) -> None:
    assert rec.detect("", text) == []


def test_a_name_of_words_written_as_one_camel_case_word_is_that_actor(rec: ActorRecognizer) -> None:
    assert ids(rec.detect("", "The BlackNevas ransomware group hit a logistics firm.")) == {"black-nevas"}
    assert ids(rec.detect("", "Researchers saw ScatteredSpider activity at the retailer.")) == {"scattered-spider"}
    assert rec.detect("", "A group called Blacknevas-style struck, and blacknevas is no name.") == []


def test_a_well_known_actor_name_of_several_words_in_lower_case_is_still_the_actor(rec: ActorRecognizer) -> None:
    text = "So instead of ‘fancy bear’ we should call the GRU hackers ‘old bear’."
    assert ids(rec.detect("", text)) == {"apt28"}
    assert rec.detect("", "The hackers used play and shadow copies; a temp=hex value hid the payload.") == []


def test_a_performer_is_no_actor(rec: ActorRecognizer) -> None:
    assert rec.detect("Trailer for hacking drama", "The trailer sees the Doctor Who actor portray a journalist.") == []
    assert rec.detect("", "A cyber fraudster was held for hacking the phone of Kannada actor Upendra.") == []
    assert names(rec.detect("", "The TA4903 actor sent invoice lures in a phishing campaign.")) == {"TA4903"}


def test_a_list_of_names_after_a_plural_group_noun_are_gangs_and_crowd_the_headline(rec: ActorRecognizer) -> None:
    title = "New Loader Malware Linked to Major Ransomware Gangs LockBit, BlackBasta, and Qilin"
    text = "Researchers found a new loader used by ransomware groups as an initial access broker."
    hits = rec.detect(title, text)
    assert ids(hits) == {"lockbit", "black-basta", "qilin"}
    assert primary_actor(title, text, hits) is None  # a headline naming three is about none of them
    assert rec.detect("Russian Military Cyber Actors Target U.S. and Global Critical Infrastructure",
                      "A joint advisory on cyber threats.") == []
