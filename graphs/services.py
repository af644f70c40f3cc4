"""What the graph's nodes need, injected at build time: stores, extractors, the model, settings.

Why injection: the graph is built from these parts, so tests and evaluations pass real stores with
a fake chat model, and nothing reaches for a global or patches a module path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphs.config import GraphConfig
from memory.events import Summariser
from memory.hub import MemoryHub
from personas.bank import PersonaBank
from personas.cards import PersonaCard
from personas.extract.base import TraitExtractor

__all__ = ["Services"]


@dataclass
class Services:
    """Everything a node may touch. One instance per :class:`agent.Kindred`."""

    memory: MemoryHub
    personas: PersonaBank
    user_extractor: TraitExtractor
    agent_extractor: TraitExtractor
    summariser: Summariser
    chat_model: Any                  # a langchain-core BaseChatModel
    card: PersonaCard
    config: GraphConfig = field(default_factory=GraphConfig)
    correction_judge: Callable[[str, str, str], bool] | None = None  # for turns rules missed
