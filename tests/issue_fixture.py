"""A composed issue for the layout tests: records with fixed editorial judgments through compose_issue.

The judgments are written out here (not computed by digest.intel.editorial), so the golden files
change only when compose or the templates do. The texts are placeholders in the digest's voice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.intel.editorial import CveFlag, Judgment
from digest.issue.compose import ArticleRecord, compose_issue
from digest.models import ActorHit, Alias, IssueContent

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
TOPICS = {"exploited": "Exploited Vulnerabilities", "ransomware": "Ransomware & Extortion",
          "breach": "Data Breaches", "policy": "Policy & Law Enforcement", "other": "Other News"}

LINEN = ActorHit("linen-typhoon", "Linen Typhoon", (Alias("APT27", "Mandiant"), Alias("Emissary Panda", "CrowdStrike")),
                 ("Linen Typhoon",), "CN", motivation="espionage")
VIOLET = ActorHit("violet-typhoon", "Violet Typhoon", (Alias("APT31", "Mandiant"), Alias("Judgment Panda", "CrowdStrike")),
                  ("Violet Typhoon",), "CN", motivation="espionage")
STORM = ActorHit("storm-2603", "Storm-2603", (), ("Storm-2603",), "CN")
JEWELBUG = ActorHit("jewelbug", "Jewelbug", (Alias("Earth Alux", "Trend Micro"), Alias("CL-STA-0049", "Palo Alto Networks Unit 42")),
                    ("Jewelbug",), "CN", motivation="espionage")
LAZARUS = ActorHit("lazarus", "Lazarus Group", (Alias("Diamond Sleet", "Microsoft"),), ("Lazarus",), "KP",
                   motivation="financial gain")


def record(i: int, title: str, summary: str, *, source: str, importance: float, topic: str = "other",
           actors: tuple[ActorHit, ...] = (), primary: str | None = None, cves: tuple[tuple[str, bool], ...] = (),
           sponsored: bool = False, hours_ago: float = 3, text: str = "", kind: str = "news") -> ArticleRecord:
    when = NOW - timedelta(hours=hours_ago)
    judgment = Judgment(topic=topic, cves=tuple(CveFlag(c, e) for c, e in cves), sponsored=sponsored,
                        importance=importance, primary=primary)
    return ArticleRecord(id=i, title=title, url=f"https://news.example.org/{i}", text=text or summary, summary=summary,
                         source=source, source_kind=kind, published=when, fetched=when, topic=topic,
                         cves=tuple(c for c, _ in cves), actors=actors, judgment=judgment)


def records() -> list[ArticleRecord]:
    toolshell_text = ("Microsoft says three China-based groups, Linen Typhoon, Violet Typhoon and Storm-2603, "
                      "exploited the SharePoint flaws against on-premises servers.")
    return [
        record(1, "Three China-Based Groups Exploited SharePoint Flaws, Microsoft Says",
               "Microsoft attributed the exploitation of on-premises SharePoint servers to two Chinese state groups "
               "and a third China-based actor that deployed ransomware on some of the servers.",
               source="Microsoft Security Blog", kind="vendor", importance=9.0, topic="exploited",
               actors=(LINEN, VIOLET, STORM), primary="linen-typhoon", text=toolshell_text,
               cves=(("CVE-2025-53770", True), ("CVE-2025-53771", True), ("CVE-2025-49704", False))),
        record(2, "SharePoint Attacks Traced to Chinese Groups", "A second outlet on the same attribution.",
               source="The Wire", importance=7.0, topic="exploited", actors=(LINEN, VIOLET, STORM),
               primary="linen-typhoon", text=toolshell_text, cves=(("CVE-2025-53770", True),)),
        record(3, "Jewelbug Spent Five Months Inside a Russian IT Provider",
               "A China-linked group reached the code repositories and build systems of a Russian IT service "
               "provider, a rare case of a Chinese espionage group turning on Russia.",
               source="Symantec", kind="vendor", importance=6.0, actors=(JEWELBUG,), primary="jewelbug",
               hours_ago=5),
        record(4, "Attackers Exploit a FortiWeb Path Traversal Flaw to Add Admin Accounts",
               "CISA added the flaw to its catalogue of exploited vulnerabilities; a second bug fixed in the same "
               "release has no known exploitation.", source="Example News", importance=5.0, topic="exploited",
               cves=(("CVE-2025-64446", True), ("CVE-2025-64447", False)), hours_ago=6),
        record(5, "Akira Ransomware Hit a German Machinery Maker",
               "The gang published 200 GB of files it says it stole; production continued.",
               source="Example News", importance=4.0, topic="ransomware", hours_ago=8),
        record(6, "Lazarus Published 40 Malicious npm Packages Aimed at Developers",
               "The packages imitated popular libraries and installed a credential stealer.",
               source="Example Research", importance=3.5, actors=(LAZARUS,), primary="lazarus", hours_ago=10),
        record(7, "Europol Took Down Infrastructure of Three Malware Loaders",
               "Police from nine countries seized more than 1,000 servers; two suspects were arrested.",
               source="Europol", kind="government", importance=3.0, topic="policy", hours_ago=12),
        record(8, "Save 60% on a Lifetime VPN Subscription Today",
               "A deal.", source="Deals Desk", importance=8.0, topic="other", sponsored=True, hours_ago=2),
        record(9, "A Regional Retailer Reported a Card-Skimming Incident",
               "The retailer said about 2,000 cards may be affected.", source="Local News", importance=2.0,
               topic="breach", hours_ago=1),
        record(10, "Vendor Ships Monthly Patches for Its Office Suite", "Routine fixes.", source="Example News",
               importance=1.5, topic="other", hours_ago=4),
        record(11, "Oracle E-Business Suite Victims Now Number More Than 100",
               "The extortion group's leak site passed 100 named organisations.", source="Example News",
               importance=4.0, topic="breach", hours_ago=7),
        record(12, "Oracle E-Business Suite Data Theft: First Victims Named", "The first report.",
               source="Example News", importance=4.0, topic="breach", hours_ago=80),
    ]


def composed_issue(max_stories: int = 7) -> IssueContent:
    """Eight new stories (one sponsored, left out), one update; ``max_stories`` of them fit."""
    groups = [[1, 2], [3], [4], [5], [6], [7], [8], [9], [10], [11, 12]]

    def cluster(_records: object) -> list[list[int]]:
        return groups

    return compose_issue(records(), title="Cyber Digest", now=NOW, period_start=NOW - timedelta(hours=24),
                         sent={12: (1, NOW - timedelta(days=3))}, cluster=cluster, topic_titles=TOPICS,
                         max_stories=max_stories)
