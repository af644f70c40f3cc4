"""The memory stores of one data directory, built together and forgotten together.

Why a hub: every store shares one SQLite file, one Chroma index and one embedder; building them
in one place keeps that wiring out of the graph, and ``forget`` can reach every store a user's data
lives in without anyone having to remember the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memory.budget import TokenCounter
from memory.db import Database
from memory.embeddings import Embedder, default_embedder
from memory.events import EventMemory
from memory.feedback import FeedbackMemory, LookupMode
from memory.store import VectorIndex
from memory.topics import TopicExtractor
from memory.turns import TurnIndex

__all__ = ["MemoryHub"]


@dataclass
class MemoryHub:
    """All of Kindred's stores for one data directory."""

    db: Database
    index: VectorIndex
    embedder: Embedder
    topics: TopicExtractor
    tokens: TokenCounter
    turns: TurnIndex
    events: EventMemory
    feedback: FeedbackMemory

    @classmethod
    def open(cls, data_dir: str | Path, *, embedder: Embedder | None = None,
             topics: TopicExtractor | None = None, chroma_host: str | None = None,
             chroma_port: int | None = None, feedback_mode: LookupMode = "dense",
             feedback_threshold: float = 0.65) -> MemoryHub:
        """Open (or create) the stores under ``data_dir``; Chroma embedded unless a host is given."""
        data_dir = Path(data_dir).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(data_dir / "kindred.db")
        index = (VectorIndex.server(chroma_host, chroma_port or 8000) if chroma_host
                 else VectorIndex.embedded(data_dir / "chroma"))
        embedder = embedder or default_embedder()
        return cls(db=db, index=index, embedder=embedder, topics=topics or TopicExtractor.shared(),
                   tokens=TokenCounter(), turns=TurnIndex(db, index, embedder),
                   events=EventMemory(db, index, embedder),
                   feedback=FeedbackMemory(db, index, embedder, mode=feedback_mode,
                                           threshold=feedback_threshold))

    def forget(self, user_id: str) -> None:
        """Remove the user's rows from every table and vectors from every collection."""
        self.turns.delete_user(user_id)
        self.events.delete_user(user_id)
        self.feedback.delete_user(user_id)
        self.index.delete_user(user_id)

    def close(self) -> None:
        self.index.close()
        self.db.close()
