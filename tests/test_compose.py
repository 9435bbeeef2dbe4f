"""Compose: stories by importance, filed under their primary actor or topic, pointers, top stories, updates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from issue_fixture import LINEN, VIOLET, composed_issue, record

from digest.issue.compose import ArticleRecord, compose_issue
from digest.models import ActorHit, Alias

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
JEWELBUG = ActorHit("jewelbug", "Jewelbug", (Alias("Earth Alux", "Trend Micro"),), ("Jewelbug",), "CN")
APT29 = ActorHit("apt29", "APT29", (Alias("Midnight Blizzard", "Microsoft"),), ("APT29",), "RU")
TOPICS = {"exploited": "Exploited Vulnerabilities", "ransomware": "Ransomware & Extortion", "other": "Other News"}


def rec(i: int, title: str, *, actors: tuple[ActorHit, ...] = (), topic: str = "other", source: str = "Wire",
        kind: str = "news", hours_ago: float = 2) -> ArticleRecord:
    t = NOW - timedelta(hours=hours_ago)
    return ArticleRecord(id=i, title=title, url=f"https://n.example/{i}", text="text " * (10 + i), summary=f"S{i}.",
                         source=source, source_kind=kind, published=t, fetched=t, topic=topic, actors=actors)


def by_groups(groups: list[list[int]]):  # type: ignore[no-untyped-def]
    def run(records: Sequence[ArticleRecord]) -> list[list[int]]:
        return groups
    return run


def test_without_judgments_actor_sections_and_topics_still_form_and_coverage_breaks_ties() -> None:
    """Articles stored before the editorial judgment: first actor found, stored topic, outlets as importance."""
    records = [rec(1, "APT29 phishes diplomats", actors=(APT29,)),
               rec(2, "Jewelbug in Russian IT firm", actors=(JEWELBUG,)),
               rec(3, "Jewelbug again", actors=(JEWELBUG,), source="Other"),
               rec(4, "Jewelbug second story", actors=(JEWELBUG,)),
               rec(5, "Hospital hit by ransomware", topic="ransomware"),
               rec(6, "VPN bug exploited", topic="exploited")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1], [2, 3], [4], [5], [6]]), topic_titles=TOPICS)
    assert issue.sections[0].title == "Jewelbug"  # the two-outlet story is the most important
    assert {s.title for s in issue.sections} == {"Jewelbug", "APT29", "Exploited Vulnerabilities",
                                                 "Ransomware & Extortion"}
    jb = issue.sections[0]
    assert jb.origin == "China" and jb.actor.aliases[0].vendor == "Trend Micro"
    assert jb.stories[0].also == (("Other", "https://n.example/3"),)
    assert issue.counts == {"stories": 5, "actors": 2, "sources": 6, "updates": 0}
    assert issue.top == ()  # five stories: no top-stories block


def test_already_sent_stories_are_left_out_and_new_coverage_is_an_update() -> None:
    sent_at = NOW - timedelta(days=1)
    records = [rec(1, "Old story", hours_ago=30), rec(2, "Old story follow-up", source="Other", hours_ago=1),
               rec(3, "Only old", hours_ago=30), rec(4, "Brand new")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(hours=20),
                          sent={1: (1, sent_at), 3: (1, sent_at)}, cluster=by_groups([[1, 2], [3], [4]]),
                          topic_titles=TOPICS)
    assert [s.headline for sec in issue.sections for s in sec.stories] == ["Brand new"]
    assert [u.headline for u in issue.updates] == ["Old story follow-up"]
    assert issue.updates[0].is_update and issue.updates[0].first_sent == sent_at


def test_nothing_new_is_an_empty_issue() -> None:
    issue = compose_issue([rec(1, "x", hours_ago=40)], title="D", now=NOW, period_start=NOW - timedelta(hours=24))
    assert issue.empty and issue.counts["stories"] == 0


def test_issue_content_survives_a_json_round_trip() -> None:
    import json

    from digest.issue.serialize import issue_from_json, issue_to_json

    records = [rec(1, "APT29 phishes diplomats", actors=(APT29,)), rec(2, "Other", topic="exploited"),
               rec(3, "Same APT29 story", actors=(APT29,), source="B")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1, 3], [2]]), topic_titles=TOPICS)
    again = issue_from_json(json.loads(json.dumps(issue_to_json(issue))))
    assert again == issue
    # and the new layout: top stories, pointers, per-CVE flags, importance, what did not fit
    full = composed_issue()
    assert full.top and full.more and any(sec.refs for sec in full.sections)
    assert issue_from_json(json.loads(json.dumps(issue_to_json(full)))) == full


def test_custom_preferences_keep_only_followed_actors_countries_and_topics() -> None:
    from digest.issue.compose import filter_issue, preference_key

    records = [rec(1, "APT29 phishes diplomats", actors=(APT29,)), rec(2, "Jewelbug story", actors=(JEWELBUG,)),
               rec(3, "Hospital ransomware", topic="ransomware"), rec(4, "VPN bug", topic="exploited")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1], [2], [3], [4]]), topic_titles=TOPICS)
    assert filter_issue(issue, {"mode": "all"}) is issue
    assert preference_key(None) == preference_key({"mode": "all", "actors": ["x"]}) == "all"
    only = filter_issue(issue, {"mode": "custom", "actors": ["apt29"], "topics": ["exploited"]})
    assert [s.title for s in only.sections] == ["APT29", "Exploited Vulnerabilities"]
    assert only.counts["stories"] == 2 and only.counts["actors"] == 1
    china = filter_issue(issue, {"mode": "custom", "countries": ["China"]})
    assert [s.title for s in china.sections] == ["Jewelbug"]
    a = preference_key({"mode": "custom", "actors": ["b", "a"]})
    assert a == preference_key({"mode": "custom", "actors": ["a", "b"]}) != "all"


def test_aka_line_prefers_names_the_stories_used_then_one_per_vendor() -> None:
    from digest.issue.compose import display_aliases

    many = ActorHit("apt29", "APT29", tuple(Alias(n, v) for n, v in [
        ("Group 100", ""), ("COZY BEAR", "CrowdStrike"), ("Nobelium", "Microsoft"), ("Midnight Blizzard", "Microsoft"),
        ("UNC2452", "Mandiant"), ("IRON HEMLOCK", "Secureworks"), ("Cloaked Ursa", "Palo Alto Networks Unit 42"),
        ("TA421", "Proofpoint"), ("ITG11", "IBM X-Force"), ("BlueBravo", "Recorded Future"), ("APT29", "Mandiant")]))
    aka = display_aliases(many, mentioned=["Midnight Blizzard", "APT29"])
    assert aka[0] == Alias("Midnight Blizzard", "Microsoft")
    assert len(aka) == 6 and all(a.vendor for a in aka)
    assert "APT29" not in [a.name for a in aka] and "Nobelium" not in [a.name for a in aka]
    assert len({a.vendor for a in aka}) == 6


def test_lower_case_galaxy_names_are_shown_as_the_articles_spell_them() -> None:
    from digest.issue.compose import display_name

    medusa = ActorHit("medusa", "medusa", (), ("MEDUSA", "Medusa"))
    assert display_name(medusa, ["MEDUSA", "Medusa"]) == "Medusa"
    assert display_name(ActorHit("ghost", "ghost"), []) == "Ghost"
    assert display_name(APT29, ["Cozy Bear"]) == "APT29"
    # a name the galaxy shouts (CrowdStrike's style) gives way to the one the stories use most
    tiger = ActorHit("quilted-tiger", "QUILTED TIGER", (Alias("QUILTED TIGER", "CrowdStrike"), Alias("Patchwork")))
    assert display_name(tiger, ["Patchwork", "Dropping Elephant"]) == "Patchwork"
    assert display_name(tiger, ["QUILTED TIGER"]) == "QUILTED TIGER"
    assert display_name(ActorHit("apt-c-08", "APT-C-08"), ["Bitter"]) == "APT-C-08"  # a code stays


def test_a_shouted_galaxy_name_gives_way_to_the_stories_name_and_moves_to_the_aka_line() -> None:
    names = (Alias("QUILTED TIGER", "CrowdStrike"), Alias("Patchwork"), Alias("Dropping Elephant", "Symantec"))
    tiger = ActorHit("quilted-tiger", "QUILTED TIGER", names, ("Patchwork",), "IN")
    records = [rec(1, "Patchwork targets officials", actors=(tiger,)),
               rec(2, "Patchwork again", actors=(tiger,), source="Other")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1], [2]]), topic_titles=TOPICS)
    [section] = issue.sections
    assert section.title == "Patchwork" and section.actor.name == "Patchwork"
    aka = [a.name for a in section.actor.aliases]
    assert "QUILTED TIGER" in aka and "Patchwork" not in aka


def judged(i: int, importance: float, *, hours_ago: float = 2, topic: str = "other", **kw: object) -> ArticleRecord:
    return record(i, f"Story {i}", f"Summary {i}.", source=f"Outlet {i}", importance=importance, topic=topic,
                  hours_ago=hours_ago, **kw)  # type: ignore[arg-type]


def test_the_most_important_stories_fill_the_issue_never_the_newest_alone() -> None:
    # importance falls as stories get newer: a cut by recency would keep exactly the wrong ones
    records = [judged(i, importance=float(i), hours_ago=40 - i, topic=("ransomware", "breach", "policy")[i % 3])
               for i in range(1, 31)]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=2), topic_titles=TOPICS)
    kept = [s for sec in issue.sections for s in sec.stories]
    assert len(kept) == 25 and issue.counts["stories"] == 25 and issue.counts["more"] == 5
    assert {s.key for s in kept} == {f"a{i}" for i in range(6, 31)}
    assert [s.key for s in issue.more] == ["a5", "a4", "a3", "a2", "a1"]  # most important first
    # sections in the order of their best story; inside each, most important first
    bests = [max(s.importance for s in sec.stories) for sec in issue.sections]
    assert bests == sorted(bests, reverse=True)
    for sec in issue.sections:
        assert [s.importance for s in sec.stories] == sorted((s.importance for s in sec.stories), reverse=True)


def test_a_story_is_filed_under_its_primary_actor_and_the_others_point_to_it() -> None:
    issue = composed_issue()
    sections = {s.key: s for s in issue.sections}
    linen = sections["actor-linen-typhoon"]
    [story] = [s for s in linen.stories if s.key == "a1"]
    assert story.named == ("violet-typhoon", "storm-2603") and story.primary == "linen-typhoon"
    for key in ("actor-violet-typhoon", "actor-storm-2603"):
        assert sections[key].stories == () and sections[key].refs == ("a1",)
    keys = [s.key for s in issue.sections]
    # the pointer-only sections follow the section that holds the story
    assert keys[keys.index("actor-linen-typhoon") + 1:][:2] == ["actor-violet-typhoon", "actor-storm-2603"]
    # no story is listed in full twice
    listed = [s.key for sec in issue.sections for s in sec.stories]
    assert len(listed) == len(set(listed))


def test_the_judgment_decides_primary_section_and_exploited_cves() -> None:
    # the stored keyword topic says "other" and the first actor found is Violet Typhoon; the judgment wins
    a = record(1, "Breach at a ministry", "x", source="A", importance=3, topic="breach", actors=(VIOLET, LINEN),
               primary="linen-typhoon", cves=(("CVE-2025-1", True), ("CVE-2025-2", False)))
    b = record(2, "Card skimming at a shop; APT29 was not involved", "y", source="B", importance=2, topic="breach",
               actors=(APT29,), primary=None)
    a, b = replace(a, topic="other"), replace(b, topic="other")
    issue = compose_issue([a, b], title="D", now=NOW, period_start=NOW - timedelta(days=1), topic_titles=TOPICS)
    assert [s.key for s in issue.sections] == ["actor-linen-typhoon", "topic-breach"]
    story = issue.sections[0].stories[0]
    assert story.cves == ("CVE-2025-1", "CVE-2025-2") and story.exploited_cves == ("CVE-2025-1",)
    assert issue.sections[1].stories[0].named == ()  # an incidental mention gets no pointer


def test_the_primary_of_a_story_is_the_one_most_of_its_articles_give() -> None:
    recs = [record(i, f"t{i}", "s", source=f"S{i}", importance=1, actors=(LINEN, VIOLET), primary=p)
            for i, p in [(1, "linen-typhoon"), (2, "violet-typhoon"), (3, "violet-typhoon")]]
    issue = compose_issue(recs, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1, 2, 3]]), pick_best=lambda ms: ms[0])
    assert issue.sections[0].key == "actor-violet-typhoon"
    assert issue.sections[0].stories[0].named == ("linen-typhoon",)  # another article's primary is named


def test_sponsored_articles_stay_out_unless_the_newsletter_includes_them() -> None:
    recs = [judged(1, 9, sponsored=True), judged(2, 1)]
    issue = compose_issue(recs, title="D", now=NOW, period_start=NOW - timedelta(days=1))
    assert [s.key for sec in issue.sections for s in sec.stories] == ["a2"] and not issue.more
    issue = compose_issue(recs, title="D", now=NOW, period_start=NOW - timedelta(days=1), include_sponsored=True)
    stories = [s for sec in issue.sections for s in sec.stories]
    assert [s.key for s in stories] == ["a1", "a2"] and stories[0].sponsored


def test_top_stories_are_the_three_to_five_most_important_and_lead_subject_and_preheader() -> None:
    from digest.issue.render import subject_for

    recs = [judged(i, imp) for i, imp in enumerate([10, 9, 8, 7, 1, 1, 1, 1], start=1)]
    issue = compose_issue(recs, title="D", now=NOW, period_start=NOW - timedelta(days=1), topic_titles=TOPICS)
    assert issue.top == ("a1", "a2", "a3", "a4")  # the 4th is above the median, the 5th is not
    assert subject_for(issue).endswith(": Story 1")
    assert issue.preheader == "Story 2; Story 3; Story 4"
    few = compose_issue(recs[:4], title="D", now=NOW, period_start=NOW - timedelta(days=1))
    assert few.top == ()
    flat = compose_issue([judged(i, 1) for i in range(1, 10)], title="D", now=NOW,
                         period_start=NOW - timedelta(days=1))
    assert len(flat.top) == 3


def test_a_reader_following_any_actor_of_a_story_gets_it() -> None:
    from digest.issue.compose import filter_issue

    issue = composed_issue()
    for follow in ("violet-typhoon", "storm-2603", "linen-typhoon"):
        mine = filter_issue(issue, {"mode": "custom", "actors": [follow]})
        assert [s.key for sec in mine.sections for s in sec.stories] == ["a1"], follow
        assert mine.counts["stories"] == 1
    lazarus = filter_issue(issue, {"mode": "custom", "actors": ["lazarus"]})
    assert [s.headline for sec in lazarus.sections for s in sec.stories] == [
        "Lazarus Published 40 Malicious npm Packages Aimed at Developers"]
    assert not lazarus.more and lazarus.top == ()
    # topic followers get stories without a primary actor in that topic, as before
    topics = filter_issue(issue, {"mode": "custom", "topics": ["exploited"]})
    assert [s.key for sec in topics.sections for s in sec.stories] == ["a4"]


def test_trimming_keeps_the_most_important_and_moves_the_rest_to_more() -> None:
    from digest.issue.compose import stories_of, trim_issue

    issue = composed_issue()
    small = trim_issue(issue, 2)
    assert [s.key for s in stories_of(small)] == ["a1", "a3"]
    assert len(small.more) == len(issue.more) + len(stories_of(issue)) - 2
    assert small.updates == issue.updates
    assert not any(sec.refs and not sec.stories and sec.key == "actor-jewelbug" for sec in small.sections)


def test_an_actor_without_a_usable_name_is_not_taken_as_named_everywhere() -> None:
    odd = ActorHit("x", "X", (), ())
    recs = [record(1, "Linen Typhoon strikes", "s", source="A", importance=1, actors=(LINEN, odd),
                   primary="linen-typhoon", text="Linen Typhoon again.")]
    issue = compose_issue(recs, title="D", now=NOW, period_start=NOW - timedelta(days=1))
    assert issue.sections[0].stories[0].named == () and len(issue.sections) == 1


def test_an_event_clustering_split_counts_all_its_outlets_and_is_ranked_once() -> None:
    """Coverage the clusters split still counts (as `digest analyse` weighs it), and the split-off part,
    telling the same event with less weight, ranks below an unrelated story of equal weight."""
    from digest.intel.editorial import REPEAT_PENALTY, story_importance

    text = "Acme Bank said attackers stole the records of 2 million customers from its loan systems."
    split = [record(1, "Acme Bank breach exposes 2 million customers", "S1.", text=text, source="A", importance=2.0),
             record(2, "Acme Bank confirms breach of 2 million customer records", "S2.", text=text,
                    source="B", importance=2.0),
             record(3, "Acme Bank breach: 2 million customers exposed", "S3.", text=text, source="C", importance=1.5)]
    other = record(4, "Police seize a botnet run from Lisbon", "S4.",
                   text="Officers took down servers of a botnet used for fraud.", source="D", importance=1.5)
    issue = compose_issue([*split, other], title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1, 2], [3], [4]]), topic_titles=TOPICS)
    got = {s.key: s.importance for sec in issue.sections for s in sec.stories}
    lead = [j.judgment for j in split[:2] if j.judgment is not None]
    assert got["a1"] == round(story_importance(lead, outlets=3), 4)  # A, B and the split-off C
    assert got["a3"] == round(story_importance([split[2].judgment], outlets=3) - REPEAT_PENALTY, 4)
    assert got["a4"] == round(story_importance([other.judgment], outlets=1), 4)  # nothing near it
    assert got["a3"] < got["a4"]
