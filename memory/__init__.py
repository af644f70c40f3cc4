"""Kindred's memory: embeddings, topics, stores (Chroma + SQLite), retrieval scoring, budgets.

Nothing here imports ``graphs``, ``personas`` or ``agent``: memory is the bottom of the house.
"""

from memory import _env  # noqa: F401
from memory.budget import TokenCounter, fit_to_budget
from memory.db import Database
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from memory.errors import (ConfigurationError, InvalidInputError, KindredError,
                           ModelUnavailableError, StoreError, UnknownUserError)
from memory.events import EventMemory, ExtractiveSummariser, LLMSummariser, Summariser
from memory.feedback import FeedbackMatch, FeedbackMemory, FeedbackRecord, normalise_request
from memory.hub import MemoryHub
from memory.retrieval import ScoringConfig, format_age, score_hits, time_decay
from memory.store import MEMORY_KINDS, VectorHit, VectorIndex
from memory.topics import TopicExtractor, topic_overlap
from memory.turns import TurnIndex
from memory.types import Event, RetrievedMemory, Turn

__all__ = [
    "TokenCounter", "fit_to_budget", "Database", "Embedder", "SentenceTransformerEmbedder",
    "KindredError", "InvalidInputError", "UnknownUserError", "ConfigurationError",
    "ModelUnavailableError", "StoreError", "EventMemory", "ExtractiveSummariser", "LLMSummariser",
    "Summariser", "FeedbackMatch", "FeedbackMemory", "FeedbackRecord", "normalise_request",
    "MemoryHub", "ScoringConfig", "format_age", "score_hits", "time_decay", "MEMORY_KINDS",
    "VectorHit", "VectorIndex", "TopicExtractor", "topic_overlap", "TurnIndex", "Event",
    "RetrievedMemory", "Turn",
]
