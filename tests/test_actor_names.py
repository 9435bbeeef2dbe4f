"""Issue 13, second pass: short forms of names, names a headline introduces, each from a sentence written here."""

from __future__ import annotations

import pytest

from digest.intel.actors.recognize import ActorRecognizer
from digest.intel.actors.salience import rank_actors


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
