"""Actor recognition: grouping, precision guards, learned links, and the `actors` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli.actors import actors
from digest.config import load_config
from digest.context import AppContext
from digest.intel.actors.recognize import ActorRecognizer
from digest.models import Alias, AliasLink

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seed" / "concise-cyber-jewelbug.txt"
SEED_TITLE = "Chinese Threat Group Jewelbug Breached Russian IT Firm for Five Months"


@pytest.fixture(scope="module")
def rec() -> ActorRecognizer:
    return ActorRecognizer.default()


def ids(hits) -> list[str]:
    return [h.id for h in hits]


def seed_text() -> str:
    if not SEED.is_file():
        pytest.skip("../shared/seed/concise-cyber-jewelbug.txt not present")
    return SEED.read_text(encoding="utf-8")


def test_seed_groups_four_names_into_one_actor(rec: ActorRecognizer) -> None:
    hits = rec.detect(SEED_TITLE, seed_text())
    assert len(hits) == 1
    [hit] = hits
    assert hit.name == "Jewelbug"
    assert set(hit.mentions) == {"Jewelbug", "CL-STA-0049", "Earth Alux", "REF7707"}
    vendors = {a.name: a.vendor for a in hit.aliases}
    assert vendors["Jewelbug"] == "Symantec"
    assert vendors["CL-STA-0049"] == "Palo Alto Networks Unit 42"
    assert vendors["Earth Alux"] == "Trend Micro"
    assert vendors["REF7707"] == "Elastic Security Labs"
    assert hit.country == "China"
    for vendor in ("Palo Alto Networks", "Trend Micro", "Symantec"):
        assert vendor not in hit.mentions


@pytest.mark.parametrize("title", [
    "UPS warns of delivery phishing",
    "Attackers deploy Cobalt Strike beacons on exposed servers",
    "Storm Ciarán hits Ireland",
    "Nitro PDF update fixes crash",
    "Alibaba Cloud outage disrupts services",
    "Palo Alto Networks, Trend Micro and Symantec publish joint report",
    "Mercury levels rise in tuna; zinc and gallium prices up",
    "Activision Blizzard delays new game",
    "Winter Blizzard shuts highways",
    "Giant Panda cubs born at Berlin zoo",
    "Earth Day events draw record crowds",
    "Kids play outside as schools reopen",
    "Google removes apps from the Play Store",
])
def test_traps_acquire_no_actor(rec: ActorRecognizer, title: str) -> None:
    assert rec.detect(title, "") == []


def test_ordinary_word_names_need_a_cue(rec: ActorRecognizer) -> None:
    assert ids(rec.detect("Play ransomware gang hits city", "")) == ["play"]
    assert ids(rec.detect("The MERCURY group, an Iranian APT, hit Israel", "")) == ["muddywater"]
    assert ids(rec.detect("Nitro group returns", "The Nitro hackers targeted chemical firms.")) == ["nitro"]


def test_midnight_blizzard_is_apt29(rec: ActorRecognizer) -> None:
    a = rec.detect("Midnight Blizzard read executives' mail", "")
    b = rec.detect("APT29 phishing hits diplomats", "")
    assert ids(a) == ids(b) == ["apt29"]
    assert a[0].mentions == ("Midnight Blizzard",) and b[0].mentions == ("APT29",)
    assert a[0].country == "Russia"
    assert Alias("Midnight Blizzard", "Microsoft") in a[0].aliases


def test_grizzly_steppe_does_not_merge_apt28_and_apt29(rec: ActorRecognizer) -> None:
    hits = rec.detect("Grizzly Steppe report", "The report on Grizzly Steppe names both APT28 and APT29.")
    assert sorted(ids(hits)) == ["apt28", "apt29"]
    assert rec.detect("Grizzly Steppe", "An old codename.") == []  # unresolved ambiguity: nothing


def test_new_names_follow_vendor_conventions(rec: ActorRecognizer) -> None:
    [hit] = rec.detect("New Storm-2199 group hits NGOs", "Microsoft said the hackers harvested credentials.")
    assert hit.id == "storm-2199" and hit.aliases == (Alias("Storm-2199", "Microsoft"),)
    [hit] = rec.detect("Glimmer Typhoon hackers breach ISP", "Microsoft said the espionage group is new.")
    assert hit.name == "Glimmer Typhoon" and hit.country == "China"


def test_learn_links_patterns(rec: ActorRecognizer) -> None:
    text = ("Microsoft said Forest Blizzard, also known as Fancy Bear, was behind it. "
            "The gang Sneaky Ferret (aka Quiet Otter) hit banks. "
            "The activity was tied to Rusty Heron, which Microsoft calls Opal Sleet. "
            "The crew, formerly tracked as Dusty Gecko, returned. "
            "Pallid Ibis overlaps with Wan Heron, researchers said.")
    links = rec.learn_links(text, "doc-1")
    pairs = {(link.name_a, link.name_b, link.relation) for link in links}
    assert ("Forest Blizzard", "Fancy Bear", "same") in pairs
    assert ("Sneaky Ferret", "Quiet Otter", "same") in pairs
    assert ("Rusty Heron", "Opal Sleet", "same") in pairs
    assert ("Pallid Ibis", "Wan Heron", "overlaps") in pairs
    calls = next(link for link in links if link.name_b == "Opal Sleet")
    assert calls.vendor == "Microsoft" and calls.source_id == "doc-1"
    assert calls.sentence.startswith("The activity was tied to Rusty Heron")


def test_tracked_as_by_vendor(rec: ActorRecognizer) -> None:
    links = rec.learn_links("Okapi Lynx, tracked as UNC6111 by Mandiant, hit telecoms.")
    assert [(x.name_a, x.name_b, x.vendor) for x in links] == [("Okapi Lynx", "UNC6111", "Mandiant")]


def test_learned_links_persist_across_calls(rec: ActorRecognizer) -> None:
    links = rec.learn_links(seed_text(), "seed")
    assert links and all(link.source_id == "seed" and link.sentence for link in links)
    later = rec.detect("Earth Alux targets telecoms", "Trend Micro said the Earth Alux group hit telecoms.", links)
    assert ids(later) == ["jewelbug"]
    assert later[0].mentions == ("Earth Alux",)
    alone = rec.detect("Earth Alux targets telecoms", "Trend Micro said the Earth Alux group hit telecoms.")
    assert ids(alone) == ["earth-alux"]


def test_overlaps_is_weaker_than_same(rec: ActorRecognizer) -> None:
    overlap = [AliasLink("APT28", "APT29", "overlaps")]
    assert len(rec.detect("APT28 and APT29", "Both hit the ministry.", overlap)) == 2
    same = [AliasLink("Quiet Heron", "APT29", "same")]
    [hit] = rec.detect("Quiet Heron hackers", "The Quiet Heron group and APT29 struck.", same)
    assert hit.id == "apt29" and set(hit.mentions) == {"Quiet Heron", "APT29"}


def test_batch_links_apply_to_all_documents(rec: ActorRecognizer) -> None:
    docs = [
        ("1", "Velvet Okapi hackers hit banks", "The group Velvet Okapi stole card data."),
        ("2", "Report", "Velvet Okapi, also known as UNC6999, used new malware."),
        ("3", "UNC6999 returns", "Mandiant said UNC6999 struck again."),
    ]
    out = rec.detect_batch(docs)
    assert ids(out["1"]) == ids(out["3"]) == ids(out["2"]) and len(out["1"]) == 1


def test_lookup(rec: ActorRecognizer) -> None:
    hit = rec.lookup("Cozy Bear")
    assert hit is not None and hit.id == "apt29" and hit.country == "Russia"
    assert rec.lookup("Definitely Not An Actor") is None


# ---------------------------------------------------------------------------- CLI


@pytest.fixture()
def app(tmp_path: Path) -> AppContext:
    cfg = load_config(None, env={}, root=tmp_path)
    return AppContext(cfg)


def test_detect_cli_contract(app: AppContext) -> None:
    lines = [
        json.dumps({"id": "a", "title": SEED_TITLE, "text": seed_text()}),
        "{not json",
        json.dumps({"id": "b", "title": "Earth Alux strikes again", "text": "Trend Micro said Earth Alux hit telecoms."}),
        json.dumps({"id": "c", "title": "UPS warns of delivery phishing", "text": ""}),
    ]
    result = CliRunner().invoke(actors, ["detect", "-"], input="\n".join(lines) + "\n", obj=app)
    assert "line 2" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c"]
    [a], [b] = out[0]["actors"], out[1]["actors"]
    assert a["id"] == b["id"]  # the link stated in "a" applies to "b" in the same batch
    assert set(a["mentions"]) == {"Jewelbug", "CL-STA-0049", "Earth Alux", "REF7707"}
    assert b["mentions"] == ["Earth Alux"]
    assert {"name": "REF7707", "vendor": "Elastic Security Labs"} in a["aliases"]
    assert a["country"] == "China"
    assert out[2]["actors"] == []


def test_detect_cli_reads_file(app: AppContext, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 7, "title": "APT29 phishing", "text": ""}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(actors, ["detect", str(src)], obj=app)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["actors"][0]["id"] == "apt29"


def test_show_cli(app: AppContext) -> None:
    result = CliRunner().invoke(actors, ["show", "Midnight Blizzard"], obj=app)
    assert result.exit_code == 0, result.output
    assert "APT29" in result.output and "Russia" in result.output
    assert "Midnight Blizzard (Microsoft)" in result.output
    bad = CliRunner().invoke(actors, ["show", "Nobody At All"], obj=app)
    assert bad.exit_code != 0 and "no actor" in bad.output


def test_show_lists_stored_articles_newest_first_with_dates(app: AppContext) -> None:
    from datetime import UTC, datetime

    from digest.store import Article, ArticleActor, Feed

    store = app.open_store()
    hit = ActorRecognizer.default().lookup("APT29")
    assert hit is not None
    with store.session() as s:
        feed = Feed(url="https://news.example/feed.xml")
        s.add(feed)
        s.flush()
        store.upsert_actors(s, [hit])
        for day, title in ((3, "Cozy Bear phishes diplomats"), (9, "Midnight Blizzard hits a cloud provider")):
            art = Article(feed_id=feed.id, guid=title, url=f"https://news.example/{day}", title=title,
                          published_at=datetime(2026, 11, day, tzinfo=UTC), content_hash=title)
            s.add(art)
            s.flush()
            s.add(ArticleActor(article_id=art.id, actor_id=hit.id, mentions=["APT29"]))
    out = CliRunner().invoke(actors, ["show", "Cozy Bear"], obj=app).output
    assert "2026-11-09  Midnight Blizzard hits a cloud provider  https://news.example/9" in out
    assert out.index("2026-11-09") < out.index("2026-11-03  Cozy Bear phishes diplomats")


def _update_kb(app: AppContext, path: Path, data: object):  # type: ignore[no-untyped-def]
    """Write ``data`` as JSON to ``path`` and run ``digest actors update-kb`` on it."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return CliRunner().invoke(actors, ["update-kb", str(path)], obj=app)


def test_update_kb_cli(app: AppContext, tmp_path: Path) -> None:
    galaxy = {"type": "threat-actor", "version": 4242, "values": [
        {"value": "Zorblax Team", "uuid": "x", "meta": {"synonyms": ["Quixotic Heron"]}}]}
    result = _update_kb(app, tmp_path / "ta.json", galaxy)
    assert result.exit_code == 0, result.output
    assert "4242" in result.output
    kb_dir = app.config.path("var/kb")
    assert json.loads((kb_dir / "versions.json").read_text())["threat-actor"]["version"] == 4242
    assert ActorRecognizer.default(kb_dir).lookup("Quixotic Heron").name == "Zorblax Team"
    refused = _update_kb(app, tmp_path / "bad.json", {"values": []})
    assert refused.exit_code != 0 and "not a MISP galaxy" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_names_in_group_context(rec: ActorRecognizer) -> None:
    text = ("The malware was used by the Lazarous group against banks. "
            "Researchers attribute the intrusions to the threat actor HydroJiin. "
            "The phishing wave resembles attacks by ransomware groups such as SamSam and Dharma. "
            "The Trickbot group tag was found in the config. It is applicable to the Everyone group.")
    found = {m for h in rec.detect("", text) for m in h.mentions}
    assert {"Lazarous", "HydroJiin", "SamSam", "Dharma"} <= found
    assert "Trickbot" not in found and "Everyone" not in found


def test_context_names_keep_precision(rec: ActorRecognizer) -> None:
    for text in ("Many groups exploited the flaw, the malware report said. Some actors used phishing.",
                 "The BazaLoader threat actors used call centers to spread the malware.",
                 "Another actor Intel 471 had been tracking sold access to a hacked network.",
                 "The Chinese group and the Russian gang both exploited the VPN vulnerability.",
                 "Researchers said the \"Predator the Thief\" cybercriminal group is behind the stealer."):
        assert rec.detect("", text) == [], text


def test_cues_past_punctuation(rec: ActorRecognizer) -> None:
    text = ("FireEye reported on one of the most active threat groups; Leviathan, also known as TEMP.Periscope. "
            "Leviathan uses web shells.")
    assert "Leviathan" in {m for h in rec.detect("", text) for m in h.mentions}


def test_no_link_from_a_non_actor_phrase(rec: ActorRecognizer) -> None:
    text = ("APT40 hacked shipping firms. China built a maritime route known as OBOR. "
            "CDO,\u00a0previously known as OLE Messaging, is an application programming interface. "
            "The IP address belongs to Alibaba Cloud aka Aliyun.")
    found = {m for h in rec.detect("", text) for m in h.mentions}
    assert found == {"APT40"}


def test_mitre_tactic_ids_are_not_proofpoint_actors() -> None:
    """CISA advisories cite ATT&CK tactics (TA0001 Initial Access, TA0010 Exfiltration): never actors."""
    from digest.intel.actors.recognize import ActorRecognizer

    r = ActorRecognizer.default()
    text = ("The actors used Initial Access [TA0001] and Exfiltration [TA0010] techniques. Separately, the "
            "threat actor TA577 and the group TA505 sent malicious attachments.")
    names = {m for h in r.detect("Advisory", text) for m in h.mentions}
    assert "TA0001" not in names and "TA0010" not in names
    assert {"TA577", "TA505"} <= names


def test_another_actor_tracked_as_is_not_an_alias_of_the_topic() -> None:
    from digest.intel.actors.recognize import ActorRecognizer

    r = ActorRecognizer.default()
    text = ("Microsoft observed Linen Typhoon and Violet Typhoon exploiting the SharePoint flaws. In addition, we "
            "have observed another China-based threat actor, tracked as Storm-2603, exploiting these "
            "vulnerabilities to deploy ransomware.")
    assert not [lk for lk in r.learn_links(text) if "Storm-2603" in (lk.name_a, lk.name_b)]
    hits = r.detect("SharePoint", text)
    storm = [h for h in hits if "Storm-2603" in h.mentions]
    linen = [h for h in hits if "Linen Typhoon" in h.mentions]
    assert storm and linen and storm[0].id != linen[0].id


def test_a_heading_name_described_as_tracked_by_a_vendor_is_not_linked_to_the_topic() -> None:
    from digest.intel.actors.recognize import ActorRecognizer

    r = ActorRecognizer.default()
    text = ("Microsoft observed Linen Typhoon exploiting the SharePoint flaws against government targets. "
            "Linen Typhoon has stolen intellectual property since 2012. Storm-2603 deployed Warlock ransomware. "
            "Storm-2603 The group that Microsoft tracks as Storm-2603 is assessed to be a China-based threat actor.")
    assert not [lk for lk in r.learn_links(text) if "Storm-2603" in (lk.name_a, lk.name_b)]


def test_update_kb_with_microsofts_name_map(app: AppContext, tmp_path: Path) -> None:
    """Microsoft's actor-name map joins the actors it names; unknown bare words never become names."""
    before = ActorRecognizer.default(None)
    assert before.lookup("Quartz Typhoon").id != before.lookup("APT19").id  # a name the convention knows, alone
    assert before.lookup("ToddyCat").id != before.lookup("APT19").id
    rows = [{"Threat actor name": "Quartz Typhoon", "Origin/Threat": "China, espionage",
             "Other names": "APT19, ToddyCat, Storm-9876, Harbor"}]
    result = _update_kb(app, tmp_path / "MicrosoftMapping.json", rows)
    assert result.exit_code == 0, result.output
    assert "1 actors" in result.output
    kb_dir = app.config.path("var/kb")
    assert json.loads((kb_dir / "versions.json").read_text())["microsoft-mapping"]["actors"] == 1
    rec = ActorRecognizer.default(kb_dir)
    hit = rec.lookup("Quartz Typhoon")
    assert hit is not None and hit.id == rec.lookup("APT19").id == rec.lookup("ToddyCat").id
    names = {a.name: a.vendor for a in hit.aliases}
    assert names.get("Storm-9876") == "Microsoft"  # a name a vendor convention vouches for is added
    assert "Harbor" not in names  # a bare word from the list is not
    assert rec.detect("UPS raises prices", "UPS said parcel prices rise next year.") == []
    assert [h.id for h in rec.detect("", "Quartz Typhoon hackers breached a telecom.")] == [hit.id]


def test_update_kb_refuses_a_broken_name_map(app: AppContext, tmp_path: Path) -> None:
    refused = _update_kb(app, tmp_path / "map.json", [{"Other names": "APT1"}])
    assert refused.exit_code != 0 and 'no "Threat actor name"' in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_every_name_in_an_alias_list_is_a_mention(rec: ActorRecognizer) -> None:
    text = ("A new APT28 (aka Sofacy, Sednit, Fancy Bear, STRONTIUM, etc.) campaign targets governments. "
            "Separately, the Sednit malware family was updated.")
    hits = rec.detect("", text)
    assert len(hits) == 1
    assert {"APT28", "Sofacy", "Sednit", "Fancy Bear", "STRONTIUM"} <= set(hits[0].mentions)
    # without the alias list, a name that is also a malware family needs a group cue
    assert rec.detect("", "Researchers found a new Sednit sample on the server.") == []


def test_learns_every_name_of_an_alias_list(rec: ActorRecognizer) -> None:
    links = rec.learn_links("The group Sneaky Ferret, also known as Puffy Owl, Stinky Badger or UNC9999, hit banks.")
    assert {(x.name_a, x.name_b) for x in links} == {("Sneaky Ferret", "Puffy Owl"), ("Sneaky Ferret", "Stinky Badger"),
                                                   ("Sneaky Ferret", "UNC9999")}
    [hit] = rec.detect("", "Stinky Badger hackers struck again, the group's third campaign.", links)
    assert hit.name == "Sneaky Ferret"
    # a list item is a name only where it ends (", Chinese officials denied" is no name)
    links = rec.learn_links("Volt Typhoon, also known as Bronze Silhouette, Chinese officials denied the hacking group.")
    assert [(x.name_a, x.name_b) for x in links] == [("Volt Typhoon", "Bronze Silhouette")]
    # and the list must be about actors ("CDO, previously known as OLE Messaging or Active Messaging, is an API")
    assert not rec.learn_links("CDO, previously known as OLE Messaging or Active Messaging, is an interface.")


@pytest.mark.parametrize(("title", "text"), [
    # a verb in a title-case headline is no actor, though the galaxy lists "Moonlight" (Molerats)
    ("Dark Web Hackers Moonlight as Travel Agents", "Hackers are using stolen cards to book travel for clients."),
    # a generic word beside a group word is no name
    ("Web shells", "Web shell used by threat actors Actors have also modified the file name in many ways."),
    # "X actors" are the users of X when the document calls X malware
    ("Threat Actors Deploy LummaC2 Malware",
     "Obfuscation lets LummaC2 actors bypass defenses. LummaC2 malware steals browser data."),
])
def test_real_feed_traps(rec: ActorRecognizer, title: str, text: str) -> None:
    assert rec.detect(title, text) == []


def test_ordinary_word_names_in_headlines_need_a_cue_after_them(rec: ActorRecognizer) -> None:
    [hit] = rec.detect("Patchwork Hackers Target Pakistani Officials With New Backdoor", "Lures went to officials.")
    assert "Patchwork" in hit.mentions
    [hit] = rec.detect("New campaign", "The Foo Bar actors hit a school; Foo Bar is a new extortion crew.")
    assert hit.name == "Foo Bar"  # an unknown name before "actors" is still a group when nothing says malware


def test_a_name_ending_in_a_bracket_keeps_it(rec: ActorRecognizer) -> None:
    [hit] = rec.detect("Europol Disrupts NoName057(16) Hacktivist Group", "The NoName057(16) group ran DDoS attacks.")
    assert hit.mentions == ("NoName057(16)",)


def test_a_convention_that_encodes_a_motive_fills_it_in(rec: ActorRecognizer) -> None:
    assert rec.conv.motive_of("Octo Tempest") == "Financial"  # Microsoft: Tempest = financially motivated
    assert rec.conv.motive_of("Wizard Spider") == "Financial"  # CrowdStrike: Spider = eCrime
    assert rec.conv.motive_of("Volt Typhoon") == ""  # Typhoon encodes an origin (China), not a motive
    [hit] = rec.detect("Octo Tempest hackers hit airlines", "")
    assert hit.name == "Scattered Spider" and hit.motivation == "Financial"


def test_stored_links_are_prepared_once_and_grow_with_the_list(rec: ActorRecognizer) -> None:
    """A worker passes one growing list of links for every article: same answers, no rebuild."""
    links = [AliasLink(f"Velvet Okapi{i}", f"UNC{7000 + i}", "same") for i in range(300)]
    links.append(AliasLink("Sneaky Ferret", "Puffy Owl", "same"))
    text = "The Puffy Owl group and the Velvet Okapi12 crew hit banks; UNC7012 was named too."
    first = rec.detect("", text, links)
    chunks = list(rec._local.prepared.chunks)
    again = rec.detect("", text, links)
    assert again == first and rec._local.prepared.chunks == chunks  # the learned-name automata are reused
    assert {h.name for h in first} == {"Sneaky Ferret", "Velvet Okapi12"}
    links.append(AliasLink("Puffy Owl", "Stinky Badger", "same"))  # the list grows: only the tail is added
    grown = rec.detect("", "Stinky Badger hackers returned.", links)
    fresh = rec.detect("", "Stinky Badger hackers returned.", list(links))  # a new list: built from scratch
    assert grown == fresh and len(grown) == 1
    assert {"Sneaky Ferret", "Puffy Owl", "Stinky Badger"} <= {a.name for a in grown[0].aliases}


def test_a_family_name_written_in_capitals_is_still_the_vendors(rec: ActorRecognizer) -> None:
    assert rec.conv.vendor_of("HAZY TIGER") == "CrowdStrike" and rec.conv.origin_of("HAZY TIGER") == "India"
    assert rec.conv.motive_of("WIZARD SPIDER") == "Financial"
    assert rec.conv.vendor_of("BRONZE UNION") == "Secureworks"  # an upper-case prefix convention first
    [hit] = rec.detect("Bitter APT hackers target Pakistan", "")
    assert Alias("HAZY TIGER", "CrowdStrike") in hit.aliases  # who calls it what, for the aka line


NAMING_SENTENCES = (
    "The threat group Quiet Otter, also known as Grey Mantis, hit ports.",
    "The threat group Velvet Heron, referred to as Storm-9901 by Microsoft, hit banks.",
    "The threat group Amber Crane aka Dusty Gecko hit banks.",
    "The threat group Amber Crane a.k.a. Dusty Gecko hit banks.",
    "The threat group Amber Crane, which Microsoft calls Opal Sleet, hit banks.",
    "The threat group Amber Crane, which Mandiant tracks as UNC7777, hit banks.",
    "The threat group Amber Crane overlaps with Wan Heron, researchers said.",
    "The threat group Amber Crane is the same actor as Dusty Gecko.",
    "The threat group, dubbed Rusty Heron, hit banks.",
    "The threat group, named Salt Lynx, hit banks.",
    "The threat group Salt Lynx, rebranded as Pale Lynx, hit banks.",
    "The threat group Salt Lynx, renamed to Ash Lynx, hit banks.",
    "The threat group called Grey Finch hit banks; the group also hit Amber Crane again.",
)


def test_sentences_without_a_naming_word_are_not_searched_and_nothing_changes(
        rec: ActorRecognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.intel.actors import learn

    def read() -> list[object]:
        return [(rec.learn_links(s, "d"), rec.detect("Report", s)) for s in NAMING_SENTENCES]

    fast = read()
    monkeypatch.setattr(learn, "_NAMING_LITERALS", ("",))  # every sentence searched
    assert read() == fast
    assert any(links for links, _hits in fast)
