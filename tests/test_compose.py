"""Compose: stories, actor sections first (most covered first), topic sections, updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from digest.compose import ArticleRecord, compose_issue
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


def test_actor_sections_first_most_covered_first_then_topics_in_order() -> None:
    records = [rec(1, "APT29 phishes diplomats", actors=(APT29,)),
               rec(2, "Jewelbug in Russian IT firm", actors=(JEWELBUG,)),
               rec(3, "Jewelbug again", actors=(JEWELBUG,), source="Other"),
               rec(4, "Jewelbug second story", actors=(JEWELBUG,)),
               rec(5, "Hospital hit by ransomware", topic="ransomware"),
               rec(6, "VPN bug exploited", topic="exploited")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1], [2, 3], [4], [5], [6]]), topic_titles=TOPICS)
    assert [s.title for s in issue.sections] == ["Jewelbug", "APT29", "Exploited Vulnerabilities",
                                                 "Ransomware & Extortion"]
    jb = issue.sections[0]
    assert jb.origin == "China" and jb.actor.aliases[0].vendor == "Trend Micro"
    two_source = next(s for s in jb.stories if s.also)
    assert two_source.also == (("Other", "https://n.example/3"),)
    assert issue.counts == {"stories": 5, "actors": 2, "sources": 6, "updates": 0}
    assert "Jewelbug" in issue.preheader


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

    from digest.serialize import issue_from_json, issue_to_json

    records = [rec(1, "APT29 phishes diplomats", actors=(APT29,)), rec(2, "Other", topic="exploited"),
               rec(3, "Same APT29 story", actors=(APT29,), source="B")]
    issue = compose_issue(records, title="D", now=NOW, period_start=NOW - timedelta(days=1),
                          cluster=by_groups([[1, 3], [2]]), topic_titles=TOPICS)
    again = issue_from_json(json.loads(json.dumps(issue_to_json(issue))))
    assert again == issue


def test_custom_preferences_keep_only_followed_actors_countries_and_topics() -> None:
    from digest.compose import filter_issue, preference_key

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
    from digest.compose import display_aliases

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
    from digest.compose import display_name

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
