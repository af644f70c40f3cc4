"""The persona stage's settings: which extractor, MaLP's rehearsal, and the agent's consistency check."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from memory.config import ComponentConfig
from memory.consolidation import RehearsalPolicy
from personas.consistency import ConsistencyConfig

__all__ = ["PersonaConfig"]


class PersonaConfig(ComponentConfig):
    """Persona extraction (LD-Agent), rehearsal (MaLP) and the agent's consistency check."""

    enabled: bool = Field(default=True, description="False: LD-Agent's w/o-persona ablation")
    extractor: Literal["auto", "rules", "llm", "hybrid"] = Field(
        default="auto", description="auto: llm when the chat model is capable, else rules; "
                                    "hybrid: rules decide, the LLM words the trait")
    max_clauses: int = Field(default=3, ge=1, description="rules: clauses joined into one trait")
    rehearsal: RehearsalPolicy = Field(default_factory=RehearsalPolicy)
    check: bool = Field(default=True, description="check each reply against the agent's card and "
                                                  "established traits; regenerate once")
    consistency: ConsistencyConfig = Field(default_factory=ConsistencyConfig)
