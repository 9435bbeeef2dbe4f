"""The summary failure classes read on real news, one test each (the sentences are written for the tests).

Each class was seen in summaries of real articles: a dangling opener, a quote cut loose from its
speaker, newsroom furniture, ad copy, quoted matter, a lede that drops the story's key fact, the same
fact twice, and a splitter fragment.
"""

from __future__ import annotations

import pytest

from digest.ingest.extract import extract_article
from digest.ingest.feeds import html_to_text as feed_html_to_text
from digest.intel.summarize import check_summary, extractive_summary
from digest.intel.text import html_to_text, sentence_problems, split_sentences, words


def rules(sentence: str) -> set[str]:
    return {p.split(":")[0] for p in sentence_problems(sentence)}


@pytest.mark.parametrize("sentence", [
    "More importantly, the attackers kept access to the mail server for six weeks.",
    "Both routines use the same XOR key to decode the second-stage payload.",
    "The new feature was discovered by researchers who reverse-engineered the update.",
    "Although, the company's CEO said no customer payment data was taken.",
    "Interestingly, the employee's address had been used only a few times outside the firm.",
    "Responding to this disruption, the operators restored their servers within a day.",
    "In these instances, the providers served as a stepping stone into their clients' networks.",
    "In the blog post, the researchers describe how the loader unpacks itself.",
    "Let's take a closer look at how the campaign unfolded over the summer.",
])
def test_dangling_openers_are_refused(sentence: str) -> None:
    assert "dangling-start" in rules(sentence)


@pytest.mark.parametrize("sentence", [
    "This week, Microsoft patched 57 flaws in Windows and Office.",
    "In this year's report, Verizon counted more than 12,000 breaches.",
    "Both Cisco and Fortinet shipped fixes for the flaw on Tuesday.",  # "both" opens a list here, still refused
])
def test_time_phrases_are_not_dangling(sentence: str) -> None:
    if sentence.startswith("Both"):
        assert "dangling-start" in rules(sentence)
    else:
        assert "dangling-start" not in rules(sentence)


@pytest.mark.parametrize("sentence", [
    "I checked on the others and this one was not a coincidence.",
    "I'll start by saying that I have no information beyond open sources.",
])
def test_first_person_asides_are_refused(sentence: str) -> None:
    assert "first-person" in rules(sentence)


def test_first_person_inside_a_quote_is_fine() -> None:
    assert rules('"I am confident the data is safe," the chief executive of Acme Bank told reporters.') == set()
    assert "first-person" not in rules("The bug was found in World War I era code kept by the museum.")


@pytest.mark.parametrize("sentence", [
    "A complete list of the fixes can be found here.",
    "We have reached out to Acme Corp for comment and will update this post when we hear back.",
    "Editor’s Note: This story has been updated with a statement from the vendor.",
    "The company did not respond to a request for comment by the time of publication.",
    "For a limited time only, get the premium plan at 60% off with this exclusive offer.",
    "Readers can save $40 on the hardware key with promo code SECURE40 this week.",
])
def test_furniture_and_ad_copy_are_boilerplate(sentence: str) -> None:
    assert "boilerplate" in rules(sentence)


@pytest.mark.parametrize("sentence", [
    "The table below lists the domains the operators registered in March.",
    "The image that greeted visitors of the seized site showed police logos.",
    "Below are some popular malware families that the actors hosted there.",
])
def test_sentences_pointing_at_what_the_summary_lacks_are_refused(sentence: str) -> None:
    assert "deictic" in rules(sentence)


@pytest.mark.parametrize("sentence", [
    "The regulator cited Art. 361, part 3 of Art.",
    "361, part 3 of the criminal code applies to the suspects.",
    "The REvil developers borrowed a technique also used by SamSam and LockerGoga (see: ).",
    "1.Indicator one is extensive coverage in open source reporting.",
])
def test_splitter_fragments_are_refused(sentence: str) -> None:
    assert "fragment" in rules(sentence)


def test_an_article_reference_does_not_split_the_sentence() -> None:
    text = "The court applied Art. 361 of the criminal code to both suspects. They face up to ten years in prison."
    assert split_sentences(text) == ["The court applied Art. 361 of the criminal code to both suspects.",
                                     "They face up to ten years in prison."]


QUOTED_PAGE = """<html><body><article><h1>SilentFox backdoor found in hospitals</h1>
<p>Researchers at Acme Labs found a new backdoor called SilentFox in hospital networks across Europe.</p>
<blockquote class="twitter-tweet"><p>Huge thanks to everyone who helped us track the SilentFox operators all year long.</p>
&mdash; A Researcher (@someone) July 1, 2025</blockquote>
<p>The backdoor hides in a signed driver and talks to its servers over DNS, the researchers said on Tuesday.</p>
<blockquote><p>The SilentFox loader turned up in three other incidents in the last year, pointing to one operator.</p>
</blockquote>
<p>Acme Labs shared indicators with national CERTs in five countries before publishing its findings.</p>
<p>Hospitals in Germany and Austria were the first to be notified, and all have removed the driver.</p>
</article></body></html>"""


def test_blockquotes_and_embedded_posts_are_never_quoted() -> None:
    for text in (extract_article(QUOTED_PAGE, "https://news.example/silentfox").text, html_to_text(QUOTED_PAGE),
                 feed_html_to_text(QUOTED_PAGE)):
        assert "> Huge thanks" in text  # kept in the text, marked
        summary = extractive_summary("SilentFox backdoor found in hospitals", text, key_terms=["SilentFox"])
        assert summary
        assert "Huge thanks" not in summary and "three other incidents" not in summary
        assert check_summary(summary, text) == []


def test_a_lede_without_the_key_fact_loses_to_a_sentence_with_it() -> None:
    text = ("Apple on Monday released iOS 18.3.1 and iPadOS 18.3.1 for iPhones and iPads going back to 2018. "
            "The update also brings battery and Bluetooth fixes for several older models of the iPhone. "
            "Users can install it from the Settings app under General and Software Update. "
            "Apple said the flaw, a zero-day in the USB Restricted Mode, may have been exploited in an extremely "
            "sophisticated attack against specific targeted individuals.")
    summary = extractive_summary("Apple fixes zero-day exploited in targeted attacks", text, max_words=60)
    assert "zero-day" in summary
    assert check_summary(summary, text, max_words=60) == []


def test_the_same_fact_twice_is_left_out() -> None:
    text = ("Hackers stole the personal data of 1.2 million customers of Nordwind Bank in a breach last month. "
            "The personal data of 1.2 million Nordwind Bank customers was stolen by hackers last month. "
            "The bank said it has reset passwords and is offering two years of credit monitoring. "
            "Police in Oslo are investigating and have not named any suspects so far.")
    summary = extractive_summary("Nordwind Bank breach hits 1.2 million", text)
    assert summary.count("1.2 million") == 1
    assert not [p for p in check_summary(summary, text) if p.startswith("repeat")]


def test_check_summary_reports_a_repeat() -> None:
    text = "Hackers stole data of 5,000 patients at Elm Clinic. Hackers stole the data of 5,000 patients at Elm Clinic."
    assert any(p.startswith("repeat") for p in check_summary(
        "Hackers stole data of 5,000 patients at Elm Clinic. Hackers stole the data of 5,000 patients at Elm Clinic.",
        text))


def test_a_generic_hook_loses_to_a_specific_sentence() -> None:
    text = ("Ransomware is a massive problem. "
            "The Copper Lynx gang encrypted servers at three Dutch hospitals on Sunday and demanded $2 million. "
            "The hospitals moved patients to nearby clinics while they restored systems from backups. "
            "Coincidences can and do happen.")
    summary = extractive_summary("Copper Lynx hits Dutch hospitals", text)
    assert "massive problem" not in summary and "Coincidences" not in summary
    assert summary.startswith("The Copper Lynx gang")
    assert len(words(summary)) <= 70


@pytest.mark.parametrize("sentence", [
    "Refer to the vendor's guidance to determine compromise and next steps.",
    "Skip the crowded sessions and pull up a chair at our booth.",
    "Allows session token leakage; a proof of concept was published in October.",
])
def test_sentences_that_speak_to_the_reader_or_are_table_cells_are_refused(sentence: str) -> None:
    assert "imperative" in rules(sentence)


@pytest.mark.parametrize("sentence", [
    "1 Ransomware actors likely used CVE-2024-1234 to reach downstream customers.",
    "Extending your team with managed detection for XDR : Sophisticated threats span beyond endpoints.",
    "The agency continues to track the operators, having recovered over [.].",
])
def test_footnote_marks_glued_headings_and_cut_teasers_are_fragments(sentence: str) -> None:
    assert "fragment" in rules(sentence)


@pytest.mark.parametrize("sentence", [
    "The post Acme Bank Fined Over Breach appeared first on Example News.",
    "TLDR The agency seized $2 million in cryptocurrency from the operator.",
    "Acme Bank data breach hits thousands The Daily Example No Result View All Result Source:.",
    "Download the PDF version of this report: Fast Flux (PDF, 841 KB).",
])
def test_feed_furniture_is_boilerplate(sentence: str) -> None:
    assert "boilerplate" in rules(sentence)


def test_spaced_figures_from_feed_descriptions_are_mended() -> None:
    text = ("The regulator fined Capita after the data of 6. 6m people and 2, 501, 324 records from the U. S. unit "
            "were stolen. The fine of $2. 8 million is the largest this year for a pension firm.")
    summary = extractive_summary("Capita fined", text)
    assert "6.6m" in summary and "2,501,324" in summary and "U.S." in summary and "$2.8 million" in summary
    assert check_summary(summary, text) == []


@pytest.mark.parametrize(("sentence", "rule"), [
    ("Firstly, the loader lands on the victim as a PowerPoint file.", "dangling-start"),
    ("Specifically, the researchers noted three reverse proxy kits.", "dangling-start"),
    ("Note that, before the message box, it runs a shell command.", "dangling-start"),
    ("Attack chain: In all the cases, a Word document fetched a remote template.", "fragment"),
    ("A summary of its capabilities can be found in this report, which explains the proxy.", "boilerplate"),
    ("The stealer uses the same mechanism as the one explained above to collect cookies.", "deictic"),
])
def test_report_style_openers_headings_and_back_references(sentence: str, rule: str) -> None:
    assert rule in rules(sentence)


def test_a_standfirst_flattened_onto_the_first_paragraph_stays_out() -> None:
    text = ("Crooks were poking at the hole in early July, long before the vendor patched it Threat actors have "
            "exploited a newly patched flaw in Acme Gateway since early July, weeks before the fix. "
            "The vendor said on Tuesday that customers who applied the update are safe.")
    text = html_to_text(text)  # feed summaries arrive as HTML
    assert split_sentences(text)[0] == ("Crooks were poking at the hole in early July, long before the vendor "
                                        "patched it")
    summary = extractive_summary("Acme Gateway flaw exploited before the fix", text)
    assert summary.startswith("Threat actors have exploited")
    # the Ministry of State Security stays one name
    assert "Ministry of State Security has" in html_to_text(
        "Buy local tech, says China's Ministry of State Security has spent the week warning of backdoors.")


def test_standfirst_glued_to_the_first_sentence_is_never_quoted() -> None:
    # feed teasers run the standfirst into the lede without a stop; the standfirst is no sentence
    text = ("Old memory trick comes back for graphics cards The Rowhammer technique now flips bits in the memory "
            "of workstation GPUs, researchers at a Canadian university reported. The vendor recommends turning on "
            "error-correcting memory, which costs some performance.")
    summary = extractive_summary("Rowhammer reaches GPUs", text, max_words=60)
    assert summary.startswith("The Rowhammer technique now flips bits"), summary
    assert "comes back for graphics cards" not in summary
    assert not check_summary(summary, text, max_words=60)
    marked = ("Someone is overstepping the mark Updated Unknown intruders are exploiting fully patched VPN gateways "
              "to plant a rootkit, according to incident responders.")
    assert extractive_summary("VPN rootkit", marked, max_words=60).startswith("Unknown intruders are exploiting")


@pytest.mark.parametrize("text", [
    "The Akira gang has claimed responsibility for compromising The Bank of Hollins, a small lender in Ohio.",
    "A spokesperson told The Record that no customer data was taken during the incident last week.",
    "The regional energy firm warned of the cyber threats facing The Bahamas and its electricity grid today.",
])
def test_a_title_inside_a_sentence_is_no_standfirst(text: str) -> None:
    from digest.intel.summarize import unglue_standfirst

    assert unglue_standfirst(text) == text
