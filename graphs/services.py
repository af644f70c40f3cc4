"""What the graph's nodes need, injected at build time: stores, extractors, the model, settings.

Why injection: the graph is built from these parts, so tests and evaluations pass real stores with
a fake chat model, and nothing reaches for a global or patches a module path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memory.events import Summariser
from memory.hub import MemoryHub
from memory.hybrid import HybridWeights
from memory.retrieval import ScoringConfig
from personas.bank import PersonaBank
from personas.cards import PersonaCard
from personas.extract.base import TraitExtractor

__all__ = ["PipelineConfig", "Services"]


@dataclass(frozen=True)
class PipelineConfig:
    """The turn pipeline's constants (the API's ``Settings`` maps onto these)."""

    beta_s: float = 600.0            # LD-Agent session gap: paper 600 s, code 3600 s
    stm_window: int = 30             # LD-Agent shows the last 30 turns
    stm_keep: int = 200              # turns kept in the checkpoint (the rest are in the turn index)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    events_k: int = 3
    turns_k: int = 5
    candidates: int = 30             # nearest events re-scored (LD-Agent)
    turn_scoring: str = "hybrid"     # hybrid (memory.hybrid) | ld-agent (memory.retrieval)
    hybrid: HybridWeights = field(default_factory=HybridWeights)
    fact_min_similarity: float = 0.5  # a trait pointing at its turns counts above this cosine
    turn_min_score: float = 0.6      # hybrid total below which a turn is not worth the prompt
    memory_token_budget: int = 600   # tokens for MEMORY + USER_TRAITS + FEEDBACK together
    reply_max_words: int = 60
    use_events: bool = True          # ablation switches (LD-Agent Table 4)
    use_persona: bool = True
    use_feedback: bool = True
    implicit_feedback: bool = True   # recognise "no, I meant ..." turns as corrections
    check_persona: bool = True       # regenerate once when a reply contradicts the agent's card


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
    config: PipelineConfig = field(default_factory=PipelineConfig)
    correction_judge: Any = None     # (request, reply, text) -> bool, for turns rules missed
