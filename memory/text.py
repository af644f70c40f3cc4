"""Plain-text helpers shared by summaries, persona checks and evaluations."""

from __future__ import annotations

import re

__all__ = ["PARSE_CHARS", "parse_prefix", "split_sentences"]

# How much of one message spaCy reads for topics and traits. The embedder sees 256 word pieces
# (about 1,000-1,200 characters of English), so nouns and statements past ~2,000 characters
# are in no vector anyway; parsing them cost a LongMemEval replay a third of its time (24k-
# character pasted documents and long answers). Conversational turns (LoCoMo's longest is 489
# characters, MSC's shorter) are never cut.
PARSE_CHARS = 2000

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ?), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def parse_prefix(text: str, limit: int = PARSE_CHARS) -> str:
    """The start of ``text`` that spaCy reads: all of it up to ``limit`` characters, else cut at
    the last sentence end (or space) before the limit, so no clause is parsed half."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), head.rfind("\n"))
    if cut < limit // 2:
        cut = head.rfind(" ")
    return head[:cut + 1] if cut > 0 else head
