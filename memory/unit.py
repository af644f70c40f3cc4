"""One module owns the order of writes across the stores: records first, then what derives from them.

A turn is stored in three places: its record (the log), its words (lexical index) and its vector;
an in-process cache may hold its vector too. A :class:`UnitOfWork` collects the operations of one
change and applies them in one fixed order:

1. records, in one transaction: the log. Once this commits the turn exists;
2. lexical rows and 3. vectors: derived from the records, repairable from them. Vectors are
   *submitted*: with the default stores they are written behind the caller
   (:mod:`memory.backends.behind`), and every later read of the index waits for them;
4. in-process caches, once the records and words have landed.

Where records and words share one SQLite file they commit in the same transaction. Forgetting runs
the other way round (:func:`forget_scope`): derived data first, the log last, so an interrupted
``forget`` leaves records that the next ``forget`` finds and removes, never vectors without records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

from memory.backends import Stores
from memory.backends.base import (
    DeleteRecords,
    DeleteTexts,
    DeleteVectors,
    IndexTexts,
    PutRecords,
    Record,
    UpdateVectorMetadata,
    UpsertVectors,
)
from memory.scope import Scope

__all__ = ["UnitOfWork", "forget_scope"]


class UnitOfWork:
    """The writes of one change, applied by :meth:`commit` in the order above."""

    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self._records: list[Any] = []
        self._lexical: list[Any] = []
        self._vectors: list[Any] = []
        self._after: list[Callable[[], None]] = []

    def put(self, scope: Scope, records: Sequence[Record]) -> UnitOfWork:
        if records:
            self._records.append(PutRecords(scope, tuple(records)))
        return self

    def delete(self, scope: Scope, kind: str, ids: Sequence[str]) -> UnitOfWork:
        if ids:
            self._records.append(DeleteRecords(scope, kind, tuple(ids)))
        return self

    def index_text(self, scope: Scope, rows: Sequence[tuple[str, str, str]]) -> UnitOfWork:
        if rows:
            self._lexical.append(IndexTexts(scope, tuple(rows)))
        return self

    def delete_text(self, scope: Scope, ids: Sequence[str]) -> UnitOfWork:
        if ids:
            self._lexical.append(DeleteTexts(scope, tuple(ids)))
        return self

    def upsert_vectors(self, collection: str, scope: Scope, ids: Sequence[str],
                       vectors: np.ndarray, metadatas: Sequence[Mapping[str, Any]]) -> UnitOfWork:
        if ids:
            self._vectors.append(UpsertVectors(collection, scope, tuple(ids),
                                               np.asarray(vectors, dtype=np.float32),
                                               tuple(metadatas)))
        return self

    def update_vector_metadata(self, collection: str, scope: Scope, item_id: str,
                               metadata: Mapping[str, Any]) -> UnitOfWork:
        self._vectors.append(UpdateVectorMetadata(collection, scope, item_id, metadata))
        return self

    def delete_vectors(self, collection: str, scope: Scope, ids: Sequence[str]) -> UnitOfWork:
        if ids:
            self._vectors.append(DeleteVectors(collection, scope, tuple(ids)))
        return self

    def then(self, action: Callable[[], None]) -> UnitOfWork:
        """Run ``action`` (a cache update) once every durable write has landed."""
        self._after.append(action)
        return self

    def commit(self) -> None:
        stores = self._stores
        with ExitStack() as tx:
            tx.enter_context(stores.records.transaction())
            tx.enter_context(stores.lexical.transaction())
            if self._records:
                stores.records.batch(self._records)
            if self._lexical:
                stores.lexical.batch(self._lexical)
        if self._vectors:  # derived from the records just written: need not hold the caller
            stores.vectors.submit(self._vectors)
        for action in self._after:
            action()
        self._records, self._lexical, self._vectors, self._after = [], [], [], []


def forget_scope(stores: Stores, scope: Scope, caches: Sequence[Callable[[], None]] = (), *,
                 compact: bool = True) -> None:
    """Remove everything of ``scope``: caches, vectors and words first, records (the log) last;
    then ``compact`` the files so no byte of it stays on disk (see ``RecordStore.purge``)."""
    for drop in caches:
        drop()
    stores.vectors.delete_scope(scope)
    with ExitStack() as tx:
        tx.enter_context(stores.records.transaction())
        tx.enter_context(stores.lexical.transaction())
        stores.lexical.batch([DeleteTexts(scope)])
        stores.records.batch([DeleteRecords(scope)])
    stores.records.purge(vacuum=compact)
    if stores.lexical is not stores.records:
        stores.lexical.purge(vacuum=compact and not _same_file(stores))


def _same_file(stores: Stores) -> bool:
    """Records and words in one SQLite database: one rebuild does for both."""
    return getattr(stores.records, "db", None) is getattr(stores.lexical, "db", object())
