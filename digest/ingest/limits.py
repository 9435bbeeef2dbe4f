"""Caps on the fields of a stored article and feed that reach a mail or a web page.

A feed is untrusted input: one item with a 1 MB title was printed whole in every subscriber's
mail (a 2.1 MB message, refused by relays as too big). The caps are applied where a value is
stored, so every later reader (compose, render, the archive, the CLI) gets bounded values
without checking again. They are far above what any real headline or summary needs.
"""

from __future__ import annotations

__all__ = ["MAX_CVES", "MAX_NAME_CHARS", "MAX_SUMMARY_CHARS", "MAX_TITLE_CHARS", "MAX_URL_CHARS", "cut_at_word"]

MAX_TITLE_CHARS = 300  # a long real headline is ~150
MAX_SUMMARY_CHARS = 1200  # the summarizer aims at ~70 words (~500 characters)
MAX_NAME_CHARS = 200  # a source's name ("Palo Alto Networks Unit 42 Threat Research" is 42)
MAX_URL_CHARS = 2000  # the guid and url columns hold 2048; longer links are dropped, not cut
MAX_CVES = 30  # CVE ids kept per article (a Patch Tuesday round-up lists ~100: the first 30 show)


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at the last space before it, plus "…".

    A "word" longer than most of the limit (no space in its second half) is cut inside, so the
    result always fits: ``len(cut_at_word(t, n)) <= n``.

    >>> cut_at_word("Ransomware gang hits a hospital", 20)
    'Ransomware gang…'
    """
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip() + "…"
