"""Plain-text helpers shared by summaries, persona checks and evaluations."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ?), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]
