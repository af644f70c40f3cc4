"""Kindred's memory: embeddings, topics, stores (Chroma + SQLite), retrieval scoring, budgets.

Nothing here imports ``graphs``, ``personas`` or ``agent``: memory is the bottom of the house.
"""

from memory import _env  # noqa: F401
from memory.budget import TokenCounter, fit_to_budget
from memory.db import Database
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from memory.errors import (
                           ConfigurationError,
                           InvalidInputError,
                           KindredError,
                           ModelUnavailableError,
                           StoreError,
                           UnknownUserError,
)
from memory.events import EventMemory, ExtractiveSummariser, LLMSummariser, Summariser
from memory.feedback import FeedbackMatch, FeedbackMemory, FeedbackRecord, normalise_request
from memory.hub import MemoryHub
from memory.retrieval import ScoringConfig, format_age, score_hits, time_decay
from memory.store import MEMORY_KINDS, VectorHit, VectorIndex
from memory.topics import TopicExtractor, topic_overlap
from memory.turns import TurnIndex
from memory.types import Event, RetrievedMemory, Turn

__all__ = [
                           "MEMORY_KINDS",
                           "ConfigurationError",
                           "Database",
                           "Embedder",
                           "Event",
                           "EventMemory",
                           "ExtractiveSummariser",
                           "FeedbackMatch",
                           "FeedbackMemory",
                           "FeedbackRecord",
                           "InvalidInputError",
                           "KindredError",
                           "LLMSummariser",
                           "MemoryHub",
                           "ModelUnavailableError",
                           "RetrievedMemory",
                           "ScoringConfig",
                           "SentenceTransformerEmbedder",
                           "StoreError",
                           "Summariser",
                           "TokenCounter",
                           "TopicExtractor",
                           "Turn",
                           "TurnIndex",
                           "UnknownUserError",
                           "VectorHit",
                           "VectorIndex",
                           "fit_to_budget",
                           "format_age",
                           "normalise_request",
                           "score_hits",
                           "time_decay",
                           "topic_overlap",
]
