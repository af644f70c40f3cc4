"""Small collections answered in process: a vector index that keeps each recent user's events and
traits as a matrix and queries them exactly, passing every write through to the index below.

Why: a chat turn queries the events (LD-Agent's event memory) and the traits (facts pointing at
turns, MaLP's merge check) of one user; each is a Chroma query of 2-6 ms (an HNSW search behind a
metadata filter, measured with py-spy: Chroma queries were a sixth of a turn's memory work),
while a user holds tens to hundreds of them: a matrix product over those is microseconds, and
exact. Turns and corrections have their own per-kind copies (:mod:`memory.hot`); this one sits at
the storage seam, so every memory kind built on ``VectorIndex.query`` gains without knowing.

The copy is filled from the index below on a user's first query, kept in step by every write that
passes through, bounded to the most recently used users, and dropped with :meth:`drop` (a forget,
or brought up to date with :meth:`~CachedVectorIndex.stale` when :mod:`memory.locks` sees
another replica's write. ``where`` filters are equality on metadata fields, the only kind Kindred
uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from memory.backends.base import (
    Changes,
    DeleteVectors,
    QueryVectors,
    UpdateVectorMetadata,
    UpsertVectors,
    VectorHit,
    VectorIndex,
    VectorIndexLayer,
)
from memory.blocks import VectorBlocks
from memory.scope import Scope
from memory.striped import StaleCopy, StripedCache

__all__ = ["CachedVectorIndex"]


class _Items(StaleCopy):
    """One user's items of one collection: ids, metadata, unit vectors (in blocks that never move:
    :mod:`memory.blocks`)."""

    def __init__(self, items: Sequence[Mapping[str, Any]], dim: int | None) -> None:
        super().__init__()  # another process wrote the scope: catch up before the next query
        self.ids: list[str] = []
        self.metas: list[dict[str, Any]] = []
        # no dim yet: made at the first write
        self._rows: VectorBlocks | None = VectorBlocks(dim) if dim else None
        if items:
            self.upsert([i["id"] for i in items], [i["vector"] for i in items],
                        [i["metadata"] for i in items])

    def upsert(self, ids, vectors, metas) -> None:
        vectors = _unit(np.asarray(vectors, dtype=np.float32))
        if self._rows is None:
            self._rows = VectorBlocks(vectors.shape[1])
        pos = {item_id: n for n, item_id in enumerate(self.ids)}
        for item_id, vec, meta in zip(ids, vectors, metas, strict=True):
            meta = _meta(meta or {})
            if item_id in pos:
                n = pos[item_id]
                self.metas[n] = meta
                self._rows[n] = vec
            else:
                pos[item_id] = len(self.ids)
                self.ids.append(item_id)
                self.metas.append(meta)
                self._rows.append(vec)

    def delete(self, ids: set[str]) -> None:
        keep = [n for n, item_id in enumerate(self.ids) if item_id not in ids]
        if len(keep) == len(self.ids) or self._rows is None:
            return
        kept = self._rows.take(keep)
        self.ids = [self.ids[n] for n in keep]
        self.metas = [self.metas[n] for n in keep]
        self._rows = VectorBlocks(self._rows.dim)
        self._rows.append(kept)

    def query(self, vector: np.ndarray, k: int, where: Mapping[str, Any] | None) -> list[VectorHit]:
        if not self.ids or k <= 0 or self._rows is None:
            return []
        sims = self._rows.dot(_unit(np.asarray(vector, dtype=np.float32)[None, :])[0])
        if where:
            ok = np.array([all(m.get(f) == v for f, v in where.items()) for m in self.metas])
            sims = np.where(ok, sims, -np.inf)
        order = np.argsort(-sims, kind="stable")[:k]
        return [VectorHit(id=self.ids[n], text="", similarity=float(sims[n]),
                          metadata=self.metas[n]) for n in order if np.isfinite(sims[n])]


def _meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as the index below returns it (Chroma keeps no None and no empty list) without
    the scope key it adds."""
    return {k: v for k, v in meta.items() if v is not None and k != "user_id"
            and not (isinstance(v, (list, tuple)) and not v)}


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


class CachedVectorIndex(VectorIndexLayer):
    """``inner`` with ``cached`` collections queried in process (see the module docstring)."""

    def __init__(self, inner: VectorIndex, *, cached: Sequence[str] = ("events", "traits"),
                 max_users: int = 64) -> None:
        super().__init__(inner)
        self.cached, self.max_users = tuple(cached), max_users
        # (collection, scope key) -> _Items; a load holds that key's stripe only
        self._users = StripedCache(max_users * len(self.cached))

    def reset(self) -> None:
        """The backend's reset (a shared test server), and an empty copy."""
        self._users.clear()
        self.inner.reset()

    def start_over(self, embedder: str) -> None:
        """The backend's start-over, and an empty copy."""
        self._users.clear()
        self.inner.start_over(embedder)

    def close(self) -> None:
        self.inner.close()

    def purge(self, *, vacuum: bool = False) -> None:
        self.inner.purge(vacuum=vacuum)

    def drop(self, scope: Scope) -> None:
        """Forget the copies of ``scope`` (reloaded from the index below on the next query)."""
        for name in self.cached:
            self._users.pop((name, scope.key))

    def stale(self, scope: Scope, changes: Changes | None = None) -> None:
        """Another process wrote ``scope`` (``changes``: which items, by collection; None:
        unknown): each copy of those catches up on its next query, fetching only the vectors
        it lacks (:meth:`_catch_up`) instead of all of them again.

        Why: on replicas every turn of a user may follow another replica's, and reloading the
        user's events and traits with their vectors each time was a Chroma server read of a
        few hundred kilobytes of JSON a turn, on both processes' CPU."""
        for name in self.cached:
            if changes is not None and name not in changes:
                continue
            ids = None if changes is None else changes[name]
            key = (name, scope.key)
            with self._users.stripe(key):
                items = self._users.peek(key)
                if items is not None:
                    items.mark_behind(ids)

    def submit(self, ops) -> None:
        """Writes the index below may apply later; the copies follow them now."""
        for op in ops:
            self.inner.submit([op])
            if op.collection in self.cached:
                self._follow(op)

    def flush(self) -> None:
        self.inner.flush()

    def batch(self, ops):
        out: list[Any] = []
        for op in ops:
            if isinstance(op, QueryVectors) and op.collection in self.cached:
                out.append(self._query(op))
                continue
            out.extend(self.inner.batch([op]))
            if op.collection in self.cached:
                self._follow(op)
        return out

    def _query(self, op: QueryVectors) -> list[VectorHit]:
        key = (op.collection, op.scope.key)
        with self._users.stripe(key):  # no write of this key changes the copy meanwhile
            items = self._users.get(key, lambda: _Items(
                self.inner.get(op.collection, op.scope, with_vectors=True), len(op.vector)))
            if items.stale:
                self._catch_up(items, op.collection, op.scope)
            return items.query(op.vector, op.k, op.where)

    def _catch_up(self, items: _Items, collection: str, scope: Scope) -> None:
        """Bring a stale copy in step with the index below: the items the scope lock said were
        written, as they are now (gone from below: gone from the copy); when it could not say,
        ids and metadata of every item (no vectors), then the vectors of items new or changed
        since (an item's vector changes only with its metadata: events carry a digest of their
        text)."""
        if items.stale_ids is not None:
            wanted = sorted(items.stale_ids)
            fetched = self.inner.get(collection, scope, ids=wanted, with_vectors=True)
            if fetched:
                items.upsert([f["id"] for f in fetched], np.stack([f["vector"] for f in fetched]),
                             [f["metadata"] for f in fetched])
            gone = set(wanted) - {f["id"] for f in fetched}
            if gone:
                items.delete(gone)
            items.caught_up()
            return
        listed = {i["id"]: _meta(i["metadata"] or {}) for i in self.inner.get(collection, scope)}
        gone = set(items.ids) - listed.keys()
        if gone:
            items.delete(gone)
        have = dict(zip(items.ids, items.metas, strict=True))
        wanted = [item_id for item_id, meta in listed.items() if have.get(item_id) != meta]
        if wanted:
            fetched = self.inner.get(collection, scope, ids=wanted, with_vectors=True)
            if fetched:
                items.upsert([f["id"] for f in fetched], np.stack([f["vector"] for f in fetched]),
                             [f["metadata"] for f in fetched])
        items.caught_up()

    def _follow(self, op: Any) -> None:
        """Keep a cached user's copy in step with a write that just landed below."""
        key = (op.collection, op.scope.key)
        with self._users.stripe(key):
            items = self._users.peek(key)
            if items is None:
                return
            if isinstance(op, UpsertVectors):
                items.upsert(op.ids, op.vectors, op.metadatas)
            elif isinstance(op, DeleteVectors):
                if op.ids is None:
                    self._users.pop(key)
                else:
                    items.delete(set(op.ids))
            elif isinstance(op, UpdateVectorMetadata):
                if op.id in items.ids:  # merged into what is there, as Chroma does
                    n = items.ids.index(op.id)
                    items.metas[n] = _meta({**items.metas[n], **op.metadata})
