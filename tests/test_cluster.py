"""Story clustering: one event from several outlets together, different events apart, best source first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click
import pytest
from click.testing import CliRunner

from digest.cli.content import stories
from digest.config import load_config
from digest.context import AppContext
from digest.eval.content import evaluate_pairs, load_pairs
from digest.intel.cluster import ClusterDoc, best_source, cluster, same_story
from digest.intel.story_features import is_roundup

T0 = datetime(2025, 7, 20, 9, tzinfo=UTC)


def doc(id: str, title: str, text: str, source: str, hours: float = 0, **kw: object) -> ClusterDoc:
    return ClusterDoc(id=id, title=title, text=text, source=source, published=T0 + timedelta(hours=hours), **kw)  # type: ignore[arg-type]


KOSKE_A = doc("koske-a", "Koske Linux malware hidden inside panda pictures",
              "A new Linux malware family named Koske conceals its payload in JPEG images of pandas and runs it "
              "from memory. Aqua Security says it deploys cryptocurrency miners through exposed JupyterLab servers.",
              "BleepingComputer")
KOSKE_B = doc("koske-b", "Koske malware abuses panda images to mine cryptocurrency",
              "Aqua Security has documented Koske, a Linux threat that hides scripts and a rootkit inside panda "
              "photos. Initial access comes from misconfigured JupyterLab instances, and miners follow.",
              "SecurityWeek", hours=10)
MIMO = doc("mimo", "Mimo operators move to Magento and Docker to plant miners",
           "The financially motivated actor Mimo is breaking into Magento shops and misconfigured Docker hosts, "
           "Datadog says. The group drops XMRig cryptocurrency miners and proxyware on victims.",
           "The Hacker News", hours=5)
APT_A = doc("apt-a", "CERT-UA finds LAMEHUG malware that queries an LLM",
            "Ukraine's CERT-UA disclosed LAMEHUG, a Python malware that asks a language model on Hugging Face to "
            "write commands. The agency attributes the phishing campaign to APT28.",
            "The Hacker News", actors=frozenset({"apt28"}))
APT_B = doc("apt-b", "UK sanctions GRU officers over Authentic Antics malware",
            "Britain exposed Authentic Antics, malware that steals Microsoft 365 tokens through fake Outlook "
            "login windows, and sanctioned GRU units it ties to APT28.",
            "The Register", hours=40, actors=frozenset({"apt28"}))


def test_two_outlets_on_one_event_become_one_story() -> None:
    result = cluster([KOSKE_A, MIMO, KOSKE_B])
    assert [set(c) for c in result] == [{"koske-a", "koske-b"}, {"mimo"}]
    assert same_story(KOSKE_A, KOSKE_B)


def test_similar_topic_different_event_stays_apart() -> None:
    assert not same_story(KOSKE_A, MIMO)


def test_same_actor_different_operation_stays_apart() -> None:
    assert not same_story(APT_A, APT_B)


def test_outside_the_window_stays_apart() -> None:
    late = doc("koske-late", KOSKE_B.title, KOSKE_B.text, "The Record", hours=80)
    assert not same_story(KOSKE_A, late)
    assert same_story(KOSKE_A, late, window_hours=96)
    assert cluster([KOSKE_A, late], window_hours=24) == [["koske-a"], ["koske-late"]]


def test_story_never_spans_more_than_three_windows() -> None:
    # the same event written up every 40 hours: follow-ups join, but a story never spans more than
    # three windows (the old rule, one window, split one-event coverage of a long incident)
    chain = [doc(f"k{i}", KOSKE_A.title, KOSKE_A.text, f"outlet{i}", hours=i * 40) for i in range(8)]
    result = cluster(chain)
    assert len(result) > 1
    for members in result:
        hours = [int(m[1:]) * 40 for m in members]
        assert max(hours) - min(hours) <= 3 * 72
    assert any(len(members) > 2 for members in result)  # follow-ups 40 h apart did join


def test_shared_cve_links_paraphrases_and_different_cves_split() -> None:
    a = doc("a", "CrushFTP zero-day exploited to hijack servers",
            "CrushFTP warns that attackers exploit CVE-2025-54309 to gain admin access to servers.", "BC")
    b = doc("b", "Hackers take over unpatched file transfer servers",
            "A critical flaw, CVE-2025-54309, lets remote attackers become administrators, the vendor said.", "THN", 3)
    c = doc("c", "Hackers take over unpatched file transfer servers",
            "A critical flaw, CVE-2025-11111, lets remote attackers become administrators, the vendor said.", "SW", 3)
    assert same_story(a, b)
    assert not same_story(a, c)


def test_same_outlet_template_for_two_victims_stays_apart() -> None:
    # law firms publish one template per breach victim, many a day, on the same wire
    a = doc("lf-a", "Harbor Pediatrics Data Breach Claims Investigated by Miller Carter",
            "PITTSBURGH -- Harbor Pediatrics, a children's clinic in Ohio, disclosed a data breach that exposed "
            "patient names and Social Security numbers. Miller Carter is investigating claims on behalf of "
            "those affected.", "PR Wire")
    b = doc("lf-b", "Ridgeway Credit Union Data Breach Claims Investigated by Miller Carter",
            "PITTSBURGH -- Ridgeway Credit Union, a lender in Kansas, disclosed a data breach that exposed member "
            "names and account numbers. Miller Carter is investigating claims on behalf of those affected.",
            "PR Wire", hours=3)
    assert not same_story(a, b)


def test_same_outlet_rewrite_of_one_event_joins() -> None:
    # an outlet's updated write-up of the same event (the news agencies' "(LEAD)" versions)
    first = doc("upd-1", "Retailer Norwick says hackers stole data of 2 million customers",
                "Norwick, the British retailer, said on Monday that hackers stole names and addresses of about "
                "2 million customers in an attack on its online shop.", "Wire Agency")
    second = doc("upd-2", "(LEAD) Retailer Norwick says hackers stole data of 2 million customers",
                 "Norwick, the British retailer, said on Monday that hackers stole names, addresses and order "
                 "histories of about 2 million customers in an attack on its online shop last week.",
                 "Wire Agency", hours=2)
    assert same_story(first, second)


def test_roundup_never_joins_a_specific_story() -> None:
    roundup = doc("week", "This Week in Security: Koske panda malware, Mimo miners and more",
                  "Koske Linux malware hides in panda images; Mimo targets Magento and Docker; APT28 phishing "
                  "with LAMEHUG.", "Weekly Outlet", hours=30)
    result = cluster([KOSKE_A, KOSKE_B, roundup])
    assert ["week"] in result
    assert {"koske-a", "koske-b"} in [set(c) for c in result]


@pytest.mark.parametrize("title, text", [
    ("FTSE 100 Live 25 September: Co-op discloses cyber attack cost, insurer shares rise", ""),
    ("China-UK Hacking Revealed, Chip Profit Jump, More", ""),
    ("US Eyes Trade Deal, Airline Data Breach", ("Good morning, here is all the news you need to start your week. "
     "Today's must-reads: a trade deal and an airline breach.")),
    ("A Major Leak Spills a Hacking Contractor's Tools", ("Plus: AI hacking is here, and more of the week's top "
     "security news.")),
    ("The Week in Ransomware - August 1st 2025 - Global takedowns", ""),
    ("Markets tumble on tech fears", "Good morning, and welcome to our rolling coverage of business and the markets."),
    ("6 settlements you can still claim this month, including a $3,000 payout from a clinic breach", ""),
    ("5 things to know for Monday: a storm warning, a port strike, a hospital cyber attack", ""),
    ("The 10 biggest data breaches of the year so far", ""),
])
def test_roundups_are_recognised(title: str, text: str) -> None:
    assert is_roundup(title, text)


@pytest.mark.parametrize("title, text", [
    ("Data breach exposes names, addresses, phone numbers, and more", "A delivery firm said a breach exposed data."),
    ("OpenAI details how state hackers use its tools", ("The company said this week in a report that five groups "
     "used its models.")),
    ("Carmaker extends shutdown after cyber-attack", "The plant stays closed. Business live latest updates"),
    ("12 ransomware gangs say they are shutting down", "The groups posted a joint farewell note."),
    ("4 teenagers arrested over hacking of an arcade chain", "Police said the four were held on Tuesday."),
    ("2 data breaches hit the same hospital in a month", "The hospital said both incidents were contained."),
])
def test_specific_stories_are_no_roundups(title: str, text: str) -> None:
    assert not is_roundup(title, text)


def test_a_markets_live_blog_never_swallows_the_story_it_mentions() -> None:
    a = doc("coop-a", "Co-op reveals £80m profit hit from cyber attack",
            "A cyber attack in April delivered an £80m hit to half-year operating profits at the Co-operative "
            "Group, it has been revealed.", "Sky News")
    b = doc("coop-b", "Co-op says cyber attack cut profits by £80m",
            "The Co-operative Group has revealed an £80m hit to half-year profit after a damaging cyber attack "
            "earlier this year.", "City A.M.", hours=2)
    live = doc("live", "FTSE 100 Live 25 September: Co-op discloses cyber attack cost, insurer shares rise",
               "The Co-operative Group has revealed it slumped to a half-year loss after an £80m hit from a "
               "malicious cyber attack in April.", "Evening Standard", hours=1)
    result = cluster([a, b, live])
    assert ["live"] in result and any(set(s) == {"coop-a", "coop-b"} for s in result), result


def test_two_breaches_told_alike_in_a_small_batch_stay_apart() -> None:
    # any two cyber articles have an embedding cosine of 0.3-0.5 and a few words in common; the
    # model learns from random pairs of a batch that this alone is no story
    story = ("Attackers breached the city's water utility network and stole billing records of residents, "
             "officials said on Monday, adding that operations were not affected.")
    same = [doc(f"w{i}", "Hackers breach city water utility, steal billing records", story, f"Outlet {i}")
            for i in range(3)]
    other = doc("air", "Hackers breach regional airline, steal loyalty data",
                "The airline said loyalty account data was taken in an intrusion.", "Outlet 9")
    result = cluster([*same, other])
    assert sorted(map(sorted, result)) == [["air"], ["w0", "w1", "w2"]], result


def test_one_feeds_unrelated_items_of_a_day_stay_apart() -> None:
    # the outlet alone is no evidence: one feed's items with unrelated headlines are different stories
    a = doc("gw", "Critical flaw in gateway appliances exploited by ransomware gang",
            "Attackers exploited a flaw in gateway appliances, the vendor said.", "One Feed")
    b = doc("vpn", "A link too long to keep", "The vendor fixed a flaw in its VPN appliance on Tuesday.", "One Feed")
    assert not same_story(a, b)


def test_shipped_model_loads_and_scores() -> None:
    from digest.intel.cluster import story_probability
    from digest.intel.story_features import FEATURES, load_model

    model = load_model()
    assert len(model.weights) == len(FEATURES)
    assert 0 < model.threshold < 1 and 0 <= model.link < 1
    assert story_probability(KOSKE_A, KOSKE_B) > story_probability(KOSKE_A, MIMO)


def test_every_id_once_clusters_by_earliest_member_best_first() -> None:
    vendor = doc("koske-vendor", "Koske: Linux malware hidden in panda images",
                 "Aqua Nautilus researchers found Koske, a Linux malware that hides payloads in panda JPEG images "
                 "and deploys cryptocurrency miners via JupyterLab.", "Aqua Security", hours=1,
                 source_kind="vendor")
    docs = [MIMO, KOSKE_B, APT_A, vendor, KOSKE_A, KOSKE_A]  # a duplicate id is listed once
    result = cluster(docs)
    flat = [m for members in result for m in members]
    assert sorted(flat) == sorted({"mimo", "koske-b", "apt-a", "koske-vendor", "koske-a"})
    koske = next(c for c in result if "koske-a" in c)
    assert koske[0] == "koske-vendor" and set(koske) == {"koske-a", "koske-b", "koske-vendor"}
    # ordered by earliest member: apt-a and koske-a at T0 (input order decides), mimo at +5 h
    assert result.index(koske) < result.index(["mimo"])


def test_best_source_prefers_vendor_then_completeness() -> None:
    short = doc("s", "t", "Short note about the event.", "A")
    long = doc("l", "t", "A much longer and more complete article about the event " * 20, "B")
    vendor = doc("v", "t", "Vendor research.", "C", source_kind="vendor")
    assert best_source([short, long]).id == "l"
    assert best_source([short, long, vendor]).id == "v"


def test_labelled_pairs_meet_the_targets() -> None:
    pairs = load_pairs()
    result = evaluate_pairs(pairs)
    assert result.precision >= 0.95 and result.recall >= 0.9, result.errors
    text_only = evaluate_pairs(pairs, with_actors=False)
    assert text_only.precision >= 0.95 and text_only.recall >= 0.9, text_only.errors


def test_the_fallback_model_without_the_embedding_keeps_the_labelled_pairs() -> None:
    # chosen by the training script only among settings that keep these pairs (its earlier setting merged
    # APT28's two operations through the shared-actor prior)
    from digest.intel.story_features import load_model

    fallback = load_model(embedding=False)
    assert not fallback.uses_embedding
    for with_actors in (True, False):
        result = evaluate_pairs(load_pairs(), with_actors=with_actors, model=fallback)
        assert result.precision >= 0.95 and result.recall >= 0.9, result.errors


def _group() -> click.Group:
    @click.group()
    @click.pass_context
    def g(ctx: click.Context) -> None:
        ctx.obj = AppContext(load_config(env={}))

    g.add_command(stories, "stories")
    return g


def test_cli_cluster_contract() -> None:
    def line(d: ClusterDoc, published: str) -> str:
        return json.dumps({"id": d.id, "title": d.title, "text": d.text, "source": d.source, "published": published})

    lines = [line(KOSKE_A, "2025-07-24"), "[1, 2", line(MIMO, "2025-07-23T11:00:00Z"),
             line(KOSKE_B, "2025-07-25T08:00:00+00:00"), json.dumps({"id": "nodate", "title": "Quiet day",
                                                                     "text": "Nothing happened.", "source": "X"})]
    result = CliRunner().invoke(_group(), ["stories", "cluster", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    members = [m for o in out for m in o["members"]]
    assert sorted(members) == ["koske-a", "koske-b", "mimo", "nodate"]
    assert {"koske-a", "koske-b"} in [set(o["members"]) for o in out]
    assert [o["story"] for o in out] == list(range(1, len(out) + 1))
    assert "line 2" in result.stderr


def test_vectorised_pair_features_equal_the_scalar_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from digest.intel import story_features
    from digest.intel.story_features import PairScorer, features, prepare

    cve_a = doc("cve-a", "CrushFTP zero-day CVE-2025-54309 exploited", "Attackers exploit CVE-2025-54309 in CrushFTP "
                "to take over 10,000 servers, the vendor said.", "BC", actors=frozenset({"x1"}))
    cve_b = doc("cve-b", "File transfer servers hijacked through CVE-2025-11111", "A flaw, CVE-2025-11111, gave "
                "attackers admin rights on 10,000 servers of Acme Corp.", "BC", hours=90, actors=frozenset({"x2"}))
    nodate = ClusterDoc("nodate", "Koske panda malware", "", "", None)
    docs = [KOSKE_A, KOSKE_B, MIMO, APT_A, APT_B, cve_a, cve_b, nodate]
    prepared = prepare(docs)
    scorer = PairScorer(prepared, 72 * 3600.0)
    ii, jj = np.triu_indices(len(prepared), 1)
    bulk = scorer.features(ii, jj)
    for row, (i, j) in enumerate(zip(ii, jj, strict=True)):
        assert np.allclose(bulk[row], features(prepared[i], prepared[j], 72 * 3600.0), atol=1e-6), (i, j)
    assert bulk[:, 9:13].any()  # the CVE and actor columns were exercised
    monkeypatch.setattr(story_features, "PAIR_CHUNK", 4)  # scored in slices, as a big batch is: the same numbers
    assert np.array_equal(scorer.features(ii, jj), bulk)


def _plain_model(**guards: object) -> object:
    # headline TF-IDF cosine alone decides: alike headlines are one story (a small, readable model)
    from digest.intel.story_features import FEATURES, StoryModel

    weights = [0.0] * len(FEATURES)
    weights[FEATURES.index("cos_all")] = 20.0
    return StoryModel(tuple(weights), -5.0, 0.5, 0.05, False, **guards)  # type: ignore[arg-type]


SEIZE = [doc("bs-1", "Police seize $1M from the BlackSuit ransomware gang", "Police seized crypto.", "A"),
         doc("bs-2", "Police seize $1M from the BlackSuit ransomware gang", "Police seized crypto.", "B", 1),
         doc("zp-1", "Police seize $2.8M from a Zeppelin ransomware operator", "Police seized crypto.", "C", 2),
         doc("zp-2", "Police seize $2.8M from a Zeppelin ransomware operator", "Police seized crypto.", "D", 3)]


def test_groups_agreeing_on_different_amounts_stay_apart() -> None:
    assert len(cluster(SEIZE, model=_plain_model())) == 1  # alike enough to chain without the guard
    stories_ = cluster(SEIZE, model=_plain_model(figure_guard=True))
    assert sorted(sorted(s) for s in stories_) == [["bs-1", "bs-2"], ["zp-1", "zp-2"]]


def test_two_groups_joined_by_one_pair_stay_apart_with_bridges() -> None:
    # one article of the first story mentions the second in its lede: two strong cross pairs, not three
    said = "Northwind bank said the outage continues."
    docs = [doc("a-1", "Northwind bank outage after ransomware attack", said, "A"),
            doc("a-2", "Northwind bank outage after ransomware attack", said + " Engineers restored the systems overnight.",
                "B", 1),
            doc("b-1", "Contoso airline systems restored after outage", "Contoso airline said flights resume.", "C", 2),
            doc("b-2", "Contoso airline systems restored after outage", "Contoso airline said flights resume.", "D", 3)]
    assert len(cluster(docs, model=_plain_model())) == 1
    assert len(cluster(docs, model=_plain_model(bridges=3, bridge_level=0.3))) == 2
