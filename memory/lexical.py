"""Lexical search over turns: which words of a query count, and how BM25's fields are weighted.

Each turn is indexed with two fields: ``body`` (speaker and words) and ``context`` (the words of the
turn before it in the session); on LoCoMo the context field raised evidence recall@5 by about 3
points, because an answer often names its topic only in the question it answers. The index itself
is a backend (:class:`memory.backends.base.LexicalIndex`; SQLite's FTS5 by default, one table per
user so that BM25's statistics come from that user's turns only).
"""

from __future__ import annotations

import re

from pydantic import Field

from memory.config import ComponentConfig

__all__ = ["LexicalWeights", "query_terms"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


class LexicalWeights(ComponentConfig):
    """BM25 field weights (``body`` above ``context``; chosen on half of LoCoMo)."""

    body: float = Field(default=1.0, ge=0)
    context: float = Field(default=0.6, ge=0)


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


_STOP = _stop_words()


def query_terms(text: str) -> list[str]:
    """The words of a query worth matching: lower-cased, no stop words, deduplicated."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        word = word.split("'")[0]
        if len(word) > 1 and word not in _STOP:
            seen.setdefault(word, None)
    return list(seen)
