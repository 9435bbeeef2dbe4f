"""Issue 13: alias hygiene, false actors and merged operations, each from a sentence written here."""

from __future__ import annotations

import pytest

from digest.intel.actors import ActorRecognizer


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
