"""A fixed, realistic issue for golden-file tests, the spam-score test and the send benchmark.

The lead story is the seed's (Jewelbug inside a Russian IT firm); the others are plausible
placeholders in the digest's voice. ``copies`` repeats the topic stories to reach a given size.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.models import ActorHit, Alias, IssueContent, Section, StoryItem

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)

JEWELBUG = ActorHit(
    id="jewelbug", name="Jewelbug", country="CN", motivation="espionage",
    aliases=(Alias("CL-STA-0049", "Palo Alto Networks Unit 42"), Alias("Earth Alux", "Trend Micro"),
             Alias("REF7707", "Elastic Security Labs")))
SALT = ActorHit(id="salt-typhoon", name="Salt Typhoon", country="CN", motivation="espionage",
                aliases=(Alias("GhostEmperor", "Kaspersky"), Alias("FamousSparrow", "ESET"),
                         Alias("UNC2286", "Mandiant")))
LAZARUS = ActorHit(id="lazarus", name="Lazarus Group", country="KP", motivation="financial gain",
                   aliases=(Alias("Diamond Sleet", "Microsoft"), Alias("Hidden Cobra", "CISA")))


def _story(key: str, headline: str, url: str, summary: str, source: str, hours: float, *,
           also: tuple[tuple[str, str], ...] = (), actors: tuple[ActorHit, ...] = (), topic: str = "other",
           cves: tuple[str, ...] = (), exploited: bool = False, first_sent: datetime | None = None) -> StoryItem:
    return StoryItem(key=key, headline=headline, url=url, summary=summary, source=source,
                     published=NOW - timedelta(hours=hours), also=also, actors=actors, topic=topic, cves=cves,
                     exploited=exploited, is_update=first_sent is not None, first_sent=first_sent)


def sample_issue(copies: int = 1, title: str = "Cyber Digest") -> IssueContent:
    jewelbug = _story(
        "jewelbug-russia", "Chinese Threat Group Jewelbug Breached Russian IT Firm for Five Months",
        "https://www.security.com/threat-intelligence/jewelbug-apt-russia",
        "A China-linked group that Symantec tracks as Jewelbug spent five months, from January to May 2025, "
        "inside a Russian IT service provider, reaching its code repositories and software build systems. "
        "Symantec says the intrusion is a rare case of a Chinese espionage group targeting Russia.",
        "Symantec", 3, actors=(JEWELBUG,),
        also=(("The Hacker News", "https://thehackernews.com/2025/10/jewelbug-russian-it.html"),
              ("The Record", "https://therecord.media/jewelbug-china-russia-it-provider")))
    salt = _story(
        "salt-telecoms", "Salt Typhoon Breached Two More European Telecom Operators",
        "https://www.example-vendor.com/blog/salt-typhoon-europe",
        "Salt Typhoon, a Chinese state-sponsored group, compromised routers at two European telecom "
        "operators between August and October, according to a report by the vendor's threat team. "
        "The group used a known flaw in edge devices to reach lawful-intercept systems.",
        "Example Vendor Research", 9, actors=(SALT,),
        also=(("BleepingComputer", "https://www.bleepingcomputer.com/news/security/salt-typhoon-europe/"),))
    lazarus = _story(
        "lazarus-npm", "Lazarus Group Published 40 Malicious npm Packages Aimed at Developers",
        "https://www.example-research.org/lazarus-npm-packages",
        "North Korea's Lazarus Group uploaded 40 npm packages that install a credential stealer, researchers "
        "reported on Thursday. The packages imitated popular libraries and were downloaded about 3,000 times "
        "before removal.", "Example Research", 20, actors=(LAZARUS,))
    exploited = _story(
        "cve-fortiweb", "Attackers Exploit Path Traversal Flaw in FortiWeb to Create Admin Accounts",
        "https://www.example-news.com/fortiweb-exploited",
        "Attackers are exploiting a path traversal flaw in Fortinet FortiWeb to create administrator accounts "
        "on exposed appliances, CISA said when it added the flaw to its catalogue of exploited vulnerabilities. "
        "Fortinet released fixed versions on 14 November.", "Example News", 5, topic="exploited",
        cves=("CVE-2025-64446",), exploited=True,
        also=(("CISA", "https://www.cisa.gov/known-exploited-vulnerabilities-catalog"),))
    ransomware = _story(
        "akira-manufacturer", "Akira Ransomware Hit a German Machinery Maker and Leaked 200 GB",
        "https://www.example-news.com/akira-machinery",
        "The Akira ransomware gang claimed an attack on a German machinery manufacturer and published 200 GB "
        "of files it says it stole in October. The company confirmed the incident and said production "
        "continued.", "Example News", 12, topic="ransomware")
    policy = _story(
        "europol-takedown", "Europol Took Down Infrastructure of Three Malware Loaders",
        "https://www.europol.europa.eu/media-press/newsroom/news/operation-endgame-3",
        "Europol and partners from nine countries seized more than 1,000 servers used by three malware "
        "loaders in the latest phase of Operation Endgame, the agency said on Wednesday. Two suspects were "
        "arrested in Armenia.", "Europol", 30, topic="policy")
    update = _story(
        "oracle-ebs", "Oracle E-Business Suite Victims Now Number More Than 100",
        "https://www.example-news.com/oracle-ebs-victims-100",
        "The number of organisations named as victims of the Oracle E-Business Suite data theft campaign "
        "passed 100, according to the extortion group's leak site.", "Example News", 7,
        topic="breach", first_sent=NOW - timedelta(days=3))

    topics: list[tuple[str, str, list[StoryItem]]] = [
        ("exploited", "Exploited Vulnerabilities", [exploited]),
        ("ransomware", "Ransomware & Extortion", [ransomware]),
        ("policy", "Policy & Law Enforcement", [policy]),
    ]
    for n in range(1, copies):
        for _key, _title, items in topics:
            base = items[0]
            items.append(StoryItem(**{**base.__dict__, "key": f"{base.key}-{n}",
                                      "url": f"{base.url}?part={n}", "headline": f"{base.headline} ({n})"}))
    sections = [
        Section("actor-jewelbug", "Jewelbug", (jewelbug,), actor=JEWELBUG, origin="China"),
        Section("actor-salt-typhoon", "Salt Typhoon", (salt,), actor=SALT, origin="China"),
        Section("actor-lazarus", "Lazarus Group", (lazarus,), actor=LAZARUS, origin="North Korea"),
    ]
    sections += [Section(f"topic-{key}", t, tuple(items)) for key, t, items in topics]
    stories = [s for sec in sections for s in sec.stories]
    counts = {"stories": len(stories), "actors": 3, "sources": sum(1 + len(s.also) for s in stories), "updates": 1}
    preheader = "; ".join(s.headline for s in stories[:3])[:180]
    return IssueContent(title=title, date=NOW, period_start=NOW - timedelta(hours=24), period_end=NOW,
                        sections=tuple(sections), updates=(update,), counts=counts, preheader=preheader)
