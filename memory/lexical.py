"""Lexical search over turns: which words of a query count, and how BM25's fields are weighted.

Each turn is indexed with two fields: ``body`` (speaker and words) and ``context`` (the words of the
turn before it in the session); on LoCoMo the context field raised evidence recall@5 by about 3
points, because an answer often names its topic only in the question it answers. The index itself
is a backend (:class:`memory.backends.base.LexicalIndex`; SQLite's FTS5 by default, one table per
user so that BM25's statistics come from that user's turns only).

BM25's idf is Lucene's, ln(1 + (N − n + 0.5)/(n + 0.5)) (also Elasticsearch's and bm25s'
default), on both backends. Why not FTS5's own ln((N − n + 0.5)/(n + 0.5)): it is zero (floored at
1e-6) for a word in half a user's turns or more, which for a new user is the very thing they talk
about: ten turns, five about a cat, and "What is my cat called?" gave "My cat Miso…" a lexical
score of 0, below a turn that only shared "called". Lucene's is positive for every word and
ranks rare words above common ones all the same.
"""

from __future__ import annotations

import math
import re

from pydantic import Field

from memory.config import ComponentConfig

__all__ = ["LexicalWeights", "bm25_idf", "query_terms"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


class LexicalWeights(ComponentConfig):
    """BM25 field weights (``body`` above ``context``; chosen on half of LoCoMo)."""

    body: float = Field(default=1.0, ge=0)
    context: float = Field(default=0.6, ge=0)


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


_STOP = _stop_words()

# Words that frame a request to recall, put to the listener, rather than name what is recalled:
# "What do you know about me?", "Can you remind me what you mentioned in our previous chat about
# X?". BM25 gave such a word the whole lexical weight when it was the query's only term ("know":
# an old reply "You know me by name…" ranked first with lexical 1.00) and a rare one's idf where
# the subject words are common. Only in a request to "you": of someone else the same words are
# what is asked about ("What language does Tim know?", "What does Joanna do to remember happy
# memories?" in LoCoMo, where the evidence says "remember"). They stay in the index.
_RECALL_FRAMING = frozenset({
    "know", "knew", "remember", "remembered", "remind", "reminded", "recall", "recalled",
    "mention", "mentioned", "previous", "previously", "earlier", "wonder", "wondered",
    "wondering"})
_LISTENER = frozenset({"you", "your", "yourself"})


def query_terms(text: str) -> list[str]:
    """The words of a query worth matching: lower-cased, no stop words, deduplicated; in a
    request put to the listener, no words that only frame it (:data:`_RECALL_FRAMING`)."""
    words = [w.split("'")[0] for w in _WORD.findall(text.lower())]
    framing = _RECALL_FRAMING if _LISTENER.intersection(words) else frozenset()
    seen: dict[str, None] = {}
    for word in words:
        if len(word) > 1 and word not in _STOP and word not in framing:
            seen.setdefault(word, None)
    return list(seen)


def bm25_idf(rows: int, hits: int) -> float:
    """Lucene's BM25 idf of a word found in ``hits`` of a scope's ``rows`` turns: always positive."""
    return math.log(1.0 + (rows - hits + 0.5) / (hits + 0.5))
