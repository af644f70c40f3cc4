"""Rules decide, the LLM words: the hybrid persona extractor.

Why: the rule detector is cheap and as accurate as a tuned 6B model at deciding whether a turn
carries a fact, while a capable LLM paraphrases far better than clause cutting. Asking the LLM only
for the turns the rules flag saves about a third of the calls, and the rules' own wording stands in
whenever the LLM answers ``NO_TRAIT`` or something unparseable.
"""

from __future__ import annotations

from collections.abc import Sequence

from personas.extract.base import ExtractedTrait
from personas.extract.llm import LLMTraitExtractor
from personas.extract.rules import RuleTraitExtractor

__all__ = ["HybridTraitExtractor"]


class HybridTraitExtractor:
    def __init__(self, rules: RuleTraitExtractor, llm: LLMTraitExtractor) -> None:
        self._rules, self._llm = rules, llm

    def read_ahead(self, texts: Sequence[str]) -> list[ExtractedTrait | None]:
        """The rules' reading of texts about to be stored (what :meth:`extract` asks the rules
        first), kept with their parses; the LLM's wording is not known ahead, so nothing is
        returned to encode ahead."""
        self._rules.read_ahead(texts)
        return [None] * len(texts)

    def extract(self, text: str) -> ExtractedTrait | None:
        found = self._rules.extract(text)
        if found is None:
            return None
        return self._llm.extract(text) or found
