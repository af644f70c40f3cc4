"""The persona-extractor interface: an utterance in, at most one short trait out.

LD-Agent's extractor returns a trait of at most 20 words or the marker ``NO_TRAIT``; a result is
kept only when it is not ``NO_TRAIT`` and longer than 3 characters. :func:`clean_trait` applies
those rules for every implementation, so they agree on what a trait is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MAX_TRAIT_WORDS", "NO_TRAIT", "ExtractedTrait", "TraitExtractor", "clean_trait"]

NO_TRAIT = "NO_TRAIT"
MAX_TRAIT_WORDS = 20


@dataclass(frozen=True)
class ExtractedTrait:
    """A trait as the extractor saw it: first-person text and a coarse subject (pet, home, job…)."""

    text: str
    subject: str = "other"


class TraitExtractor(Protocol):
    """Anything that can find a persona trait in one utterance."""

    def extract(self, text: str) -> ExtractedTrait | None: ...


def clean_trait(raw: str) -> str | None:
    """Normalise an extractor's output; None when it is ``NO_TRAIT``, empty or too short."""
    text = raw.strip().strip('"').strip("'").strip()
    if not text or NO_TRAIT in text.upper().replace(" ", "_"):
        return None
    text = re.sub(r"\s+", " ", text)
    words = text.split()
    if len(words) > MAX_TRAIT_WORDS:
        text = " ".join(words[:MAX_TRAIT_WORDS]).rstrip(",;:")
    if len(text) <= 3:
        return None
    if text[-1] not in ".!":
        text += "."
    return text[0].upper() + text[1:]
