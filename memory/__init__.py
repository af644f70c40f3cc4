"""Kindred's memory: embeddings, topics, the storage seam and its backends, retrieval scoring.

Nothing here imports ``graphs``, ``personas`` or ``agent``: memory is the bottom of the house.
Names are loaded on first use, so ``import memory.process`` (which an application runs before
torch loads) does not pull torch, spaCy and Chroma in with it.
"""

from __future__ import annotations

from memory._lazy import lazy_exports

_EXPORTS = {
    "ComponentConfig": "memory.config",
    "ConfigurationError": "memory.errors",
    "Embedder": "memory.embeddings",
    "Event": "memory.types",
    "EventMemory": "memory.events",
    "ExtractiveSummariser": "memory.events",
    "FeedbackConfig": "memory.feedback",
    "FeedbackMatch": "memory.feedback",
    "FeedbackMemory": "memory.feedback",
    "FeedbackRecord": "memory.feedback",
    "HybridWeights": "memory.hybrid",
    "InvalidInputError": "memory.errors",
    "KindredError": "memory.errors",
    "LLMSummariser": "memory.events",
    "MemoryHub": "memory.hub",
    "ModelUnavailableError": "memory.errors",
    "RetrievedMemory": "memory.types",
    "Scope": "memory.scope",
    "ScoringConfig": "memory.retrieval",
    "SentenceTransformerEmbedder": "memory.embeddings",
    "StorageConfig": "memory.backends",
    "StoreError": "memory.errors",
    "Stores": "memory.backends",
    "Summariser": "memory.events",
    "TokenCounter": "memory.budget",
    "TopicExtractor": "memory.topics",
    "Turn": "memory.types",
    "TurnIndex": "memory.turns",
    "UnitOfWork": "memory.unit",
    "UnknownUserError": "memory.errors",
    "apply_process_defaults": "memory.process",
    "open_stores": "memory.backends",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports('memory', _EXPORTS, globals())
