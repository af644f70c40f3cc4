"""The storage seam: three small interfaces, each with one abstract method, ``batch``.

Kindred keeps three kinds of state for every user, and each has its own interface:

* :class:`RecordStore`: the records themselves (turns, events, traits, feedback) with the columns
  they are looked up by. It is the log: everything else can be rebuilt from it.
* :class:`LexicalIndex`: the words of the turns, ranked by BM25.
* :class:`VectorIndex`: embeddings of every memory kind, searched by cosine.

Why batches (as LangGraph's ``BaseStore`` makes only ``batch``/``abatch`` abstract): a backend
implements one method that receives a list of operations and may run them in one transaction or
one round trip; the many convenience methods (``put``, ``get``, ``search``…) are built on it here,
once, for every backend. Operations are frozen dataclasses, so a batch is plain data that can be
logged, retried or replayed.

Every operation names a :class:`~memory.scope.Scope`: no read or delete exists without one, which
is how one user's (and one tenant's) memory stays invisible to another.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memory.errors import ConfigurationError
from memory.scope import Scope, as_scope

__all__ = [
    "Changes",
    "CountRecords",
    "CountVectors",
    "DeleteRecords",
    "DeleteTexts",
    "DeleteVectors",
    "GetRecords",
    "GetVectors",
    "IndexTexts",
    "ListTexts",
    "LexicalOp",
    "LexicalHit",
    "LexicalIndex",
    "ListRecords",
    "ListScopes",
    "PutRecords",
    "RecordOp",
    "QueryVectors",
    "Record",
    "RecordStore",
    "ScopeHold",
    "SearchTexts",
    "UpdateVectorMetadata",
    "UpsertVectors",
    "VectorHit",
    "VectorIndex",
    "VectorIndexLayer",
    "VectorOp",
    "iter_chunks",
]


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class Record:
    """One stored item. ``value`` holds its fields; the other columns are what it is found by.

    ``session``/``seq``: a turn's session and position; ``status``: active, superseded…;
    ``tag``: a kind's own lookup key (a trait's owner, a correction's normalised request);
    ``conversation``: the thread a turn belongs to ("" for the user's default conversation).
    """

    kind: str
    id: str
    value: Mapping[str, Any]
    ts: float = 0.0
    session: str = ""
    seq: int = 0
    status: str = ""
    tag: str = ""
    conversation: str = ""


@dataclass(frozen=True, slots=True)
class PutRecords:
    """Insert or replace records of one scope (a replaced record keeps its insertion order)."""

    scope: Scope
    records: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class GetRecords:
    scope: Scope
    kind: str
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListRecords:
    """Records of one kind, oldest first (by ``ts``, ``seq``, then insertion), optionally filtered
    by the given columns; ``newest`` reverses the order (with ``limit``: the last N)."""

    scope: Scope
    kind: str
    session: str | None = None
    seq: int | None = None
    status: str | None = None
    tag: str | None = None
    conversation: str | None = None
    limit: int | None = None
    newest: bool = False


@dataclass(frozen=True, slots=True)
class CountRecords:
    scope: Scope
    kind: str
    status: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteRecords:
    """Delete the given records of one kind, every record of the kind (``ids`` None), or every
    record of the scope (``kind`` None too)."""

    scope: Scope
    kind: str | None = None
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ListScopes:
    """Every scope that holds at least one record (of one tenant, or of all)."""

    tenant: str | None = None


RecordOp = PutRecords | GetRecords | ListRecords | CountRecords | DeleteRecords | ListScopes


class _Transactional:
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Group batches into one transaction where the backend can (nested: the outer one
        commits). Stores sharing one database join the same transaction; others ignore it."""
        return contextlib.nullcontext()

    def close(self) -> None:
        """Release connections and files (safe to call twice)."""

    def purge(self, *, vacuum: bool = False) -> None:
        """Make what was deleted unrecoverable from this store's files where the backend can
        (SQLite: secure_delete overwrites freed rows; this empties the write-ahead log, whose
        older frames still hold them, and with ``vacuum`` rebuilds the file, whose interior index
        pages keep divider keys). ``forget`` calls it."""


#: vector items by collection: their ids, or None for "any of the collection's"
Changes = Mapping[str, frozenset[str] | None]


@dataclass(slots=True)
class ScopeHold:
    """A scope's version (a number any process changes when it writes the scope) when its lock
    was taken, and (``after``) when it was released; None where one process owns the store (an
    embedded backend, behind the data dir lock) and nothing can change behind it."""

    version: int | None
    after: int | None = None
    #: the vector items written by the last holders, as (version, {collection: ids, or None for
    #: "any of them"}) oldest first, complete for every version after ``since``; None where the
    #: store cannot say (a writer that did not record it, a forgotten or new scope): then every
    #: copy of the scope is behind
    changes: tuple[tuple[int, Mapping[str, tuple[str, ...] | None]], ...] | None = None
    since: int = 0
    #: set by the holder before release: the vector items this process wrote in the scope since
    #: its last release (None: unknown, and the store stops vouching for ``changes``)
    wrote: Changes | None = None

    def changed_since(self, seen: int | None) -> dict[str, frozenset[str] | None] | None:
        """The vector items written after version ``seen``, by collection (ids, or None: any of
        the collection's); None when that is not known (then every copy is behind)."""
        if seen is None or self.changes is None or seen < self.since:
            return None
        out: dict[str, frozenset[str] | None] = {}
        for version, written in self.changes:
            if version <= seen:
                continue
            for name, ids in written.items():
                if ids is None or (name in out and out[name] is None):
                    out[name] = None
                else:
                    out[name] = out.get(name, frozenset()) | frozenset(ids)
        return out


class RecordStore(_Transactional, ABC):
    """Records of every memory kind. Implement :meth:`batch`; the rest is built on it."""

    @abstractmethod
    def batch(self, ops: Sequence[RecordOp]) -> list[Any]:
        """Run the operations in order, atomically, returning one result per operation:
        ``None`` for puts and deletes, ``list[Record]`` for gets and lists, ``int`` for counts,
        ``list[Scope]`` for :class:`ListScopes`."""

    def put(self, scope: Scope | str, records: Sequence[Record]) -> None:
        if records:
            self.batch([PutRecords(as_scope(scope), tuple(records))])

    def get(self, scope: Scope | str, kind: str, record_id: str) -> Record | None:
        found = self.batch([GetRecords(as_scope(scope), kind, (record_id,))])[0]
        return found[0] if found else None

    def get_many(self, scope: Scope | str, kind: str, ids: Sequence[str]) -> list[Record]:
        return self.batch([GetRecords(as_scope(scope), kind, tuple(ids))])[0] if ids else []

    def list(self, scope: Scope | str, kind: str, **where: Any) -> list[Record]:
        return self.batch([ListRecords(as_scope(scope), kind, **where)])[0]

    def count(self, scope: Scope | str, kind: str, **where: Any) -> int:
        return self.batch([CountRecords(as_scope(scope), kind, **where)])[0]

    def delete(self, scope: Scope | str, kind: str | None = None,
               ids: Sequence[str] | None = None) -> None:
        self.batch([DeleteRecords(as_scope(scope), kind, None if ids is None else tuple(ids))])

    def scopes(self, tenant: str | None = None) -> list[Scope]:
        return self.batch([ListScopes(tenant)])[0]

    @contextlib.contextmanager
    def scope_lock(self, scope: Scope) -> Iterator[ScopeHold]:
        """Hold the scope against writers in other processes for the block. The hold says the
        scope's version before it and after it (see :class:`ScopeHold`)."""
        yield ScopeHold(None)

    def scope_version(self, scope: Scope) -> int | None:
        """The scope's version now, read without the lock (None: one process owns the store)."""
        return None


# ----------------------------------------------------------------------------- lexical
@dataclass(frozen=True, slots=True)
class LexicalHit:
    turn_id: str
    score: float  # BM25, higher is better


@dataclass(frozen=True, slots=True)
class IndexTexts:
    """Index ``(id, body, context)`` rows of one scope (re-indexing an id replaces it)."""

    scope: Scope
    rows: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class SearchTexts:
    scope: Scope
    text: str
    k: int


@dataclass(frozen=True, slots=True)
class DeleteTexts:
    """Delete the given ids, or everything of the scope (``ids`` None)."""

    scope: Scope
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ListTexts:
    """The ids indexed for one scope (consistency checks and repairs)."""

    scope: Scope


LexicalOp = IndexTexts | SearchTexts | DeleteTexts | ListTexts


class LexicalIndex(_Transactional, ABC):
    """BM25 over a scope's turns; each scope ranks against its own statistics only."""

    @abstractmethod
    def batch(self, ops: Sequence[LexicalOp]) -> list[Any]:
        """Run the operations in order: ``None`` for writes, ``list[LexicalHit]`` for searches."""

    def add(self, scope: Scope | str, rows: Sequence[tuple[str, str, str]]) -> None:
        if rows:
            self.batch([IndexTexts(as_scope(scope), tuple(rows))])

    def search(self, scope: Scope | str, text: str, k: int) -> list[LexicalHit]:
        return self.batch([SearchTexts(as_scope(scope), text, k)])[0]

    def delete(self, scope: Scope | str, ids: Sequence[str] | None = None) -> None:
        self.batch([DeleteTexts(as_scope(scope), None if ids is None else tuple(ids))])

    def ids(self, scope: Scope | str) -> list[str]:
        return self.batch([ListTexts(as_scope(scope))])[0]


# ----------------------------------------------------------------------------- vectors
@dataclass(frozen=True)
class VectorHit:
    """One item found by a vector query. ``text`` is filled by the memory kind that joined the
    item with its record; an index holds no text and leaves it empty."""

    id: str
    text: str
    similarity: float
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpsertVectors:
    """Vectors and their filter keys. No text: a memory's words live in the record store only,
    so forgetting them there (secure delete, vacuum) forgets them everywhere; an index's own
    files (Chroma's write-ahead log and free pages keep deleted rows) never see them."""

    collection: str
    scope: Scope
    ids: tuple[str, ...]
    vectors: np.ndarray
    metadatas: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class QueryVectors:
    """The ``k`` nearest items of the scope (matching ``where``), nearest first."""

    collection: str
    scope: Scope
    vector: np.ndarray
    k: int
    where: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class GetVectors:
    """Items of the scope (only ``ids`` when given), as dicts: id, metadata[, vector]."""

    collection: str
    scope: Scope
    ids: tuple[str, ...] | None = None
    where: Mapping[str, Any] | None = None
    with_vectors: bool = False


@dataclass(frozen=True)
class UpdateVectorMetadata:
    """Set fields of one item's metadata (merged into what it holds; its vector stays), only if
    it belongs to the scope."""

    collection: str
    scope: Scope
    id: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class DeleteVectors:
    """Delete the given items of the scope, or all of them (``ids`` None)."""

    collection: str
    scope: Scope
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CountVectors:
    collection: str
    scope: Scope


VectorOp = (UpsertVectors | QueryVectors | GetVectors | UpdateVectorMetadata | DeleteVectors
            | CountVectors)


class VectorIndex(_Transactional, ABC):
    """Embeddings of every memory kind, one collection per kind, every item scoped; ids, vectors
    and small filter keys only (see :class:`UpsertVectors`)."""

    collections: tuple[str, ...] = ("turns", "events", "traits", "feedback", "pieces")

    @abstractmethod
    def batch(self, ops: Sequence[VectorOp]) -> list[Any]:
        """Run the operations in order: ``None`` for writes, ``list[VectorHit]`` for queries,
        ``list[dict]`` for gets, ``int`` for counts."""

    def add(self, collection: str, scope: Scope | str, ids: Sequence[str], vectors: np.ndarray,
            metadatas: Sequence[Mapping[str, Any]] | None = None) -> None:
        if ids:
            self.batch([UpsertVectors(collection, as_scope(scope), tuple(ids),
                                      np.asarray(vectors, dtype=np.float32),
                                      tuple(metadatas or ({},) * len(ids)))])

    def submit(self, ops: Sequence[VectorOp]) -> None:
        """Writes whose caller need not wait for them (a turn's vectors: the records are the
        log). Here they run now; :mod:`memory.backends.behind` queues them."""
        self.batch(ops)

    def flush(self) -> None:
        """Return once every submitted write is applied (nothing to wait for here)."""

    def claim_embedder(self, name: str) -> None:
        """Record that this index's vectors are made by the embedder ``name``, or raise
        :class:`~memory.errors.ConfigurationError` if they were made by another. Why: vectors
        of two models (even int8 and fp32 weights of one) are not comparable, and a memory
        searched with the wrong one ranks badly without any error. An index that keeps no
        name accepts every embedder (this base class)."""

    def recorded_embedder(self) -> str | None:
        """The name of the embedder that made this index's vectors, if it is known (None for an
        empty index, and here, for an index that keeps no name)."""
        return None

    def start_over(self, embedder: str) -> None:
        """Delete every vector and record ``embedder`` as the one that will make them again
        (``kindred memory reencode``: the record store is the log, and the repair on open
        derives every vector from it). An index that cannot do this says so (this base)."""
        raise ConfigurationError(f"{type(self).__name__} cannot drop its vectors to encode "
                                 "them again; export the users and import them into a new data "
                                 "directory instead (`kindred memory export` / `import`).")

    def query(self, collection: str, scope: Scope | str, vector: np.ndarray, k: int,
              where: Mapping[str, Any] | None = None) -> list[VectorHit]:
        if k <= 0:
            return []
        return self.batch([QueryVectors(collection, as_scope(scope), np.asarray(vector, np.float32), k,
                                        where)])[0]

    def get(self, collection: str, scope: Scope | str, ids: Sequence[str] | None = None,
            where: Mapping[str, Any] | None = None, with_vectors: bool = False) -> list[dict]:
        if ids is not None and not ids:
            return []
        return self.batch([GetVectors(collection, as_scope(scope), None if ids is None else tuple(ids),
                                      where, with_vectors)])[0]

    def update_metadata(self, collection: str, scope: Scope | str, item_id: str,
                        metadata: Mapping[str, Any]) -> None:
        self.batch([UpdateVectorMetadata(collection, as_scope(scope), item_id, metadata)])

    def count(self, collection: str, scope: Scope | str) -> int:
        return self.batch([CountVectors(collection, as_scope(scope))])[0]

    def delete(self, collection: str, scope: Scope | str, ids: Sequence[str] | None = None) -> None:
        if ids is None or ids:
            self.batch([DeleteVectors(collection, as_scope(scope), None if ids is None else tuple(ids))])

    def delete_scope(self, scope: Scope | str) -> None:
        """Every item of the scope, from every collection."""
        self.batch([DeleteVectors(c, as_scope(scope)) for c in self.collections])


class VectorIndexLayer(VectorIndex):
    """A vector index in front of another (``inner``: a cache, a write queue). Transactions are
    the inner index's, and what the layer does not define is the backend's own (its client, for
    tests and tools)."""

    def __init__(self, inner: VectorIndex) -> None:
        self.inner = inner
        self.collections = inner.collections

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (during unpickling or a failed __init__)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def transaction(self):
        return self.inner.transaction()

    # what VectorIndex defines as no-ops for an index of its own reaches the index below
    # (inherited, they would have hidden it: a layer's flush that waited for nothing)
    def submit(self, ops: Sequence[VectorOp]) -> None:
        self.inner.submit(ops)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()

    def purge(self, *, vacuum: bool = False) -> None:
        self.inner.purge(vacuum=vacuum)

    def claim_embedder(self, name: str) -> None:
        self.flush()  # an index with vectors queued is not empty
        self.inner.claim_embedder(name)

    def recorded_embedder(self) -> str | None:
        self.flush()
        return self.inner.recorded_embedder()

    def start_over(self, embedder: str) -> None:
        self.flush()
        self.inner.start_over(embedder)


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (backends bound their statement sizes)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
