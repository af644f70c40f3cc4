"""Kindred's settings: one tree made of the components' own configuration models.

Each stage declares its constants next to its code (``memory.hybrid.HybridWeights``,
``graphs.config.RetrievalConfig``…) and takes that model directly; ``Settings`` nests the same
models, so a value set here reaches the code that reads it with nothing copied in between.

Set a value as a keyword (nested models as dicts or models), or as an environment variable with
``__`` between levels (``KINDRED_RETRIEVAL__TURNS_K=8 kindred chat``):

```python
from agent import Settings
settings = Settings(retrieval={"turns_k": 8, "hybrid": {"lexical": 1.0}})
assert settings.retrieval.turns_k == 8 and settings.retrieval.hybrid.dense == 1.0
```

The flat names of earlier versions (``beta_s``, ``w_dense``, ``KINDRED_TURNS_K``…) keep working,
mapped onto the tree (:data:`LEGACY_NAMES`), with a ``DeprecationWarning`` that names the new one.
An unknown ``KINDRED_*`` variable is an error that suggests the closest names, rather than a knob
silently ignored. Defaults follow ``shared/docs/methods.md``: where the papers and their code
disagree, both values are named in the field's description.
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from graphs.config import GenerationConfig, GraphConfig, RetrievalConfig, SessionConfig
from memory.backends import StorageConfig
from memory.config import ComponentConfig
from memory.errors import ConfigurationError
from memory.feedback import FeedbackConfig
from personas.config import PersonaConfig

__all__ = ["ALIASES", "LEGACY_NAMES", "LimitsConfig", "ServiceConfig", "Settings", "setting_paths"]

_PREFIX = "KINDRED_"

# flat names of Kindred ≤ 0.1 → their place in the tree
LEGACY_NAMES: dict[str, str] = {
    "beta_s": "session.beta_s", "stm_window": "session.stm_window",
    "tau_s": "retrieval.scoring.tau_s", "gamma": "retrieval.scoring.gamma",
    "scoring": "retrieval.scoring.mode", "use_topics": "retrieval.scoring.use_topics",
    "events_k": "retrieval.events_k", "turns_k": "retrieval.turns_k",
    "candidates": "retrieval.candidates", "turn_scoring": "retrieval.turn_scoring",
    "use_events": "retrieval.use_events",
    "w_dense": "retrieval.hybrid.dense", "w_lexical": "retrieval.hybrid.lexical",
    "w_topic": "retrieval.hybrid.topic", "w_time_window": "retrieval.hybrid.time_window",
    "w_decay": "retrieval.hybrid.decay", "w_neighbour": "retrieval.hybrid.neighbour",
    "w_session": "retrieval.hybrid.session", "w_fact": "retrieval.hybrid.fact",
    "hybrid_candidates": "retrieval.hybrid.candidates",
    "memory_token_budget": "generation.memory_token_budget",
    "reply_max_words": "generation.reply_max_words",
    "max_new_tokens": "generation.max_new_tokens",
    "summariser": "generation.summariser.kind",
    "summary_max_words": "generation.summariser.max_words",
    "persona_extractor": "personas.extractor", "use_persona": "personas.enabled",
    "check_persona": "personas.check",
    "trait_merge_threshold": "personas.rehearsal.ltm_min_similarity",
    "rehearsal_theta": "personas.rehearsal.theta",
    "trait_flush_sessions": "personas.rehearsal.flush_after_sessions",
    "feedback_mode": "feedback.mode", "feedback_threshold": "feedback.threshold",
    "implicit_feedback": "feedback.implicit", "use_feedback": "feedback.enabled",
    "service_token": "service.token", "max_message_chars": "limits.max_message_chars",
}


# short names the issues and docs use for the most-set deployment settings (no warning)
ALIASES: dict[str, str] = {"api_keys_file": "service.api_keys_file",
                           "database_url": "storage.database_url",
                           "chroma_host": "storage.chroma_host", "chroma_port": "storage.chroma_port"}


class LimitsConfig(ComponentConfig):
    """Bounds on what one call may hand Kindred."""

    max_message_chars: int = Field(default=100_000, ge=1, description="characters per message "
                                   "(a pasted document or a long answer: LongMemEval holds 24k)")
    max_ingest_utterances: int = Field(default=500, ge=1, description="utterances per ingest call")
    max_ingest_chars: int = Field(default=500_000, ge=1, description="characters per ingest call")
    ingest_chunk: int = Field(default=500, ge=1, description="utterances stored per step of an "
                                                             "ingest (smaller pieces measured no "
                                                             "fairer: benchmarks/RESULTS.md)")
    future_tolerance_s: float = Field(default=300.0, ge=0, description="how far ahead of this "
                                                                       "server's clock `at` may be")
    clock_skew_s: float = Field(default=2.0, ge=0, description="a turn this far behind the last "
                                                               "one is put just after it")
    keep_traces: int = Field(default=100, ge=0, description="traces of the last N replies kept "
                                                           "per user (GET /v1/traces/{id})")


class ServiceConfig(ComponentConfig):
    """The HTTP service."""

    token: SecretStr | None = Field(
        default=None, description="one API key of the default tenant (older single-token form)")
    api_keys_file: Path | None = Field(
        default=None, description="JSON file of hashed API keys, each mapped to a tenant "
                                  "(`kindred keys add`; also KINDRED_API_KEYS_FILE)")
    api_keys: SecretStr | None = Field(
        default=None, description="API keys as 'tenant:key' pairs separated by commas")
    max_body_bytes: int = Field(default=4_000_000, ge=1_000,
                                description="a larger request body is refused (413) unread")


class Settings(BaseSettings):
    """Configuration of one :class:`agent.Kindred`. Environment: ``KINDRED_<FIELD>`` and
    ``KINDRED_<GROUP>__<FIELD>`` for nested values."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, env_nested_delimiter="__",
                                      extra="forbid")

    data_dir: Path = Field(default=Path("~/.kindred"), description="where all memory is stored")
    chat_model: str = Field(default="local", description="local[:llamacpp|:transformers] | fake | "
                                                         "openai:<model> | ollama:<model>")
    base_url: str | None = Field(default=None, description="server URL for openai:/ollama: models")
    api_key: SecretStr | None = Field(default=None, description="key for openai: (else OPENAI_API_KEY)")
    persona: str = Field(default="kindred", description="agent persona card: name or YAML path")
    model_cache_dir: Path = Field(default=Path("~/.cache/kindred/models"),
                                  description="dequantised local weights, kept after the first load")
    embedder: Literal["auto", "onnx", "onnx-int8", "torch"] = Field(
        default="auto", description="auto: the one that made the data dir's vectors (onnx for a "
                                    "new one); all-MiniLM-L6-v2 on onnxruntime (exported once), "
                                    "the same in int8 with fused attention (about 2-2.7x faster, "
                                    "vectors at cosine 0.99 of fp32), or torch")

    session: SessionConfig = Field(default_factory=SessionConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    personas: PersonaConfig = Field(default_factory=PersonaConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)

    @model_validator(mode="before")
    @classmethod
    def _legacy_keywords(cls, data: Any) -> Any:
        """``Settings(beta_s=3600)`` as ``Settings(session={"beta_s": 3600})``."""
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in list(data) if k in LEGACY_NAMES}
        if not flat:
            return data
        nested = {k: v for k, v in data.items() if k not in flat}
        for name, value in flat.items():
            _deprecated(name, f"the keyword {name}=", f"{LEGACY_NAMES[name]}")
            _place(nested, LEGACY_NAMES[name], value, keep_existing=False)  # a keyword wins
        return nested

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return init_settings, env_settings, _LegacyEnvironment(settings_cls), file_secret_settings

    def graph_config(self) -> GraphConfig:
        """The stages' settings as the turn graph takes them (the same model instances)."""
        return GraphConfig(session=self.session, retrieval=self.retrieval,
                           generation=self.generation, personas=self.personas,
                           feedback=self.feedback)

    def changed(self, *, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        """The values that differ from the defaults, as a nested dict (for reports)."""
        return {k: v for k, v in self.model_dump(mode="json", exclude_defaults=True).items()
                if k not in exclude}


def setting_paths(model: type = Settings, prefix: str = "") -> dict[str, type]:
    """Every leaf setting as ``dotted.path → field type`` (the tree a user can reach)."""
    out: dict[str, type] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, ComponentConfig):
            out.update(setting_paths(annotation, path + "."))
        else:
            out[path] = annotation  # type: ignore[assignment]
    return out


class _LegacyEnvironment(PydanticBaseSettingsSource):
    """``KINDRED_BETA_S=3600`` as ``KINDRED_SESSION__BETA_S=3600``; unknown ``KINDRED_*`` names
    fail with the closest known ones."""

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the base
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        known = {p.replace(".", "__").upper() for p in setting_paths()}
        known |= {name.upper() for name in Settings.model_fields}
        nested: dict[str, Any] = {}
        for key, value in os.environ.items():
            if not key.upper().startswith(_PREFIX):
                continue
            name = key[len(_PREFIX):]
            if name.lower() in ALIASES:
                _place(nested, ALIASES[name.lower()], value, keep_existing=True)
            elif name.lower() in LEGACY_NAMES:
                path = LEGACY_NAMES[name.lower()]
                _deprecated(name.lower(), key, _PREFIX + path.replace(".", "__").upper())
                _place(nested, path, value, keep_existing=True)
            elif name.upper() not in known and not _is_group_json(name):
                close = difflib.get_close_matches(name.upper(), sorted(known), n=3, cutoff=0.6)
                hint = f" Did you mean {', '.join(_PREFIX + c for c in close)}?" if close else ""
                raise ConfigurationError(
                    f"Unknown setting {key}.{hint} Nested settings take '__' between levels, "
                    "e.g. KINDRED_RETRIEVAL__TURNS_K=8; see agent/settings.py for the tree.")
        return nested


def _is_group_json(name: str) -> bool:
    """``KINDRED_RETRIEVAL='{"turns_k": 8}'``: a whole group given as JSON."""
    return name.lower() in Settings.model_fields


def _place(tree: dict[str, Any], path: str, value: Any, *, keep_existing: bool) -> None:
    *groups, leaf = path.split(".")
    node = tree
    for group in groups:
        child = node.get(group)
        if child is None:
            child = node[group] = {}
        elif not isinstance(child, dict):  # a model instance given whole: extend a copy of it
            child = node[group] = child.model_dump()
        node = child
    if not (keep_existing and leaf in node):
        node[leaf] = value


def _deprecated(old: str, how: str, new: str) -> None:
    warnings.warn(f"{how} is deprecated: use {new} (the flat name {old!r} still works).",
                  DeprecationWarning, stacklevel=4)
