"""Which actor a story is about: negated, hedged, background and related-links mentions are incidental."""

from __future__ import annotations

import pytest

from digest.intel.actors.recognize import ActorRecognizer
from digest.intel.actors.salience import primary_actor, rank_actors


@pytest.fixture(scope="module")
def rec() -> ActorRecognizer:
    return ActorRecognizer.default()


def roles(rec: ActorRecognizer, title: str, text: str) -> dict[str, tuple[bool, bool]]:
    hits = rec.detect(title, text)
    return {r.actor.id: (r.primary, r.incidental) for r in rank_actors(title, text, hits)}


def test_a_negated_mention_is_incidental(rec: ActorRecognizer) -> None:
    text = ("A new wiper hit grain exporters in Odesa this week. Investigators found no technical overlap with "
            "Sandworm, and the wiper's code is unlike anything seen before.")
    r = roles(rec, "New wiper hits grain exporters", text)
    assert r == {"sandworm": (False, True)}


def test_a_hedged_culprit_is_incidental(rec: ActorRecognizer) -> None:
    text = ("A county's courts have been offline for a week after a cyberattack. Nobody has claimed it; one "
            "potential culprit is LockBit, an analyst said, but the county would not comment.")
    r = roles(rec, "County courts offline after cyberattack", text)
    assert r["lockbit"] == (False, True)
    assert primary_actor("County courts offline after cyberattack", text, rec.detect("", text)) is None


def test_likely_links_to_a_gang_do_not_make_it_the_subject(rec: ActorRecognizer) -> None:
    text = ("A threat actor with likely links to the Akira ransomware group is exploiting a zero-day in "
            "fully patched firewalls to plant a backdoor.")
    assert roles(rec, "Patched firewalls under zero-day attack", text)["akira"] == (False, True)


def test_related_coverage_links_at_the_end_are_incidental(rec: ActorRecognizer) -> None:
    body = ("The agency said the flaw in the billing portal let attackers read invoices of 40,000 customers. "
            "It has been patched, and customers were told to watch for phishing. " * 6)
    text = body + "\nRelated coverage\nAPT29 returns with new phishing lures\nLazarus Group steals crypto again\n"
    r = roles(rec, "Billing portal flaw exposed invoices", text)
    assert r and all(v == (False, True) for v in r.values())


def test_the_headline_actor_is_primary_over_one_in_the_background(rec: ActorRecognizer) -> None:
    title = "APT29 targets diplomats with wine-tasting lures"
    text = ("APT29 sent diplomats invitations to a wine tasting that installed a backdoor. The lures are similar "
            "to those used by Turla in 2022, researchers said. APT29 has used the theme before.")
    r = roles(rec, title, text)
    assert r["apt29"] == (True, False)
    assert r["turla"] == (False, True)


def test_a_long_story_naming_an_actor_once_in_passing_does_not_file_under_it(rec: ActorRecognizer) -> None:
    body = ("Fast flux hides malicious servers behind rapidly changing DNS records. Defenders should watch for "
            "domains whose records change every few minutes. ") * 10
    text = body + "Gamaredon uses the technique too. " + body
    r = roles(rec, "Fast flux is a national security threat", text)
    assert r["gamaredon-group"] == (False, True)


def test_a_headline_listing_three_gangs_is_filed_under_none(rec: ActorRecognizer) -> None:
    title = "New loader linked to the LockBit, Black Basta and Qilin ransomware gangs"
    text = "A new loader has been used by affiliates of several ransomware gangs, researchers said."
    hits = rec.detect(title, text)
    assert len(hits) >= 3
    assert primary_actor(title, text, hits) is None


def test_the_subject_of_the_lede_is_primary_and_an_example_list_is_background(rec: ActorRecognizer) -> None:
    text = ("State-sponsored actors, such as APT40, keep targeting the country, the annual threat report says; "
            "incident numbers rose 11%.")
    assert roles(rec, "Annual cyber threat report: incidents up 11%", text)["apt40"] == (False, True)


def test_the_actor_that_claimed_the_attack_is_primary_even_deep_in_a_long_story(rec: ActorRecognizer) -> None:
    body = ("The agency said records of millions of residents may have been exposed, and that it is working "
            "with investigators to find out how the intruders got in. ") * 8
    text = body + "A group called Datacarry has claimed responsibility for the cyberattack. " + body
    hits = rec.detect("Agency confirms data breach", text)
    p = primary_actor("Agency confirms data breach", text, hits)
    assert p is not None and "Datacarry" in p.mentions


def test_a_culprit_that_could_be_involved_is_hedged(rec: ActorRecognizer) -> None:
    text = ("The founder of an exchange says he may be under attack, and he speculates that the North Korean "
            "hacking group, Lazarus, could be involved.")
    assert roles(rec, "Exchange founder targeted in hacking attempt", text)["lazarus-group"] == (False, True)


def test_similarities_to_another_gangs_attacks_are_background(rec: ActorRecognizer) -> None:
    text = ("The company was hit by a social engineering campaign that bears similarities to a recent wave of "
            "attacks by extortion group ShinyHunters.")
    assert roles(rec, "Company hit by data breach", text)["shinyhunters"] == (False, True)


def test_a_rumoured_victim_does_not_hedge_the_group_that_claims_it(rec: ActorRecognizer) -> None:
    text = ("A games company is rumoured to be the latest target of the hacker group Crimson Collective, which "
            "shared screenshots of folders it says it stole.")
    assert roles(rec, "Games company reportedly hacked", text)["crimson-collective"] == (True, False)


def test_a_list_that_counts_the_subject_s_members_names_who_did_it(rec: ActorRecognizer) -> None:
    title = "Ransomware crews announce mass retirement"
    text = "Fifteen ransomware gangs, including Scattered Spider and Lapsus$, have announced their retirement."
    p = primary_actor(title, text, rec.detect(title, text))
    assert p is not None and p.id == "scattered-spider"
    generic = "Ransomware groups, such as Scattered Spider, keep targeting retailers, the annual report says."
    assert primary_actor("Annual threat report", generic, rec.detect("Annual threat report", generic)) is None
