"""Kindred's settings: every constant, threshold and weight, overridable by ``KINDRED_*`` variables.

Defaults follow ``shared/docs/methods.md``: where the papers and their code disagree both values are
named in the field's description and the default is the one the methods page names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Configuration of one :class:`agent.Kindred`. Environment: ``KINDRED_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="KINDRED_", extra="forbid")

    data_dir: Path = Field(default=Path("~/.kindred"), description="where all memory is stored")
    chat_model: str = Field(default="local", description="local[:llamacpp|:transformers] | fake | "
                                                         "openai:<model> | ollama:<model>")
    base_url: str | None = Field(default=None, description="server URL for openai:/ollama: models")
    api_key: SecretStr | None = Field(default=None, description="key for openai: (else OPENAI_API_KEY)")
    persona: str = Field(default="kindred", description="agent persona card: name or YAML path")
    model_cache_dir: Path = Field(default=Path("~/.cache/kindred/models"),
                                  description="dequantised local weights, kept after the first load")
    max_new_tokens: int = Field(default=120, ge=1, le=4096)
    embedder: Literal["onnx", "torch"] = Field(
        default="onnx", description="all-MiniLM-L6-v2 on onnxruntime (exported once) or torch")

    # LD-Agent
    beta_s: float = Field(default=600.0, gt=0, description="session gap β: paper 600 s, code 3600 s")
    tau_s: float = Field(default=1e7, gt=0, description="time-decay constant τ (LD-Agent: 1e7 s)")
    gamma: float = Field(default=0.40, ge=-1, le=1,
                         description="semantic floor γ; paper 0.5 for its encoder, 0.40 for MiniLM "
                                     "(benchmarks/event_gamma.py)")
    scoring: Literal["paper", "code"] = "paper"
    stm_window: int = Field(default=30, ge=0, description="recent turns shown (LD-Agent: 30)")
    events_k: int = Field(default=3, ge=0)
    turns_k: int = Field(default=5, ge=0)
    candidates: int = Field(default=30, ge=1)
    memory_token_budget: int = Field(default=600, ge=0)
    reply_max_words: int = Field(default=60, ge=1)
    summariser: Literal["auto", "extractive", "llm"] = Field(
        default="auto", description="auto: the LLM when the chat model is capable, else extractive")
    summary_max_words: int = Field(default=40, ge=5)

    # hybrid turn retrieval (memory/hybrid.py; defaults chosen on half of LoCoMo, checked on the rest)
    turn_scoring: Literal["hybrid", "ld-agent"] = "hybrid"
    w_dense: float = 1.0
    w_lexical: float = 0.8
    w_topic: float = 0.0
    w_time_window: float = 0.3
    w_decay: float = 0.0
    w_neighbour: float = 0.5
    w_session: float = 0.3
    w_fact: float = 0.2
    hybrid_candidates: int = Field(default=50, ge=1, description="per retriever; at least 2k")

    # personas (LD-Agent extraction, MaLP rehearsal)
    persona_extractor: Literal["auto", "rules", "llm", "hybrid"] = Field(
        default="auto", description="auto: llm when the chat model is capable, else rules; "
                                    "hybrid: rules decide, the LLM words the trait")
    trait_merge_threshold: float = Field(default=0.85, ge=0, le=1)
    rehearsal_theta: int = Field(default=3, ge=1, description="MaLP promotion count θ")
    trait_flush_sessions: int = Field(
        default=5, ge=1, description="MaLP flush: unrehearsed short-term traits expire after N sessions")

    # MemPrompt
    feedback_mode: Literal["dense", "lexical"] = "dense"
    feedback_threshold: float = Field(
        default=0.65, ge=-1, le=1,
        description="cosine to reuse a correction; MemPrompt's 0.9 was for its trained encoder. "
                    "Calibrated for MiniLM on agent/eval/feedback.py's seen paraphrases")
    implicit_feedback: bool = Field(
        default=True, description='treat "no, I meant ..." turns as corrections of the last reply')

    # ablations
    use_events: bool = True
    use_persona: bool = True
    use_feedback: bool = True
    use_topics: bool = Field(default=True, description="topic overlap in LD-Agent scoring "
                                                        "(False: the w/o-topic ablation)")
    check_persona: bool = Field(
        default=True, description="check each reply against the agent's card; regenerate once")

    # input limits and storage backends
    service_token: SecretStr | None = Field(
        default=None, description="bearer token the HTTP service requires (none: open on its host)")
    max_message_chars: int = Field(default=20_000, ge=1)
    chroma_host: str | None = None
    chroma_port: int = 8000
