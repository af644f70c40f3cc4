"""The memory of one deployment: its stores and every memory kind built on them, forgotten together.

Why a hub: every memory kind shares the same three stores (:mod:`memory.backends`) and one
embedder; building them in one place keeps that wiring out of the graph, and ``forget`` reaches
every store a user's data lives in without anyone having to remember the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memory.backends import StorageConfig, Stores, open_stores
from memory.backends.base import Changes
from memory.budget import TokenCounter
from memory.embeddings import Embedder, backend_for, default_embedder
from memory.events import EventMemory
from memory.feedback import FeedbackConfig, FeedbackMemory
from memory.scope import Scope, as_scope
from memory.text import MAX_PIECES
from memory.topics import TopicExtractor
from memory.turns import TurnIndex
from memory.unit import UnitOfWork, forget_scope

__all__ = ["MemoryHub"]


@dataclass
class MemoryHub:
    """All of Kindred's memory kinds over one set of stores."""

    stores: Stores
    embedder: Embedder
    topics: TopicExtractor
    tokens: TokenCounter
    turns: TurnIndex
    events: EventMemory
    feedback: FeedbackMemory

    @classmethod
    def open(cls, data_dir: str | Path, *, embedder: Embedder | None = None,
             topics: TopicExtractor | None = None, storage: StorageConfig | None = None,
             feedback: FeedbackConfig | None = None, embedder_backend: str = "auto",
             model_cache_dir: str | Path = "~/.cache/kindred/models") -> MemoryHub:
        """Open (or create) the stores of ``data_dir`` with the backends ``storage`` names.
        Without an ``embedder``, the default one of ``embedder_backend`` (``auto``: the one
        that made the memory's vectors, see :func:`~memory.embeddings.backend_for`)."""
        storage = storage or StorageConfig()
        stores = open_stores(data_dir, storage)
        try:
            if embedder is None:
                embedder = default_embedder(
                    backend_for(embedder_backend, stores.vectors.recorded_embedder()),
                    model_cache_dir)
            return cls.over(stores, embedder=embedder, topics=topics, feedback=feedback,
                            hot_users=storage.hot_users, max_pieces=storage.max_pieces,
                            hot_quantized=storage.hot_vectors == "int8")
        except BaseException:  # refused (another embedder's vectors): let go of the data dir
            stores.close()
            raise

    @classmethod
    def over(cls, stores: Stores, *, embedder: Embedder | None = None,
             topics: TopicExtractor | None = None, feedback: FeedbackConfig | None = None,
             hot_users: int = 64, max_pieces: int = MAX_PIECES,
             hot_quantized: bool = True) -> MemoryHub:
        """The memory kinds over stores that are already open."""
        embedder = embedder or default_embedder()
        name = getattr(embedder, "name", None)  # a test's or an app's own embedder may have none
        if name:
            stores.vectors.claim_embedder(name)
        return cls(stores=stores, embedder=embedder, topics=topics or TopicExtractor.shared(),
                   tokens=TokenCounter(), turns=TurnIndex(stores, embedder, hot_users=hot_users,
                                   max_pieces=max_pieces, hot_quantized=hot_quantized),
                   events=EventMemory(stores, embedder),
                   feedback=FeedbackMemory(stores, embedder, feedback, hot_users=hot_users))

    def unit(self) -> UnitOfWork:
        """A unit of work over these stores (see :mod:`memory.unit`)."""
        return UnitOfWork(self.stores)

    def drop_caches(self, who: Scope | str) -> None:
        """Forget the in-process copies of the user's vectors (reloaded from the stores on use)."""
        scope = as_scope(who)
        self.turns.drop_cache(scope)
        self.feedback.drop_cache(scope)
        self.stores.drop_caches(scope)

    def stale_caches(self, who: Scope | str, changes: Changes | None = None) -> None:
        """Another process wrote the user's memory (``changes``: the vector items, by
        collection; None: unknown): the copies of turns and of events and traits catch up on
        their next use, fetching only what they lack (corrections, a handful, are dropped and
        read again)."""
        scope = as_scope(who)
        if changes is None or "turns" in changes or "pieces" in changes:
            # a long turn's pieces are written with it: its id says what to fetch
            self.turns.stale_cache(scope, None if changes is None else changes.get("turns"))
        if changes is None or "feedback" in changes:
            self.feedback.drop_cache(scope)
        self.stores.stale_caches(scope, changes)

    def forget(self, who: Scope | str, *, compact: bool = True) -> None:
        """Remove the user's records, words and vectors of every kind, and their caches; with
        ``compact``, rebuild the files so that no byte of the user is left on disk."""
        scope = as_scope(who)
        forget_scope(self.stores, scope, [lambda: self.drop_caches(scope)], compact=compact)

    def close(self) -> None:
        self.stores.close()
