"""A rule-based persona extractor that needs no LLM.

It keeps first-person statements (not questions) that say something lasting about the speaker:
identity, job, family, pets, places, likes and dislikes, habits, plans, possessions. Negation is
kept in the text ("I don't eat meat."), never dropped, so the trait means what was said. The
subject is a coarse label the bank uses to decide whether a newer trait supersedes an older one.
"""

from __future__ import annotations

import re

from personas.extract.base import ExtractedTrait, clean_trait

__all__ = ["RuleTraitExtractor", "subject_of"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|my|My|we|We|our|Our|me)\b")
# A statement about the speaker: pronoun + a verb or frame that carries a lasting fact.
_TRAIT_FRAME = re.compile(
    r"\b(I\s*(?:'m|am|was|have|'ve|had|own|live|lived|moved|grew|work|worked|study|studied|teach|"
    r"like|love|enjoy|hate|dislike|prefer|adore|can't stand|usually|always|often|never|sometimes|"
    r"play|cook|eat|drink|run|go|went|read|watch|collect|volunteer|plan|want|hope|will|'ll|"
    r"(?:do|did)\s*(?:n't|not)|just|recently|also|really|still|used to|got|bought|adopted|"
    r"started|quit|retired|was born|speak|drive|ride|write|paint|sing|swim|hike|travel|visit)"
    r"|my\s+\w+(?:\s+\w+)?\s+(?:is|are|was|were|'s|has|have|had|likes|loves|hates|lives|"
    r"lived|works|worked|plays|died|passed|got|moved|just)"
    r"|we\s+(?:have|live|moved|own|got|adopted|are|'re))\b",
    re.IGNORECASE)
# Conversational moves, not facts about the speaker ("I see.", "I'll remember that.").
_CONVERSATIONAL = re.compile(
    r"\bI\s*(?:'ll|will|would|can|could|'d)?\s*(?:see|think|guess|understand|agree|remember|"
    r"help|tell|ask|hope you|let you know|get it|know what you mean|am sorry|'m sorry|am glad|"
    r"'m glad|am happy to|'m happy to|mean)\b", re.IGNORECASE)
_FILLER = re.compile(r"^(?:(?:well|oh|so|yes|yeah|no|hi|hello|hey|haha|lol|wow|ok|okay|um|"
                     r"actually|honestly|and|but)[,!.]?\s+)+", re.IGNORECASE)

def _ci(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


_SUBJECTS: list[tuple[str, re.Pattern]] = [
    ("name", _ci(r"\bmy name is\b|\bI'?m called\b|\bcall me\b")),
    ("pet", _ci(r"\b(dog|cat|puppy|kitten|pet|hamster|parrot|fish|horse|rabbit|bird)s?\b")),
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


def subject_of(text: str) -> str:
    """A coarse subject for a trait (pet, home, job, family…), or ``other``."""
    for name, pattern in _SUBJECTS:
        if pattern.search(text):
            return name
    return "other"


class RuleTraitExtractor:
    """First-person, non-question statements that match a trait frame, cut to ≤ 20 words."""

    def extract(self, text: str) -> ExtractedTrait | None:
        best: str | None = None
        for sent in _SENTENCE.split(text.strip()):
            sent = _FILLER.sub("", sent.strip())
            if not sent or sent.endswith("?") or not _FIRST_PERSON.search(sent):
                continue
            if not _TRAIT_FRAME.search(sent) or _CONVERSATIONAL.search(sent):
                continue
            best = sent if best is None else f"{best.rstrip('.!')}. {sent}"
            if len(best.split()) >= 12:
                break
        trait = clean_trait(best) if best else None
        return ExtractedTrait(trait, subject_of(trait)) if trait else None
