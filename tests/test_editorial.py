"""Editorial judgments: the exploited flag per CVE, KEV, sponsored items, importance, `digest analyse`."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_config
from httpserver import LocalHTTPServer, http_server_fixture  # noqa: F401  (provides the http_server fixture)

from digest.cli.main import cli
from digest.config import load_config
from digest.intel.editorial import importance_features, judge, sponsored_reasons, story_importance
from digest.intel.kev import load_kev, parse_kev
from digest.intel.topics import cve_flags, exploited_claim


@pytest.fixture(autouse=True)
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """var/kb (where `digest kev update` installs) is under the working directory: keep it in tmp."""
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------------------- exploited per CVE


@pytest.mark.parametrize(
    "sentence",
    [
        "The company said it is not aware of any exploitation of the flaw.",
        "There is no evidence that CVE-2031-0001 has been exploited in the wild.",
        "Successful exploitation could allow a remote attacker to run arbitrary code.",
        "The bug could be exploited to take over the server.",
        "A proof-of-concept exploit targeting the flaw was published on GitHub.",
        "Researchers warn that attackers may soon be exploiting the vulnerability.",
        "Attackers exploiting the flaw could gain root privileges.",
    ],
)
def test_no_exploitation_claim(sentence: str) -> None:
    assert exploited_claim(sentence) == ""


@pytest.mark.parametrize(
    "sentence",
    [
        "Microsoft said CVE-2031-0001 has been exploited in the wild.",
        "CISA added the flaw to its Known Exploited Vulnerabilities catalog on Monday.",
        "Hackers are exploiting a critical flaw in the file-transfer servers.",
        "The vulnerability is being actively exploited, which could let attackers steal data.",
    ],
)
def test_exploitation_claim(sentence: str) -> None:
    assert exploited_claim(sentence) != ""


def test_flag_binds_to_the_cve_of_the_sentence() -> None:
    text = ("The update fixes CVE-2031-1111, CVE-2031-2222 and CVE-2031-3333. The vendor said CVE-2031-2222 "
            "has been exploited in the wild in limited attacks. It is not aware of any exploitation of the others.")
    assert cve_flags("Vendor fixes three flaws", text) == (
        ("CVE-2031-1111", False), ("CVE-2031-2222", True), ("CVE-2031-3333", False))


def test_background_sentence_flags_only_its_own_cve() -> None:
    text = ("The new flaw, CVE-2031-4444, lets an attacker bypass login. Successful exploitation could give full "
            "control. Last year attackers actively exploited CVE-2029-9999 in the same product.")
    assert dict(cve_flags("Gateway flaw patched", text)) == {"CVE-2031-4444": False, "CVE-2029-9999": True}


def test_single_cve_story_takes_a_flag_from_a_sentence_without_an_id() -> None:
    text = "The vendor patched CVE-2031-5555 on Tuesday. Attackers have been exploiting the flaw since early June."
    assert cve_flags("Router bug patched", text) == (("CVE-2031-5555", True),)


def test_a_sentence_that_points_back_takes_the_ids_of_the_one_before() -> None:
    text = ("Two bugs were fixed in the mail server, CVE-2031-6661 and CVE-2031-6662. Both flaws are being "
            "actively exploited. The release also fixes CVE-2031-7777 in the web console.")
    assert dict(cve_flags("Mail server patched", text)) == {
        "CVE-2031-6661": True, "CVE-2031-6662": True, "CVE-2031-7777": False}


def test_a_story_without_any_claim_flags_nothing() -> None:
    text = "Patch Tuesday fixes CVE-2031-0101 and CVE-2031-0102, both rated critical."
    assert [e for _c, e in cve_flags("Patch Tuesday", text)] == [False, False]


def test_kev_listed_cve_is_exploited_whatever_the_text_says() -> None:
    text = "The update fixes CVE-2031-1234 and CVE-2031-5678. No exploitation is known."
    assert dict(cve_flags("Update", text, frozenset({"CVE-2031-5678"}))) == {
        "CVE-2031-1234": False, "CVE-2031-5678": True}


# ---------------------------------------------------------------------------- KEV catalogue

KEV_FIXTURE = {
    "title": "CISA Catalog of Known Exploited Vulnerabilities (test fixture)",
    "catalogVersion": "2031.01.01",
    "vulnerabilities": [
        {"cveID": "CVE-2031-5678", "vendorProject": "Example", "product": "Gateway"},
        {"cveID": "cve-2030-0042", "vendorProject": "Example", "product": "Mail"},
    ],
}


def test_parse_kev_reads_ids_and_refuses_other_json() -> None:
    assert parse_kev(KEV_FIXTURE) == {"CVE-2031-5678", "CVE-2030-0042"}
    with pytest.raises(ValueError, match="vulnerabilities"):
        parse_kev({"values": []})
    with pytest.raises(ValueError, match=r"vulnerabilities\[0\]"):
        parse_kev({"vulnerabilities": [{"cveID": "not a cve"}]})


def test_kev_update_from_file_installs_and_analyse_uses_it(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    src = tmp_path / "known_exploited_vulnerabilities.json"
    src.write_text(json.dumps(KEV_FIXTURE), encoding="utf-8")
    runner = CliRunner()
    line = json.dumps({"id": 1, "title": "Gateway update", "text": "The update fixes CVE-2031-5678.",
                       "source": "x", "published": None})
    before = runner.invoke(cli, ["--config", str(cfg), "analyse", "-"], input=line + "\n")
    assert json.loads(before.stdout)["cves"] == [{"id": "CVE-2031-5678", "exploited": False}]
    result = runner.invoke(cli, ["--config", str(cfg), "kev", "update", str(src)])
    assert result.exit_code == 0, result.output
    assert "2 CVEs" in result.stdout
    assert load_kev(load_config(cfg, env={}, root=tmp_path).path("var/kb")) == {"CVE-2031-5678", "CVE-2030-0042"}
    after = runner.invoke(cli, ["--config", str(cfg), "analyse", "-"], input=line + "\n")
    assert json.loads(after.stdout)["cves"] == [{"id": "CVE-2031-5678", "exploited": True}]


def test_kev_update_from_url_and_bad_catalogue(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    cfg = write_config(tmp_path)
    http_server.route("/kev.json", body=json.dumps(KEV_FIXTURE).encode())
    http_server.route("/galaxy.json", body=json.dumps({"type": "threat-actor", "values": []}).encode())
    runner = CliRunner()
    ok = runner.invoke(cli, ["--config", str(cfg), "kev", "update", http_server.url("/kev.json")])
    assert ok.exit_code == 0 and "2 CVEs" in ok.stdout
    bad = runner.invoke(cli, ["--config", str(cfg), "kev", "update", http_server.url("/galaxy.json")])
    assert bad.exit_code == 1 and "not a KEV catalogue" in bad.output
    # the installed catalogue stays
    assert load_kev(load_config(cfg, env={}, root=tmp_path).path("var/kb")) == {"CVE-2031-5678", "CVE-2030-0042"}


# ---------------------------------------------------------------------------- sponsored


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Get 70% off a lifetime VPN subscription this week", "Use the code at checkout."),
        ("The best VPN services of 2031, tested", "We may earn a commission when you buy through our links."),
        ("Join our webinar: stopping ransomware before it starts", "Register now."),
        ("Why identity is the new perimeter", "Attackers log in rather than break in. Sponsored and written by Acme."),
        ("Acme Security shares jump 12% after earnings beat", "Revenue rose year-over-year, analysts expected less."),
        ("Learn ethical hacking with this $29 course bundle", "The bundle includes 14 courses."),
        ("Acme Networks Launches Quantum-Safe Firewall for Small Businesses",
         "SPRINGFIELD, Ill. Acme Networks (NASDAQ: ACME) today announced its new firewall."),
        ("Smith & Jones LLP Is Investigating Claims on Behalf of Example Clinic Patients",
         "If you received a breach notice, contact our attorneys for a free consultation."),
        ("Why Security Leaders Must Rethink Backups", "Backups are the last line of defence."),
        # a stock piece under an incident headline: a ticker in it and an exchange listing in the text
        ("Acme Health (ACMH) Confirms Ransomware Attack Impacted 2.7M People",
         "Acme Health Inc. (NYSE: ACMH) is one of the best long-term stocks to invest in, analysts say."),
        ("Acme nosedives as Wall Street worries over data breach", "The shares fell 9%."),
        # a wire-service press release in any language
        ("Acme lanza un bloqueo basado en IA para la recuperación de ransomware",
         "MARLBOROUGH, Mass.--(BUSINESS WIRE)--Acme®, la única solución de almacenamiento de respaldo."),
        # a product press release whose threat words say what the product is for
        ("Acme Launches Industry-First Coverage for Ransomware and Financial Fraud",
         "SAN FRANCISCO--(BUSINESS WIRE)--Acme launches industry-first coverage."),
        ("Stop Remote Ransomware Attacks with Acme Endpoint Security", "Acme Endpoint Security blocks remote encryption."),
        # course, event and offer plugs
        ("Courses on Cyber Security and Ethical Hacking", "The academy has invited online applications."),
        ("Jane Doe to Headline Fireside Chat on Quantum Threat at Example GRC Conference 2031", "A marquee session."),
        ("Example Hacking Medicine 2031 Now Open for Applications", "The hackathon runs in November."),
        ("High Ransomware Payments Spark Acme to Release Free Baseline IT Security Audit", "Acme, a leader in IT."),
        # affiliate listicles and stock-tip headlines
        ("11 Most Effective Cough Drops to Soothe Your Cold", "Our picks."),
        ("Acme Boosts Threat Detection With Example Deal: A Gamechanger?", "Acme teams with Example."),
        # a law firm's notice worded the other way round
        ("Example Clinic Data Breach Claims Being Investigated by Smith Jones", "PITTSBURGH (GLOBE NEWSWIRE) -- ..."),
        ("Smith Jones Investigates Example Healthcare Data Breach Claims", "PITTSBURGH (GLOBE NEWSWIRE) -- ..."),
        ("Acme QHora Routers Now Support IPS, Enhancing Ransomware Defense", "Acme today announced IPS support."),
        # the guide's securities class-action notices, market-report promotions and "Company (TICKER) Stock:" pieces
        ("Acme, Inc. Securities Fraud Class Action Result of Data Breach - Investors may Contact Smith Law",
         "NEW YORK (GLOBE NEWSWIRE) -- ..."),
        ("Ransomware Protection Market Size, Share and Forecast to 2032: Key Players", "The market will grow."),
        ("ACME, Inc. (ACM) Stock: Holds Steady As Company Probes Reported Data Breach", "Shares were flat."),
    ],
)
def test_sponsored(title: str, text: str) -> None:
    assert judge(title, text).sponsored, sponsored_reasons(title, text)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Ransomware gang leaks data stolen from hospital", "The gang published 40 GB of patient records."),
        ("Fake VPN apps deliver banking malware", "Researchers found ten apps posing as free VPN services."),
        ("Scammers lure shoppers with fake Black Friday sites", "Phishing pages copy well-known brands."),
        ("Acme fixes exploited flaw in its firewall", "The company said the bug is exploited in the wild."),
        ("Minister cannot say whether the attack was state-sponsored", "Officials are investigating."),
        ("Hackers target law firms with fake invoices", "The phishing mails pose as court papers."),
        ("Acme Networks confirms ransomware hit, 12,000 customers affected", "The company said data was stolen."),
        ("Security startup secures $40 million growth round", "The funding was led by investors."),
        # on a wire, but news: research, a funding round, an incident notice
        ("Acme Report Finds Ransomware Payouts Hit Record Highs",
         "SEATTLE--(BUSINESS WIRE)--Acme today released research on ransomware payouts."),
        ("Acme Airlines: Information Regarding Customer Data Breach",
         "HANOI--(BUSINESS WIRE)--Acme Airlines informs customers of a data breach at a supplier."),
        # a company's verb after which an incident word stands is no press release
        ("Acme Releases Urgent Patch for Flaw Exploited in Ongoing Attacks", "Acme said attacks began on Friday."),
        ("Acme Partners confirms ransomware hit, 12,000 caught in data dragnet", "The firm notified regulators."),
        # an acronym in brackets is no ticker without an exchange listing
        ("Cybersecurity agency (CISA) warns of attacks on water utilities", "The agency urged operators to act."),
        # a vendor's research on a wire is news, whatever verb the company uses
        ("Acme Business Releases 2031 Cybersecurity Threat Report: 34 Billion Reasons to Get Ready",
         "PHILADELPHIA--(BUSINESS WIRE)--Acme today released its threat report."),
        ("Singapore hosted the 5th Counter Ransomware Initiative Summit", "SINGAPORE /PRNewswire/ CRI members met."),
        ("Police investigate claims hackers stole customer data", "The company said it is looking into it."),
    ],
)
def test_not_sponsored(title: str, text: str) -> None:
    assert not judge(title, text).sponsored, sponsored_reasons(title, text)


# ---------------------------------------------------------------------------- importance


def test_importance_counts_exploitation_and_outlets_and_reads_scale() -> None:
    plain = judge("Vendor ships a new dashboard", "The feature is available today.")
    exploited = judge("Firewall flaw under attack", "CVE-2031-0500 is being actively exploited in the wild.")
    assert exploited.importance > plain.importance
    assert story_importance([plain], outlets=4) > story_importance([plain], outlets=1)
    features = importance_features("Retailer breach exposes 12 million customers", "Records were stolen.",
                                   primary=False, cves=(), kev=frozenset(), says_exploited=False,
                                   source_kind="news", published=None, now=None)
    assert features["scale"] == pytest.approx(math.log10(12e6))
    assert importance_features("Crypto exchange loses $1.5 billion", "", primary=False, cves=(), kev=frozenset(),
                               says_exploited=False, source_kind="news", published=None,
                               now=None)["scale"] == pytest.approx(math.log10(1.5e9))


def test_importance_prefers_recent_articles_when_now_is_given() -> None:
    now = datetime(2031, 1, 10, tzinfo=UTC)
    fresh = judge("Breach at a bank", "Data was stolen.", published=now - timedelta(hours=2), now=now)
    stale = judge("Breach at a bank", "Data was stolen.", published=now - timedelta(days=6), now=now)
    assert fresh.importance > stale.importance


# ---------------------------------------------------------------------------- the contract


def test_analyse_contract(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    lines = [
        json.dumps({"id": "a", "title": "APT29 phishing hits diplomats",
                    "text": "APT29, which Microsoft tracks as Midnight Blizzard, sent phishing mail to embassies.",
                    "source": "One", "published": "2031-01-02T10:00:00Z"}),
        "{not json",
        json.dumps({"id": "b", "title": "Midnight Blizzard returns",
                    "text": "Midnight Blizzard targeted ministries again, the researchers said.",
                    "source": "Two", "published": "2031-01-03"}),
        json.dumps({"id": "c", "title": "Gateway flaws", "text": "CVE-2031-0001 is exploited in the wild. "
                    "CVE-2031-0002 is not known to be exploited.", "source": "Three", "published": "yesterday"}),
        json.dumps({"id": 4, "title": "Save 50% on antivirus deals", "text": "", "source": "Four"}),
        json.dumps(["not", "an", "object"]),
    ]
    result = CliRunner().invoke(cli, ["--config", str(cfg), "analyse", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 4", "line 6"]
    assert "not an ISO date" in errors[1]
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", 4]
    for o in out:
        assert set(o) == {"id", "actors", "topic", "cves", "sponsored", "importance", "summary"}
        assert o["topic"] in {"exploited", "ransomware", "breach", "malware", "policy", "industry", "other"}
        assert sum(a["primary"] for a in o["actors"]) <= 1
        assert isinstance(o["importance"], float | int)
    a, b, d = out
    assert [x["id"] for x in a["actors"]] == [x["id"] for x in b["actors"]] == ["apt29"]
    assert a["actors"][0]["primary"] and b["actors"][0]["primary"]
    assert d["sponsored"] and not a["sponsored"]
    assert a["summary"]


def test_analyse_explain_says_why(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "title": "Gateway flaw exploited", "text": "CVE-2031-0001 is exploited "
                              "in the wild.", "source": "x", "published": "2031-01-01"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "analyse", "--explain", str(src)])
    assert result.exit_code == 0
    obj = json.loads(result.stdout)
    assert obj["cves"] == [{"id": "CVE-2031-0001", "exploited": True}]
    why = "\n".join(obj["why"])
    assert "CVE-2031-0001 exploited (" in why and "section" in why and "importance" in why


def test_analyse_counts_outlets_of_the_same_story_in_the_batch(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    story = ("Attackers breached the city's water utility network and stole billing records of residents, "
             "officials said on Monday, adding that operations were not affected.")
    lines = [json.dumps({"id": i, "title": "Hackers breach city water utility, steal billing records",
                         "text": story, "source": f"Outlet {i}", "published": "2031-01-02T10:00:00Z"})
             for i in range(3)]
    lines.append(json.dumps({"id": 9, "title": "Hackers breach regional airline, steal loyalty data",
                             "text": "The airline said loyalty account data was taken in an intrusion.",
                             "source": "Outlet 9", "published": "2031-01-02T10:00:00Z"}))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "analyse", "--explain", "-"],
                                input="\n".join(lines) + "\n")
    out = {o["id"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert any(w.startswith("outlets in batch: 3 ") for w in out[0]["why"])
    assert out[0]["importance"] > out[9]["importance"]


def test_headline_claim_spreads_only_when_no_sentence_names_its_cve() -> None:
    listing = ("The agencies list the flaws below. CVE-2031-0011: affects a VPN gateway. "
               "CVE-2031-0012: affects a mail server.")
    assert [e for _c, e in cve_flags("Top routinely exploited vulnerabilities of 2031", listing)] == [True, True]
    single = "The flaw, CVE-2031-0021, is a variant of CVE-2031-0022, which was fixed last year."
    assert dict(cve_flags("Unpatched zero-day actively exploited", single)) == {
        "CVE-2031-0021": True, "CVE-2031-0022": False}
    named = "CVE-2031-0031 is exploited in the wild. The update also fixes CVE-2031-0032."
    assert dict(cve_flags("Flaws exploited in attacks", named)) == {"CVE-2031-0031": True, "CVE-2031-0032": False}


@pytest.mark.parametrize(
    "sentence",
    [
        "According to the vendor, the vulnerability is currently not being exploited in the wild.",
        # scanning for a flaw is not exploiting it (the guide)
        "The operators used a scanner to scan for servers vulnerable to CVE-2031-0042.",
        # a condition, not a claim
        "If attackers exploited the flaw, they could take over the server.",
        "Exploitation of the flaw requires local access to the machine.",
        "Threat actors could leverage the vulnerability to gain access.",
    ],
)
def test_more_negations_and_scanning(sentence: str) -> None:
    assert exploited_claim(sentence) == ""


@pytest.mark.parametrize(
    "sentence",
    [
        # an advisory's tactics line with its ATT&CK ID lists what the actors exploit (relabelled, issue 13)
        "Exploitation of public-facing applications [ T1190 ] such as CVE-2031-0041.",
        "Throughout the campaign the unit weaponized a mail-client vulnerability ( CVE-2031-0043 ) [ T1187 ].",
        # actors' use of a flaw, in the verbs advisories use
        "Their playbook includes leveraging vulnerabilities in VPN appliances ( CVE-2031-0044 ).",
        "These actors also used a series of webmail CVEs ( CVE-2031-0045 ) to run shell commands.",
        "The tool attempts to exploit CVE-2031-0046 against a domain controller.",
        # a relative clause after the claim describes the flaw, it does not hedge the claim
        "Since last year, the actors leveraged an archiver flaw ( CVE-2031-0047 ) allowing code execution.",
        "The crew exploited a gateway bug that could let anyone read files.",
    ],
)
def test_actors_use_of_a_flaw_is_a_claim(sentence: str) -> None:
    assert exploited_claim(sentence) != ""


def test_cves_listed_under_an_exploited_heading() -> None:
    text = ("The actors target mail servers. Appendix B: CVEs exploited. CVE-2031-0061. CVE-2031-0062. "
            "Mitigations follow. Patch CVE-2031-0063 as well.")
    assert dict(cve_flags("Advisory on a state actor", text)) == {
        "CVE-2031-0061": True, "CVE-2031-0062": True, "CVE-2031-0063": False}


def test_nominal_exploitation_claim_binds_its_cves() -> None:
    text = "The report ties the intrusions to the exploitation of CVE-2031-0051 and CVE-2031-0052 since May."
    assert [e for _c, e in cve_flags("Gateway flaws used to drop a loader", text)] == [True, True]


# ---------------------------------------------------------------------------- the section model


@pytest.mark.parametrize(
    ("title", "text", "section"),
    [
        ("Police arrest five suspects and seize servers of ransomware gang",
         "Europol said officers seized servers and charged the suspects.", "policy"),
        ("Security startup raises $50 million in Series B funding",
         "The company will use the funding to hire and expand its platform.", "industry"),
        ("Hackers steal personal data of 2 million customers from retailer",
         "The retailer said names, addresses and payment details were stolen in the breach.", "breach"),
        ("Vendor patches CVE-2031-0700 after attackers exploit it in the wild",
         "The company said CVE-2031-0700 has been actively exploited in attacks.", "exploited"),
    ],
)
def test_shipped_section_model_on_clear_cases(title: str, text: str, section: str) -> None:
    from digest.intel import section_model

    assert section_model._model() is not None, "the packaged model must load"
    assert judge(title, text).topic == section


def test_section_model_training_learns_a_separable_set() -> None:
    import numpy as np

    from digest.intel.section_model import DENSE, DIM, train

    rng = np.random.default_rng(0)
    xs = np.zeros((60, 2 * DIM + len(DENSE)))
    ys = []
    for i in range(60):
        label = ("policy", "breach", "other")[i % 3]
        xs[i, 2 * DIM + (i % 3)] = 1.0 + rng.random()
        ys.append(label)
    model = train(xs, ys, l2=1e-3)
    w, b = np.asarray(model["weights"]), np.asarray(model["bias"])
    pred = [model["classes"][k] for k in np.argmax(xs @ w + b, axis=1)]
    assert pred == ys


def test_shipped_section_model_reads_the_bundled_embedding() -> None:
    """The installed design weighs wordllama's bundled embedding (loaded from the package, no download)."""
    import numpy as np

    from digest.intel import section_model
    from digest.intel.topics import classify

    w, _b, _classes = section_model._model()
    assert w.shape[0] == section_model.BASE + section_model.EMB_DIM
    title, text = "Hackers steal data of 2 million customers", "The retailer said names and addresses were stolen."
    x = section_model.features(title, text, info=classify(title, text), cve_exploited=False, has_actor=False)
    block = x[section_model.BASE:]
    assert block.shape == (section_model.EMB_DIM,)
    assert np.linalg.norm(block) == pytest.approx(section_model.EMB_SCALE, rel=1e-3)
    # the block tells stories apart: a breach headline is nearer another breach than a funding round
    other = section_model.embedding("Retailer confirms breach exposed customer records", "")
    funding = section_model.embedding("Security startup raises $50 million in Series B funding", "")
    assert float(block @ other) > float(block @ funding)


def test_section_model_without_the_embedding_package_falls_back_to_words_and_rules(monkeypatch) -> None:
    import numpy as np

    from digest.intel import section_model, story_features

    monkeypatch.setattr(story_features, "embedder", lambda: None)
    assert not np.any(section_model.embedding("Police arrest five suspects", "Europol said so."))
    assert judge("Police arrest five suspects and seize servers of ransomware gang",
                 "Europol said officers seized servers and charged the suspects.").topic == "policy"


def test_section_model_file_without_an_embedding_block_still_loads(tmp_path: Path, monkeypatch) -> None:
    import numpy as np

    from digest.intel import section_model

    classes = ["breach", "policy"]
    w = np.zeros((section_model.BASE, 2))
    w[2 * section_model.DIM + section_model.DENSE.index("cue_enforcement"), 1] = 5.0
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"classes": classes, "weights": w.tolist(), "bias": [0.0, 0.0]}), encoding="utf-8")
    monkeypatch.setattr(section_model, "MODEL_PATH", path)
    section_model._model.cache_clear()
    try:
        assert section_model._model() is not None
        assert judge("Police arrest five suspects", "Prosecutors charged them in court.").topic == "policy"
    finally:
        monkeypatch.undo()
        section_model._model.cache_clear()


def test_a_batch_embeds_once_and_judges_as_one_article_at_a_time(monkeypatch) -> None:
    """analyse computes the section model's embedding block for the batch in one call, same result."""
    import numpy as np

    from digest.config import Config
    from digest.intel import section_model
    from digest.intel.analyse import AnalyseDoc, analyse_batch

    stories = [("Hackers steal personal data of 2 million customers", "The retailer said names were stolen."),
               ("Police arrest five suspects and seize servers", "Europol said officers charged the suspects."),
               ("Security startup raises $50 million in Series B funding", "The company will hire.")]
    one_by_one = [judge(t, x).topic for t, x in stories]
    calls = []
    real = section_model.embeddings

    def counting(pairs):
        calls.append(len(pairs))
        return real(pairs)

    monkeypatch.setattr(section_model, "embeddings", counting)
    out = analyse_batch(Config(), [AnalyseDoc(id=str(i), title=t, text=x) for i, (t, x) in enumerate(stories)],
                        summaries=False)
    assert [o["topic"] for o in out] == one_by_one
    assert calls == [3]
    assert np.allclose(real(stories)[1], section_model.embedding(*stories[1]))


# ---------------------------------------------------------------------------- section decision


def test_an_ad_is_filed_under_other_or_industry_and_a_clear_exploited_case_under_exploited() -> None:
    import numpy as np

    from digest.intel.section_model import SECTIONS, decide

    logits = np.array([0.0, 0.0, 5.0, 0.0, 0.0, 1.0, 2.0])  # breach first, then other
    assert decide(logits, SECTIONS, sponsored=False, exploited=False) == "breach"
    assert decide(logits, SECTIONS, sponsored=True, exploited=False) == "other"
    assert decide(logits, SECTIONS, sponsored=False, exploited=True) == "exploited"
    notice = judge("DATA BREACH ALERT: Smith & Jones LLP Is Investigating Claims on Behalf of Example Clinic Patients",
                   "Example Clinic suffered a data breach. Contact our attorneys for a free consultation.")
    assert notice.sponsored and notice.topic in ("other", "industry")
    bug = judge("Acme patches firewall flaw CVE-2031-0001", "CVE-2031-0001 is being actively exploited in the wild.")
    assert bug.topic == "exploited"
def test_importance_reads_the_section_and_the_embedding_an_off_topic_piece_ranks_low() -> None:
    """The shipped weights (fitted on dev): a celebrity piece that mentions hacking ranks below a breach."""
    from digest.intel.editorial import importance_weights, needs_embedding

    gossip = judge("TV star 'shook to the core' over scary baby monitor hacking",
                   "The reality star told fans she was shaken after hearing a voice from the baby monitor.")
    breach = judge("Bank confirms attackers stole customer records",
                   "The bank said attackers copied names and account numbers from a customer database.")
    assert gossip.topic == "other" and breach.topic == "breach"
    assert breach.importance > gossip.importance
    assert importance_weights()["topic_other"] < importance_weights()["topic_breach"]
    assert needs_embedding()  # the shipped model reads the embedding block
    why = judge("Bank confirms attackers stole customer records", "Data was copied.", explain=True).why
    assert any("embedding=" in w and "topic_breach=" in w for w in why), why


def test_an_actor_advisory_listing_exploited_cves_is_not_forced_into_exploited() -> None:
    """The CVEs a gang uses among its tools do not make its advisory a vulnerability story; a flaw headline does."""
    from digest.intel.section_model import clear_exploited
    from digest.intel.topics import classify

    text = "The Medusa actors exploited CVE-2024-1709 in ScreenConnect to gain initial access."
    info = classify("#StopRansomware: Medusa Ransomware", text)
    assert info.cves
    assert not clear_exploited("#StopRansomware: Medusa Ransomware", info, True, has_actor=True)
    assert clear_exploited("#StopRansomware: Medusa Ransomware", info, True, has_actor=False)
    flaw = "ScreenConnect flaw exploited by Medusa ransomware"
    assert clear_exploited(flaw, classify(flaw, text), True, has_actor=True)


def test_coverage_links_one_event_but_not_two_products_sharing_a_headline_vocabulary() -> None:
    """Words alone link two different bugs ("critical ... unpatched ... exploited", two CVEs); the
    story model's confirmation keeps them apart, and two outlets on one event stay linked."""
    from datetime import UTC, datetime

    from digest.intel.editorial import coverage

    titles = ["Critical Unpatched Zendesk Zero-Day Actively Exploited, Breaches 60+ Company Servers",
              "Hackers Exploit Critical Veeam Flaw to Gain Admin Access on Unpatched Servers",
              "Zendesk zero-day CVE-2026-2222 under active exploitation, 60 company servers breached"]
    texts = [("A critical zero-day in Zendesk Server, tracked as CVE-2026-2222, has been weaponized in an active, "
             "large-scale exploitation campaign: more than 60 unpatched company servers were breached."),
             ("Threat actors are abusing CVE-2026-1111, a critical flaw in Veeam Backup and Replication, to gain "
             "admin access on unpatched servers, researchers at Huntress said on Friday."),
             ("Attackers are exploiting CVE-2026-2222, a Zendesk Server zero-day, in a large campaign; some 60 "
             "company servers were breached so far.")]
    when = [datetime(2026, 3, 2, 9, tzinfo=UTC)] * 3
    words = coverage(titles, texts, when, sources=["A", "B", "C"], confirm=0)
    confirmed = coverage(titles, texts, when, sources=["A", "B", "C"])
    assert 1 in words[0]  # the words alone take the Veeam story for the same event
    assert 1 not in confirmed[0] and 0 not in confirmed[1]
    assert 2 in confirmed[0] and 0 in confirmed[2]
