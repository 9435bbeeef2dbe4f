"""The summarizer the config selects. It lives apart from both implementations (extractive in
:mod:`digest.intel.summarize`, LLM in :mod:`digest.intel.llm`) so that neither imports the other back:
the LLM summarizer uses the extractive one as its fallback and its rule check."""

from __future__ import annotations

from digest.config import SummarizerConfig
from digest.intel.llm import OpenAISummarizer
from digest.intel.summarize import ExtractiveSummarizer, Summarizer

__all__ = ["make_summarizer"]


def make_summarizer(cfg: SummarizerConfig) -> Summarizer:
    """The summarizer the config selects: extractive, or an OpenAI-compatible endpoint with extractive fallback."""
    extractive = ExtractiveSummarizer(cfg.max_words)
    if cfg.backend == "openai":
        return OpenAISummarizer(
            endpoint=cfg.endpoint,
            model=cfg.model,
            api_key=cfg.api_key,
            timeout_seconds=cfg.timeout_seconds,
            max_words=cfg.max_words,
            fallback=extractive,
        )
    return extractive
