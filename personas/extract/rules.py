"""The rule-based persona extractor: spaCy's parse, clause rules and a tiny detector; no LLM.

It keeps first-person statements (not questions, not conversational moves) that say something
lasting about the speaker: identity, job, family, pets, places, likes and dislikes, habits, plans,
possessions (:mod:`personas.extract.clauses`). Negation is kept ("I don't eat meat."), never
dropped, so the trait means what was said. Whether the utterance carries a fact at all is decided by
:class:`~personas.extract.detector.TraitDetector` over the same parse. The subject is a coarse
label the bank uses to decide whether a newer trait supersedes an older one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memory.errors import ConfigurationError
from memory.nlp import shared_parser
from memory.text import parse_span
from personas.extract.base import MAX_TRAIT_WORDS, ExtractedTrait, clean_trait
from personas.extract.clauses import (
    addresses_the_assistant,
    clause_traits,
    first_person_clauses,
    statement_fallback,
)
from personas.extract.detector import TraitDetector

__all__ = ["RuleTraitExtractor", "subject_of"]

#: Words without which an agent's span yields no trait its readers keep: every reader of the
#: agent's traits (a chat turn's reply, a replayed turn) keeps only those that name the agent
#: (:func:`personas.consistency.speaks_of_itself`: "I", "me", "my"…), and a trait's words are the
#: span's, but for "we" told as "I" ("We grow leeks on our allotment." → "I grow leeks on my
#: allotment.") and an echo question ("Do you also like to garden?" → "I like to garden."). Such a
#: span is not parsed: a LongMemEval assistant's answers are mostly long and impersonal.
_MAY_NAME_THE_SPEAKER = re.compile(
    r"\b(?:i|me|my|mine|myself|we|us|our|ours|ourselves)\b|\b(?:do|did)\s+you\b", re.IGNORECASE)


def _ci(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


_SUBJECTS: list[tuple[str, re.Pattern]] = [
    ("name", _ci(r"\bmy name is\b|\bI'?m called\b|\bcall me\b")),
    ("pet", _ci(r"\b(dog|cat|puppy|kitten|pet|hamster|parrot|fish|horse|rabbit|bird|beagle|"
                r"terrier|retriever|labrador|poodle|spaniel|bulldog|collie|husky|dachshund|corgi|"
                r"pug|tabby|goldfish|tortoise|turtle|ferret|gecko|budgie|guinea pig)s?\b")),
    ("family", _ci(r"\b(wife|husband|son|daughter|kids?|children|mother|mom|mum|father|"
                          r"dad|sister|brother|parents?|family|married|partner|girlfriend|"
                          r"boyfriend|grand\w+)\b")),
    ("job", _ci(r"\b(work|job|career|employed|nurse|teacher|engineer|doctor|lawyer|"
                       r"student|retired|boss|office|company)\b")),
    ("home", _ci(r"\b(live|lived|moved|moving|grew up|apartment|house|city|hometown)\b")),
    ("age", _ci(r"\b\d{1,3}\s*(years old|yo)\b")),
    ("food", _ci(r"\b(eat|food|vegan|vegetarian|cook|cooking|meat|pizza|coffee|tea|drink)\b")),
    ("hobby", _ci(r"\b(play|hobby|hik\w+|read\w*|paint\w*|music|guitar|piano|sing\w*|"
                         r"swim\w*|run\w*|game|games|sport|travel\w*|garden\w*)\b")),
    ("plan", _ci(r"\b(plan|planning|going to|will|want to|hope to|next)\b")),
    ("preference", _ci(r"\b(like|love|enjoy|hate|dislike|prefer|favou?rite)\b")),
]


# What the speaker's own main verb says comes first: "I live in Paris with my cat" is about home.
_FIRST_PERSON_SUBJECTS: list[tuple[str, re.Pattern]] = [
    ("home", _ci(r"\b(?:I|we)(?:'ve| have)?(?: just| recently)?\s+(?:live|lived|moved|grew up|"
                 r"am moving|'m moving|are moving)\b")),
    ("job", _ci(r"\b(?:I|we)\s+(?:work|worked)\b|\bI(?:'m| am) an? (?:\w+ )?(?:nurse|teacher|"
                r"engineer|doctor|lawyer|student|developer|chef|designer|writer|manager)\b")),
    # what the speaker eats, before the pet words: "I started eating fish" is no pet
    ("food", _ci(r"\b(?:I|we)(?:'m| am| are|'re)?(?: \w+)?\s+(?:eat|eats|ate|eating)\b|"
                 r"\bI(?:'m| am) (?:not |no longer )?(?:an? )?(?:vegan|vegetarian|pescatarian)\b")),
]


def subject_of(text: str) -> str:
    """A coarse subject for a trait (pet, home, job, family…), or ``other``."""
    for name, pattern in _FIRST_PERSON_SUBJECTS + _SUBJECTS:
        if pattern.search(text):
            return name
    return "other"


class RuleTraitExtractor:
    """Traits from spaCy's parse, gated by :class:`TraitDetector`; no LLM, no GPU.

    ``extract_many`` parses a batch at once (``nlp.pipe``), which is how evaluations and replays
    reach several hundred utterances a second on two cores; the parse is the one the topics read
    (:mod:`memory.nlp`), so a text is parsed once. ``role``: whose utterances it reads ("user" or
    "agent"); it reads the span :func:`~memory.text.parse_span` gives that role.
    """

    def __init__(self, detector: TraitDetector | None = None, *, max_clauses: int = 3,
                 role: str = "user") -> None:
        self._parser = shared_parser()
        self._detector = detector or TraitDetector.load()
        self._max_clauses = max_clauses
        if role not in ("user", "agent"):
            raise ConfigurationError(f"A trait extractor reads a 'user' or an 'agent', not {role!r}.")
        self._role = role
        self._reading = object()  # this extractor's trait, kept on each Doc (Parser.read_many)

    def extract(self, text: str) -> ExtractedTrait | None:
        return self.extract_many([text])[0]

    def extract_many(self, texts: Sequence[str]) -> list[ExtractedTrait | None]:
        spans = [parse_span(self._role, t) for t in texts]
        read = [n for n, span in enumerate(spans)
                if self._role == "user" or _MAY_NAME_THE_SPEAKER.search(span)]
        found: list[ExtractedTrait | None] = [None] * len(spans)
        if read:
            traits = self._parser.read_many([spans[n] for n in read], self._from_doc,
                                            self._reading)
            for n, trait in zip(read, traits, strict=True):
                found[n] = trait
        return found

    def read_ahead(self, texts: Sequence[str]) -> list[ExtractedTrait | None]:
        """The traits of texts about to be stored, read now (a bulk ingest calls it in the
        thread that parses while the embedder encodes) and kept with their parses, so the
        graph's ``extract_persona`` finds them; the same as :meth:`extract_many`."""
        return self.extract_many(texts)

    def _from_doc(self, doc) -> ExtractedTrait | None:
        if addresses_the_assistant(doc):  # a command to the assistant is not a fact about anyone
            return None
        info = first_person_clauses(doc)
        if info.momentary and not info.statements:  # only a state of the day: the turn keeps it
            return None
        if not self._detector.carries_trait(doc, info):
            return None
        traits = clause_traits(info, self._max_clauses)
        raw = _whole_clauses(traits) if traits else statement_fallback(doc)
        trait = clean_trait(raw) if raw else None
        return ExtractedTrait(trait, subject_of(trait)) if trait else None


def _whole_clauses(traits: Sequence[str]) -> str:
    """As many whole clauses as fit in :data:`MAX_TRAIT_WORDS` (the first always): joining all of
    them and cutting at 20 words left fragments such as "I am a." in the bank."""
    kept: list[str] = []
    words = 0
    for trait in traits:
        n = len(trait.split())
        if kept and words + n > MAX_TRAIT_WORDS:
            break
        kept.append(trait)
        words += n
    return " ".join(kept)
