"""Persona extractors: rules over spaCy's parse (no LLM), LLM (LD-Agent's prompt), and hybrid."""

from personas.extract.base import NO_TRAIT, ExtractedTrait, TraitExtractor, clean_trait
from personas.extract.hybrid import HybridTraitExtractor
from personas.extract.llm import LLMTraitExtractor, parse_trait_output
from personas.extract.rules import RuleTraitExtractor, subject_of

__all__ = [
           "NO_TRAIT",
           "ExtractedTrait",
           "HybridTraitExtractor",
           "LLMTraitExtractor",
           "RuleTraitExtractor",
           "TraitExtractor",
           "clean_trait",
           "parse_trait_output",
           "subject_of",
]
