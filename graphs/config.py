"""The turn graph's settings, one model per stage, taken by the nodes as they are.

``agent.Settings`` nests these same models (``settings.retrieval.hybrid.dense``), so a node reads
exactly what the user set, with nothing copied in between.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memory.config import ComponentConfig
from memory.events import SummariserConfig
from memory.feedback import FeedbackConfig
from memory.hybrid import HybridWeights
from memory.retrieval import ScoringConfig
from personas.config import PersonaConfig

__all__ = ["GenerationConfig", "GraphConfig", "RetrievalConfig", "ReviewConfig", "SessionConfig"]


class SessionConfig(ComponentConfig):
    """LD-Agent's short-term memory: when a session ends, and how much of it the prompt shows."""

    beta_s: float = Field(default=600.0, gt=0, description="session gap β: paper 600 s, code 3600 s")
    stm_window: int = Field(default=30, ge=0, description="recent turns shown (LD-Agent: 30)")
    stm_keep: int = Field(default=200, ge=1, description="turns kept in the thread's checkpoint "
                                                         "(the rest are in the turn index)")


class RetrievalConfig(ComponentConfig):
    """What a turn recalls: events (LD-Agent scoring), raw turns (hybrid), stored facts."""

    use_events: bool = Field(default=True, description="False: LD-Agent's w/o-event-memory "
                                                       "ablation (no long-term recall at all)")
    events_k: int = Field(default=3, ge=0)
    turns_k: int = Field(default=5, ge=0)
    candidates: int = Field(default=30, ge=1, description="nearest events re-scored (LD-Agent)")
    turn_scoring: Literal["hybrid", "ld-agent"] = "hybrid"
    turn_min_score: float = Field(default=0.6, description="hybrid total below which a turn is "
                                                           "not worth the prompt")
    fact_min_similarity: float = Field(default=0.5, description="a trait pointing at its turns "
                                                                "counts above this cosine")
    facts_k: int = Field(default=5, ge=0, description="nearest traits asked for the turns they "
                                                      "point at")
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    hybrid: HybridWeights = Field(default_factory=HybridWeights)


class ReviewConfig(ComponentConfig):
    """The review of a draft reply (graphs/reply_review.py)."""

    enabled: bool = True
    leak_words: int = Field(default=4, ge=2, description="a sentence sharing this many words in a "
                                                         "row with the instructions is a leak")
    repeat_overlap: float = Field(default=0.85, gt=0, le=1,
                                  description="share of word pairs in common with an earlier "
                                              "reply of the session that makes a repeat")


class GenerationConfig(ComponentConfig):
    """The reply: its length, the memory's token budget, and session summaries."""

    max_new_tokens: int = Field(default=120, ge=1, le=4096)
    timeout_s: float = Field(default=60.0, gt=0, description="a remote model's answer time limit")
    retry_temperature: float = Field(default=0.8, ge=0, le=2,
                                     description="sampling temperature of the one retry after a "
                                                 "reply that repeated an earlier one")
    max_retries: int = Field(default=1, ge=0, description="retries of a remote model's request")
    reply_max_words: int = Field(default=60, ge=1)
    memory_token_budget: int = Field(default=600, ge=0, description="tokens for the recalled "
                                                                    "memory, traits and feedback")
    memory_at: Literal["system", "last"] = Field(
        default="last", description="where the <memory> block goes: in the system message, or as "
                                    "a last system message before the user's message (measured "
                                    "better with the 135M model: benchmarks/RESULTS.md)")
    summariser: SummariserConfig = Field(default_factory=SummariserConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)


class GraphConfig(BaseModel):
    """Every stage's settings, as the graph's nodes receive them: the same model instances as
    ``Settings`` holds (a bundle, not a component of its own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session: SessionConfig = Field(default_factory=SessionConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    personas: PersonaConfig = Field(default_factory=PersonaConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
