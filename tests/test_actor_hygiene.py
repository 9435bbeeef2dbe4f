"""Issue 13: alias hygiene, false actors and merged operations, each from a sentence written here."""

from __future__ import annotations

import pytest

from digest.intel.actors.recognize import ActorRecognizer


@pytest.fixture(scope="module")
def rec() -> ActorRecognizer:
    return ActorRecognizer.default()


def names(hits) -> set[str]:
    return {m for h in hits for m in h.mentions}


# ---------------------------------------------------------------- batch reading


def test_a_name_found_in_context_in_one_document_is_not_an_actor_in_the_next(rec: ActorRecognizer) -> None:
    docs = [("1", "Town hall attack tied to a ransomware group",
             "Bluebell reported that a ransomware group known as Brain Cipher was behind the attack."),
            ("2", "Bluebell opens a new office", "Bluebell, a florist, opened a shop in the high street.")]
    out = rec.detect_batch(docs)
    assert "Bluebell" not in names(out["1"]) and names(out["2"]) == set()


def test_a_group_word_ending_a_headline_does_not_name_the_first_word_of_the_text(rec: ActorRecognizer) -> None:
    hits = rec.detect("Retailer data at risk after it is targeted by hacking group",
                      "Marigold, which also owns two fashion brands, confirmed a breach.")
    assert hits == []


# ---------------------------------------------------------------- names a sentence calls groups


def test_one_group_word_after_a_list_of_names_covers_each(rec: ActorRecognizer) -> None:
    hits = rec.detect("", "The Akira and Lynx ransomware groups are going after managed service providers.")
    assert {"Akira", "Lynx"} <= names(hits)


def test_an_apposition_one_of_the_groups_is_a_group_cue(rec: ActorRecognizer) -> None:
    hits = rec.detect("", "Police seized servers of BlackSuit, one of the most active ransomware groups.")
    assert "BlackSuit" in names(hits)


# ---------------------------------------------------------------- class 1: what a link may bind


def _links(rec: ActorRecognizer, text: str) -> set[tuple[str, str]]:
    return {(x.name_a, x.name_b) for x in rec.learn_links(text, "t")}


def test_a_bug_called_by_a_name_is_not_an_alias_of_the_actor_exploiting_it(rec: ActorRecognizer) -> None:
    text = ("APT27 keeps busy. The group has exploited a chain of Exchange bugs known as ProxyLogon, "
            "and others tracked as ProxyShell.")
    assert _links(rec, text) == set()
    assert names(rec.detect("", text)) == {"APT27"}


def test_an_attack_known_by_its_victim_is_not_an_alias(rec: ActorRecognizer) -> None:
    text = ("Lazarus Group is back. It is the kind of supply-chain hack we saw with the breach known as "
            "SolarWinds, the researcher who tracks the group said.")
    assert _links(rec, text) == set()
    assert names(rec.detect("", text)) == {"Lazarus Group"}


def test_a_person_whose_surname_fits_a_vendor_convention_is_no_actor(rec: ActorRecognizer) -> None:
    text = ("The cyber fraudster, a man called Harold Leopard, was sentenced to six years for a phishing "
            "scheme that stole from hundreds of banks.")
    assert rec.detect("", text) == []


def test_which_tracks_the_same_actor_as_joins_two_vendors_names(rec: ActorRecognizer) -> None:
    text = "Proofpoint's UNK_SneakyFox, which tracks the same actor as Storm-9931, phished think tanks."
    assert ("UNK_SneakyFox", "Storm-9931") in _links(rec, text)
    [hit] = rec.detect("", text)
    assert {"UNK_SneakyFox", "Storm-9931"} <= set(hit.mentions)


def test_two_gangs_named_after_their_ransomware_are_linked_by_an_alias_statement(rec: ActorRecognizer) -> None:
    # Hive and Royal are ransomware families as well as gangs: the statement still joins them
    text = "Royal, also known as Hive according to the ransomware gang's leak site, hit hospitals."
    assert ("Royal", "Hive") in _links(rec, text)


def test_royal_rebranded_as_blacksuit_is_one_gang_under_blacksuit(rec: ActorRecognizer) -> None:
    [hit] = rec.detect("", "BlackSuit is also known as Royal, the ransomware gang behind attacks on hospitals.")
    assert hit.name == "BlackSuit" and set(hit.mentions) == {"BlackSuit", "Royal"}


# ---------------------------------------------------------------- class 4: one operation, one heading


def test_revil_is_the_heading_of_sodinokibi(rec: ActorRecognizer) -> None:
    assert rec.lookup("Sodinokibi").name == "REvil"


def test_trickbot_gang_wizard_spider_and_diavol_are_one_operation(rec: ActorRecognizer) -> None:
    ids = {rec.lookup(n).id for n in ("Wizard Spider", "Diavol")}
    ids |= {h.id for h in rec.detect("", "The TrickBot gang has returned with a new phishing wave.")}
    assert len(ids) == 1
    assert rec.detect("", "TrickBot malware was found on the laptop.") == []


def test_microsofts_name_for_lazarus_is_diamond_sleet(rec: ActorRecognizer) -> None:
    from digest.issue.compose import display_aliases

    ms = [a.name for a in display_aliases(rec.lookup("Lazarus Group")) if a.vendor == "Microsoft"]
    assert ms == ["Diamond Sleet"]


def test_hacktivists_are_marked_as_such_and_apt41_is_both(rec: ActorRecognizer) -> None:
    assert "Hacktivism" in rec.lookup("Cyber Partisans").motivation
    assert {"Espionage", "Financial"} <= {m.strip() for m in rec.lookup("APT41").motivation.split(",")}


# ---------------------------------------------------------------- class 3: words, products, furniture


@pytest.mark.parametrize("title,text", [
    ("", "The Orange group of companies said threat actors accessed its network; the ransomware gang is unknown."),
    ("", "Researchers tracked an eCrime gang selling ransomware access to hospitals."),
    ("", "The Malware-as-a-Service group sold loaders to threat actors."),
    ("", "The Jabber group was where the ransomware gang met its affiliates."),
    ("", "The WordPress threat actors planted skimmers on 500 shops, the ransomware researchers said."),
    ("", "McAfee said the ransomware operators encrypted 200 servers."),
    ("Attack claimed by the ransomware group", "Moreover, the report lists new domains used in the attacks."),
    ("Files posted by the hacking group", "Personally Identifiable Information of 20,000 patients was posted."),
    ("Schools hit by a hacking group", "Signal and WhatsApp are how tipsters reach our reporters about ransomware."),
    ("Schools hit by a ransomware gang", "Have a tip? Contact us via WhatsApp | Signal"),
    # a gang name that is an adjective: "ransomware" after it is no cue where it opens a sentence
    ("", "Global ransomware attacks rose by a fifth this year, the report on ransomware gangs says."),
    ("Global ransomware group claims responsibility for cyberattack on state office", ""),
    ("", "The ransomware report is out. Global ransomware payments fell, while gangs leaked more data."),
    # business groups and chat groups beside a group word
    ("Carmaker halts production", "The carmaker, owned by India's Tata group, halted production after hackers struck."),
    ("Brewer hit", "The Asahi group, Japan's biggest brewery, is running out of beer after the cyber attack."),
    ("Agency leak", 'Officers added a random person to a group called "Mass Text" and exposed data, hackers said.'),
])
def test_words_products_and_page_furniture_are_no_actors(rec: ActorRecognizer, title: str, text: str) -> None:
    assert rec.detect(title, text) == []


# ---------------------------------------------------------------- recall: names the sentence introduces


@pytest.mark.parametrize("text,name", [
    ("The group of hackers known as Quokka Crew hit banks with ransomware.", "Quokka Crew"),
    ("Proofpoint found phishing by a group it calls Sneaky Wombat, aimed at think tanks.", "Sneaky Wombat"),
    ("The malware came from a threat actor that Volexity tracks as Velvet Numbat, the firm said.", "Velvet Numbat"),
    ("Researchers saw a new espionage cluster which they dubbed Rusty Quokka targeting telecoms.", "Rusty Quokka"),
    ("Gallium, a Chinese state-sponsored group, hit telecoms again.", "Gallium"),
])
def test_a_name_the_sentence_calls_a_group_is_found(rec: ActorRecognizer, text: str, name: str) -> None:
    assert name in names(rec.detect("", text))


@pytest.mark.parametrize("title,text,name", [
    ("Quokka hospital hit", "Qilin ransomware claimed responsibility for the attack on the hospital.", "Qilin"),
    ("Pathology lab to notify patients", "The lab, hit by a Qilin ransomware attack in 2024, is notifying patients.",
     "Qilin"),
    ("BlackCat With a New Name? The Ransomware Group May Have Rebranded to Embargo", "", "Embargo"),
    ("University Confirms Cl0p Data Breach Tied to ERP Vulnerability", "", "Cl0p"),
    ("", "The hacktivist group identifying itself as Dark Storm claimed the DDoS attack.", "Dark Storm"),
    ("", "The breach was announced by a threat actor going by the alias ByteToBreach on a forum.", "ByteToBreach"),
    # a gang's spaced spelling, a slash pair, a gang the sentence makes the subject of a claim
    ("Luxury group confirms hack", "The data breach was linked to Shiny Hunters, who demanded a ransom.", "ShinyHunters"),
    ("Three charged", "They attacked victims with ALPHV/BlackCat ransomware while working as responders.", "BlackCat"),
    ("Office suite denies ransomware hacker claims", "Akira says it is about to leak gigabytes of data.", "Akira"),
    ("NHS supplier ends probe into ransomware attack", "The review of the Qilin intrusion is complete.", "Qilin"),
    ("Hospital data posted", "The ransomware attack was claimed by Akira on its leak site.", "Akira"),
    ("", "The GLOBAL GROUP ransomware gang claimed the attack on the clinic.", "GLOBAL"),
])
def test_gang_names_the_news_gives_are_found(rec: ActorRecognizer, title: str, text: str, name: str) -> None:
    hits = rec.detect(title, text)
    assert name in names(hits) | {h.name for h in hits}


def test_a_gang_name_that_is_a_word_in_a_title_case_headline_needs_a_cue_after_it(rec: ActorRecognizer) -> None:
    assert rec.detect("Airline Confirms Data Breach Linked to Global Cyberattack", "") == []


def test_a_gang_verb_counts_only_in_a_story_about_ransomware(rec: ActorRecognizer) -> None:
    # "Akira says" is a person speaking unless the story is about ransomware or extortion
    assert rec.detect("Film festival opens", "Akira says the jury has chosen ten films.") == []
    assert rec.detect("Director speaks", "The interview was carried out by Akira for the magazine.") == []


def test_a_new_name_ranked_among_hacking_crews_is_still_found(rec: ActorRecognizer) -> None:
    text = "Researchers said the Quokkafin group, China's top hacking crew, breached the ministry."
    assert "Quokkafin" in names(rec.detect("", text))


def test_a_path_with_a_slash_is_still_no_name(rec: ActorRecognizer) -> None:
    assert rec.detect("", "The ransomware sample sat at /srv/ALPHV/builds on the server.") == []


def test_a_name_with_punctuation_inside_is_matched_whole(rec: ActorRecognizer) -> None:
    hits = rec.detect("Car maker hackers as Scattered Lapsus$ Hunters issue a statement", "")
    assert [h.id for h in hits] == ["scattered-lapsus-hunters"]


def test_an_apposition_saying_what_a_name_is_keeps_it_out(rec: ActorRecognizer) -> None:
    text = ("The techniques used by the hackers link them to the Mabna Institute, an Iranian government "
            "contractor, researchers said.")
    assert "Mabna Institute" not in names(rec.detect("", text))


def test_a_malware_project_and_its_alias_are_no_actors(rec: ActorRecognizer) -> None:
    text = "Another malware project dubbed Project 420 aka Dolphin spied on phones, the threat actors' tool."
    assert rec.detect("", text) == [] and _links(rec, text) == set()
