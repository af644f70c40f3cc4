"""Persona extractors: rules (no LLM), LLM (LD-Agent's prompt)."""

from personas.extract.base import NO_TRAIT, ExtractedTrait, TraitExtractor, clean_trait
from personas.extract.llm import LLMTraitExtractor, parse_trait_output
from personas.extract.rules import RuleTraitExtractor, subject_of

__all__ = [
           "NO_TRAIT",
           "ExtractedTrait",
           "LLMTraitExtractor",
           "RuleTraitExtractor",
           "TraitExtractor",
           "clean_trait",
           "parse_trait_output",
           "subject_of",
]
