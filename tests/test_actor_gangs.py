"""Issue 13, third pass: ransomware and extortion brands as the attacker, and names in cited titles;
each from a sentence written here."""

from __future__ import annotations

import pytest

from digest.intel.actors.recognize import ActorRecognizer
from digest.intel.actors.salience import primary_actor


@pytest.fixture(scope="module")
def rec() -> ActorRecognizer:
    return ActorRecognizer.default()


def ids(hits) -> set[str]:
    return {h.id for h in hits}


# ---------------------------------------------------------------- gang names that are also malware names


def test_a_gang_that_a_threat_actor_entry_also_lists_is_the_gang_before_ransomware(rec: ActorRecognizer) -> None:
    # Clop is in the threat-actor galaxy and the ransomware galaxy, and a malware name as well
    hits = rec.detect("City council hit by Clop ransomware attack", "Services were down for a week.")
    assert ids(hits) == {"clop"}
    assert primary_actor("City council hit by Clop ransomware attack", "Services were down for a week.",
                         hits).id == "clop"
    assert ids(rec.detect("", "A CL0P ransomware attack disrupted the clinic's records system.")) == {"clop"}


def test_a_gang_named_as_the_claimant_in_a_cyber_story_without_the_word_ransomware(rec: ActorRecognizer) -> None:
    text = "The airline said hackers stole staff records. The breach was claimed by Clop, which emailed executives."
    assert ids(rec.detect("Airline confirms data theft", text)) == {"clop"}
    extort = "Clop has listed the insurer on its site while extorting other customers of the vendor."
    assert ids(rec.detect("Insurer investigates", extort)) == {"clop"}


def test_a_malware_name_before_ransomware_outside_a_ransomware_story_is_still_no_gang(rec: ActorRecognizer) -> None:
    assert rec.detect("", "Engineers fixed the Clop river bridge after the storm.") == []


# ---------------------------------------------------------------- names in cited titles


def test_a_name_in_a_reference_entry_that_cites_an_article_title_is_no_mention(rec: ActorRecognizer) -> None:
    text = ("The loader spread through invoices.\n\nReferences\n\n"
            "May 2021 – [New phishing wave from NOBELIUM hits agencies](https://example.com/nobelium-wave)\n"
            "June 2021 – [TA2101 poses as a tax office again](https://example.com/ta2101)\n")
    assert rec.detect("", text) == []


def test_a_name_in_an_inline_link_or_in_the_body_is_still_a_mention(rec: ActorRecognizer) -> None:
    inline = "Crews like [groups such as TA2101](https://example.com/ta2101) send these lures to firms."
    assert ids(rec.detect("", inline)) == {"ta2101"}
    both = ("NOBELIUM sent the lures.\n\nMay 2021 – [New phishing wave from NOBELIUM hits agencies]"
            "(https://example.com/x)\n")
    assert ids(rec.detect("", both)) == {"apt29"}


def test_a_gang_named_by_its_act_in_a_title_case_headline(rec: ActorRecognizer) -> None:
    title = "Medusa Strikes Regional Hospital Network"
    hits = rec.detect(title, "The ransomware attack forced the hospital to divert ambulances.")
    assert ids(hits) == {"medusa"}
    assert rec.detect("Chaos Strikes Regional Hospital Network", "Storms cut power to the wards.") == []


# ---------------------------------------------------------------- gang names the galaxy writes as one word


def test_a_gang_the_galaxy_writes_as_one_lower_case_word_is_found_in_two_capitalised_words(
        rec: ActorRecognizer) -> None:
    hits = rec.detect("", "The World Leaks extortion group says it stole files from the maker.")
    assert [(h.id, h.name) for h in hits] == [("worldleaks", "World Leaks")]
    assert rec.detect("", "Readers of World Leaks magazine.") == []
    assert rec.detect("", "A ransomware gang posted the files on world leaks forums.") == []


# ---------------------------------------------------------------- a gang's own things and acts


@pytest.mark.parametrize("text", [
    "The college was among the victims of Clop's data theft campaign against file-transfer servers.",
    "The college appeared on Qilin’s leak site on Tuesday, the hacking story says.",
    "Clop-linked hackers stole student files from the college, officials said in a cyber notice.",
])
def test_a_gangs_possessions_name_the_gang_in_a_cyber_story(rec: ActorRecognizer, text: str) -> None:
    assert len(rec.detect("College confirms data theft", text)) == 1


def test_a_gang_that_exploited_or_stole_in_a_ransomware_story(rec: ActorRecognizer) -> None:
    text = "Qilin exploited a flaw in the firewall and stole 40 GB before the ransomware ran."
    assert ids(rec.detect("Council says systems restored", text)) == {"qilin"}


# ---------------------------------------------------------------- new names as the agent of a ransomware attack


@pytest.mark.parametrize("title,text", [
    ("Port hit by Quorvex ransomware", "Container traffic halted for days after the cyberattack."),
    ("Quorvex ransomware abuses smart contracts", "Researchers found the encryptor hides its servers."),
    ("New Quorvex ransomware targets hypervisors", "The strain encrypts virtual machines."),
])
def test_a_new_name_is_the_gang_when_its_ransomware_acts(rec: ActorRecognizer, title: str, text: str) -> None:
    assert [h.name for h in rec.detect(title, text)] == ["Quorvex"]


def test_a_victim_or_platform_before_ransomware_is_no_gang(rec: ActorRecognizer) -> None:
    text = "Servers were hit by Windows ransomware. Plants were hit by the Asahi ransomware attack."
    assert rec.detect("Brewer restores systems", text) == []


@pytest.mark.parametrize("title,text", [
    ("Carmaker hit by cyberattack", "Clop took responsibility for the incident on Friday."),
    ("Carmaker confirms hack", "Qilin is demanding $5 million for the stolen files."),
    ("Akira leaks data of carmaker", "The company said customer data was stolen."),
    ("Carmaker confirms data theft", "Researchers attributed the theft to Clop."),
])
def test_a_gang_named_by_its_act_in_a_story_about_a_hack_without_the_word_ransomware(
        rec: ActorRecognizer, title: str, text: str) -> None:
    assert len(rec.detect(title, text)) == 1


def test_an_ordinary_word_gang_in_a_title_case_headline_over_a_ransomware_story(rec: ActorRecognizer) -> None:
    assert ids(rec.detect("Akira Leaks Carmaker Files Online", "The ransomware gang posted 40 GB.")) == {"akira"}
    assert rec.detect("Akira Leaks Carmaker Files Online", "The anime studio's files leaked early.") == []


@pytest.mark.parametrize("text", [
    "A new ransomware strain dubbed Quorvex is abusing smart contracts to hide its servers.",
    "Ransomware called Quorvex hides its servers on a blockchain, researchers found.",
    "The Quorvex ransomware family hides its servers on a blockchain, researchers found.",
])
def test_a_ransomware_strain_named_in_research_is_a_brand(rec: ActorRecognizer, text: str) -> None:
    assert [h.name for h in rec.detect("Researchers warn of new ransomware", text)] == ["Quorvex"]


def test_a_comparison_is_no_strain_name(rec: ActorRecognizer) -> None:
    text = "A ransomware called WannaCry-like by some outlets spread through the network."
    assert rec.detect("Researchers warn of new ransomware", text) == []


# ---------------------------------------------------------------- words, places and victims that are no gang


@pytest.mark.parametrize("title,text", [
    ("Modern ransomware uses stolen credentials", "Defenders should rotate passwords."),
    ("Enterprise ransomware deploys wipers", "The report covers large firms."),
    ("Healthcare ransomware emerges as a threat", "Hospitals are easy targets, the report says."),
    ("Industrial ransomware returns", "Plants saw more attacks this year."),
    ("Targeted ransomware strikes again", "Attackers pick victims that can pay."),
    ("Data ransomware spreads", "Backups remain the best defence against the ransomware."),
    ("Mobile ransomware steals photos", "Phones locked by ransomware show a ransom note."),
    ("New York ransomware strikes", "City services were down after the ransomware attack."),
    ("New Zealand ransomware emerges", "Agencies warned of a ransomware wave."),
])
def test_an_adjective_or_place_before_ransomware_and_a_generic_verb_is_no_gang(
        rec: ActorRecognizer, title: str, text: str) -> None:
    assert rec.detect(title, text) == []


@pytest.mark.parametrize("text", [
    "The Rust ransomware family hides its servers, researchers found.",
    "The Python ransomware variant spreads through scripts, researchers found.",
    "The Java ransomware family encrypts shared drives, researchers found.",
    "The Golang ransomware variant targets hypervisors, researchers found.",
    "The store's tills were crippled by Christmas ransomware last year.",
])
def test_a_language_or_holiday_before_ransomware_is_no_strain(rec: ActorRecognizer, text: str) -> None:
    assert rec.detect("Researchers warn of new ransomware", text) == []


@pytest.mark.parametrize("title,text", [
    ("Band update", "Nova released a statement about the tour. Fans were hacked off by the delay."),
    ("Game studio news", "Play targets younger players with its new app. One account was hacked."),
    ("Airport delays", "Fog hits the airport again. Police found a stolen car near the gate."),
    ("Blog platform update", "Ghost released a new theme this week, with a life hack for editors."),
    ("Climbing season", "Everest's victims this year included two guides. Their gear was stolen."),
    ("Locksmith review", "Key's victims were left locked out. One said a bike was stolen."),
])
def test_an_ordinary_word_gang_in_a_story_that_only_says_stolen_or_hack_is_no_gang(
        rec: ActorRecognizer, title: str, text: str) -> None:
    assert rec.detect(title, text) == []


@pytest.mark.parametrize("text", [
    "Target Company said data was stolen in a ransomware attack.",
    "Off White said data was stolen in a ransomware attack.",
])
def test_a_victim_whose_name_splits_a_gang_name_is_no_gang(rec: ActorRecognizer, text: str) -> None:
    assert rec.detect("Retailer confirms breach", text) == []


@pytest.mark.parametrize("title", [
    "Automotive ransomware targets parts suppliers",
    "Dangerous ransomware hits clinics",
    "Financial ransomware claims another bank",
])
def test_an_adjective_before_ransomware_is_no_gang_even_with_a_gang_verb(rec: ActorRecognizer, title: str) -> None:
    assert rec.detect(title, "The report counts more attacks this year.") == []


def test_a_name_the_text_also_writes_in_lower_case_is_a_word(rec: ActorRecognizer) -> None:
    text = "The Quorvex ransomware family hides its servers. Its chaos spreads."
    assert [h.name for h in rec.detect("", text)] == ["Quorvex"]
    text = "The Carbonite ransomware family hides its servers. Old carbonite copies were safe."
    assert rec.detect("", text) == []


@pytest.mark.parametrize("text", [
    "Researchers tracked the Enterprise hacking group for months.",
    "The threat actor Python used phishing lures against banks.",
])
def test_a_common_word_or_language_beside_a_group_word_is_no_new_name(rec: ActorRecognizer, text: str) -> None:
    assert rec.detect("", text) == []


def test_new_and_a_capitalised_word_inside_a_sentence_is_a_place(rec: ActorRecognizer) -> None:
    assert rec.detect("", "Police say New Caledonia ransomware hit the port on Monday.") == []
    assert [h.name for h in rec.detect("", "Analysts say the new Quorvex ransomware hit the port.")] == ["Quorvex"]


@pytest.mark.parametrize("title", [
    "New Caledonia ransomware hits port",
    "Sweden ransomware targets firms",
    "Swedish ransomware targets firms",
    "Ohio ransomware targets firms",
    "Airline ransomware targets firms",
])
def test_a_country_language_state_or_sector_before_ransomware_is_no_gang(rec: ActorRecognizer, title: str) -> None:
    assert rec.detect(title, "The report counts more ransomware attacks.") == []
