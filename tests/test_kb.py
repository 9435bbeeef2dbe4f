"""The threat-actor knowledge base built from the galaxies shipped in pymispgalaxies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.intel.actors.kb import KnowledgeBase, name_keys, norm, slug, validate_galaxy
from digest.intel.actors.vendors import conventions

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.build()


def test_norm_and_keys() -> None:
    assert norm("CL-STA-0049") == "cl sta 0049"
    assert name_keys("APT29") == {"apt29", "apt 29"}
    assert name_keys("APT 29") == {"apt29", "apt 29"}
    assert slug("Midnight Blizzard") == "midnight-blizzard"


def test_synonyms_map_to_one_canonical_actor(kb: KnowledgeBase) -> None:
    ids = {a.id for n in ("APT29", "Midnight Blizzard", "Cozy Bear", "NOBELIUM", "UNC2452") for a in kb.candidates(n)}
    assert ids == {"apt29"}
    assert kb.get("apt29").country == "Russia"


def test_ambiguous_name_is_kept_under_both_actors(kb: KnowledgeBase) -> None:
    ids = {a.id for a in kb.candidates("Grizzly Steppe")}
    assert ids == {"apt28", "apt29"}  # listed under both, merged into neither
    assert kb.get("apt28") is not kb.get("apt29")


def test_ref7707_and_cl_sta_0049_are_one_actor(kb: KnowledgeBase) -> None:
    assert [a.id for a in kb.candidates("CL-STA-0049")] == [a.id for a in kb.candidates("REF7707")]


def test_ransomware_gangs_are_actors(kb: KnowledgeBase) -> None:
    assert [a.name for a in kb.candidates("LockBit")] == ["LockBit"]
    assert kb.candidates("ALPHV")[0].id == kb.candidates("BlackCat")[0].id


def test_aliases_carry_vendors(kb: KnowledgeBase) -> None:
    vendors = {a.name: a.vendor for a in kb.get("apt29").aliases}
    assert vendors["Midnight Blizzard"] == "Microsoft"
    assert vendors["IRON RITUAL"] == "Secureworks"
    assert vendors["UNC2452"] == "Mandiant"


def test_vendor_conventions() -> None:
    conv = conventions()
    assert conv.vendor_of("Volt Typhoon") == "Microsoft" and conv.origin_of("Volt Typhoon") == "China"
    assert conv.origin_of("Fancy Bear") == "Russia"
    assert conv.vendor_of("CL-STA-0049") == "Palo Alto Networks Unit 42"
    assert conv.vendor_of("Earth Alux") == "Trend Micro"
    assert conv.vendor_of("REF7707") == "Elastic Security Labs"
    assert conv.vendor_of("Jewelbug") == "Symantec"
    assert conv.vendor_of("UNC5221") == "Mandiant"
    assert conv.vendor_of("TA577") == "Proofpoint"
    assert conv.vendor_of("UAT-4356") == "Cisco Talos"
    assert conv.origin_of("BRONZE UNION") == "China"
    assert conv.vendor_of("Giant Panda") == "" and conv.vendor_of("Earth Day") == ""
    assert conv.vendor_of("Ladybug") == ""
    assert conv.vendor_named("Unit 42") == "Palo Alto Networks Unit 42"


def test_validate_galaxy() -> None:
    assert validate_galaxy({"values": [], "version": 3}) is None
    assert validate_galaxy({"values": []}) is not None
    assert validate_galaxy([1, 2]) is not None


def test_kb_dir_overrides_packaged_galaxy(tmp_path: Path) -> None:
    galaxy = {"type": "threat-actor", "version": 99999, "values": [
        {"value": "Zorblax Team", "uuid": "x", "meta": {"synonyms": ["Quixotic Heron"], "country": "FR"}}]}
    (tmp_path / "threat-actor.json").write_text(json.dumps(galaxy), encoding="utf-8")
    kb = KnowledgeBase.build(tmp_path)
    assert kb.versions["threat-actor"] == 99999
    [actor] = kb.candidates("Quixotic Heron")
    assert actor.name == "Zorblax Team" and actor.country == "France"


def test_newer_shared_galaxy_loads(tmp_path: Path) -> None:
    src = SHARED / "corpus" / "kb" / "threat-actor.json"
    if not src.is_file():
        pytest.skip("../shared/corpus/kb/threat-actor.json not present")
    (tmp_path / "threat-actor.json").write_bytes(src.read_bytes())
    kb = KnowledgeBase.build(tmp_path)
    assert kb.versions["threat-actor"] >= 349
    assert kb.candidates("APT29")
