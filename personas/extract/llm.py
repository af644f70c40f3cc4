"""LD-Agent's LLM persona extractor: the chat model returns a trait or ``NO_TRAIT``.

Small local models break formats (JSON, quotes, chatty preambles), so the output is parsed
leniently: the first non-empty line after removing labels like "Trait:" and code fences.
"""

from __future__ import annotations

import re
from typing import Any

from personas.extract.base import ExtractedTrait, clean_trait
from personas.extract.rules import subject_of

__all__ = ["LLMTraitExtractor", "parse_trait_output"]

_LABEL = re.compile(r"^\s*(?:persona|trait|output|answer|result)\s*[:：-]\s*", re.IGNORECASE)


def parse_trait_output(raw: str) -> str | None:
    """The trait in a model's raw output, or None for ``NO_TRAIT`` / nothing usable."""
    text = re.sub(r"```\w*", "", raw)
    json_value = re.search(r'"(?:trait|persona)"\s*:\s*"([^"]*)"', text)
    if json_value:
        text = json_value.group(1)
    for line in text.splitlines():
        line = _LABEL.sub("", line).strip(" -*•")
        if line:
            return clean_trait(line)
    return None


class LLMTraitExtractor:
    """Asks a chat model with LD-Agent's persona prompt (a template with an ``{utterance}`` field)."""

    def __init__(self, chat_model: Any, prompt: str) -> None:
        self._model = chat_model
        self._prompt = prompt

    def extract(self, text: str) -> ExtractedTrait | None:
        from langchain_core.messages import HumanMessage

        reply = self._model.invoke([HumanMessage(self._prompt.format(utterance=text))])
        trait = parse_trait_output(str(reply.content))
        return ExtractedTrait(trait, subject_of(trait)) if trait else None
