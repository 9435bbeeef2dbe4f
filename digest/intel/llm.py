"""Optional abstractive summaries from any OpenAI-compatible chat endpoint (Ollama, llama.cpp, vLLM, OpenAI).

Off by default (``summarizer.backend = "extractive"``). With ``backend = "openai"`` each article is
sent to ``POST {endpoint}/chat/completions``; the reply is accepted only when it passes
:func:`verify_summary` (every CVE ID, number and name in it appears in the article) and the summary
rules of :func:`digest.intel.summarize.check_summary`. Otherwise, and whenever the endpoint fails
(error status, timeout, unreadable reply), the extractive summary is used. After a transport
failure (refused connection, timeout, 5xx) the endpoint is skipped for ``cooldown_seconds`` so a
dead server costs one timeout per batch, not one per article.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from digest.intel.summarize import ExtractiveSummarizer, check_summary
from digest.intel.text import STOPWORDS, clean_text, words
from digest.intel.topics import extract_cves

__all__ = ["LLMError", "OpenAISummarizer", "chat_url", "verify_summary"]

log = logging.getLogger(__name__)

_MAX_ARTICLE_CHARS = 8000

SYSTEM_PROMPT = (
    "You summarise cyber-security news for a daily newsletter. Write 2 or 3 complete, plain, factual "
    "sentences, at most {max_words} words in total: who did what to whom, when, and who reported it. "
    "Use only facts, names and numbers stated in the article. Every sentence must stand on its own: name "
    "its subject and never begin with He, She, They, It, This or However. No questions, no links, no "
    "hype, no preamble: reply with the summary only."
)


class LLMError(Exception):
    """The endpoint failed or its reply was unusable; ``transport`` is True for network-level failures."""

    def __init__(self, reason: str, *, transport: bool = False) -> None:
        super().__init__(reason)
        self.transport = transport


def chat_url(endpoint: str) -> str:
    """``…/chat/completions`` for a base like ``http://127.0.0.1:11434/v1`` (or the full URL as given)."""
    base = endpoint.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if not re.search(r"/v\d+$", base):
        base += "/v1"
    return base + "/chat/completions"


_CAP_WORD = re.compile(r"(?<![\w-])[A-Z][\w’'-]*[\w]|(?<![\w-])[A-Z](?![\w-])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_COMMON_STARTERS = STOPWORDS | frozenset(
    ["a", "an", "the", "in", "on", "at", "by", "for", "from", "with", "after", "before", "during", "over", "since", "as", "according", "researchers", "officials", "attackers", "hackers", "victims", "users", "customers", "organisations", "organizations", "authorities", "investigators", "experts", "security", "cybersecurity", "government", "police", "law", "enforcement"]
)


def _norm_number(s: str) -> str:
    s = s.replace(",", "")
    return s.rstrip(".").rstrip("0").rstrip(".") if "." in s else s


def verify_summary(summary: str, article: str) -> list[str]:
    """Claims in ``summary`` the article does not support: CVE IDs, numbers and capitalised names."""
    problems: list[str] = []
    art_low = article.lower()
    art_cves = set(extract_cves(article))
    for cve in extract_cves(summary):
        if cve not in art_cves:
            problems.append(f"unsupported CVE {cve}")
    art_numbers = {_norm_number(n) for n in _NUMBER.findall(article)}
    summary_wo_cves = re.sub(r"CVE-\d{4}-\d+", " ", summary, flags=re.IGNORECASE)
    for num in _NUMBER.findall(summary_wo_cves):
        if _norm_number(num) not in art_numbers:
            problems.append(f"unsupported number {num}")
    art_words = set(re.findall(r"[\w’'-]+", art_low))
    for m in _CAP_WORD.finditer(summary_wo_cves):
        word = m.group(0).strip("’'-")
        low = word.lower()
        if low in art_words or re.search(rf"(?<![\w]){re.escape(low)}(?![\w])", art_low):
            continue
        sentence_start = m.start() == 0 or re.search(r"[.!?][\"'”’)]*\s+$", summary_wo_cves[: m.start()])
        if sentence_start and low in _COMMON_STARTERS:
            continue
        problems.append(f"unsupported name {word}")
    return problems


def _clean_reply(content: str) -> str:
    s = re.sub(r"<think>.*?</think>", " ", content, flags=re.DOTALL | re.IGNORECASE)
    s = re.sub(r"^\s*(?:\*\*)?(?:summary|here is (?:a|the) summary[^:]*)\s*:?(?:\*\*)?\s*:?", "", s, flags=re.IGNORECASE)
    s = s.replace("**", "").replace("__", "")
    s = " ".join(clean_text(s).split())
    if len(s) >= 2 and s[0] in "\"“'" and s[-1] in "\"”'":
        s = s[1:-1].strip()
    return s


class OpenAISummarizer:
    """Summaries from an OpenAI-compatible chat endpoint, checked against the article, with fallback."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        api_key: str = "",
        timeout_seconds: float = 20.0,
        max_words: int = 70,
        fallback: Any = None,
        cooldown_seconds: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = chat_url(endpoint)
        self.model = model
        self.max_words = max_words
        self.timeout_seconds = timeout_seconds
        self.fallback = fallback if fallback is not None else ExtractiveSummarizer(max_words)
        self.cooldown_seconds = cooldown_seconds
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout_seconds), headers=headers,
                                              follow_redirects=False)
        self._down_until = 0.0
        #: outcome counts: "llm", and "fallback:<reason>" per failure kind
        self.stats: Counter[str] = Counter()
        #: the outcome of the latest call ("llm" or "fallback: reason")
        self.last_outcome = ""

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def generate(self, title: str, text: str) -> str:
        """The endpoint's raw summary (cleaned of markup); raises :class:`LLMError` on any failure."""
        article = clean_text(text)[:_MAX_ARTICLE_CHARS]
        payload = {
            "model": self.model,
            "temperature": 0.2,
            "max_tokens": 220,
            "stream": False,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT.format(max_words=self.max_words)},
                {"role": "user", "content": f"Headline: {title}\n\nArticle:\n{article}"},
            ],
        }
        try:
            resp = self._client.post(self.url, json=payload, timeout=self.timeout_seconds)
        except httpx.TimeoutException:
            raise LLMError("timeout", transport=True) from None
        except httpx.HTTPError as exc:
            raise LLMError(f"unreachable ({type(exc).__name__})", transport=True) from None
        if resp.status_code >= 500:
            raise LLMError(f"HTTP {resp.status_code}", transport=True)
        if resp.status_code != 200:
            raise LLMError(f"HTTP {resp.status_code}")
        try:
            content = resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("unreadable reply") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError("empty reply")
        return _clean_reply(content)

    def summarize(self, title: str, text: str, *, key_terms: Sequence[str] = ()) -> str:
        """The endpoint's summary when it checks out against the article, else the fallback's."""
        reason = ""
        if not words(text):
            reason = "no text"
        elif time.monotonic() < self._down_until:
            reason = "endpoint down (cooling off)"
        else:
            try:
                summary = self.generate(title, text)
            except LLMError as exc:
                reason = str(exc)
                if exc.transport:
                    self._down_until = time.monotonic() + self.cooldown_seconds
            else:
                problems = verify_summary(summary, f"{title}\n{text}")
                problems += [p for p in check_summary(summary, text, max_words=self.max_words, extractive=False)
                             if not p.startswith(("too-short", "empty"))]
                if not problems:
                    self.stats["llm"] += 1
                    self.last_outcome = "llm"
                    return summary
                reason = "; ".join(problems[:3])
        self.stats[f"fallback:{reason.split(' ')[0]}"] += 1
        self.last_outcome = f"fallback: {reason}"
        log.info("summarizer fallback for %r: %s", title[:80], reason)
        return self.fallback.summarize(title, text, key_terms=key_terms)
