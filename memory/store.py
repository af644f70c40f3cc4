"""Vector storage on Chroma: one collection per memory kind, every item scoped to its user.

Why one collection per kind (not per user): collections are heavy in Chroma, users are many.
Scoping is enforced here, in one place: every read and delete filters on ``user_id``, and callers
cannot query without naming a user, so one user's memory is never visible to another.
We always pass our own vectors (Chroma's default embedder would download a model) and use cosine
space, so ``similarity = 1 - distance``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memory import _env  # noqa: F401  (telemetry off before chromadb is imported)
from memory.errors import StoreError

__all__ = ["MEMORY_KINDS", "VectorHit", "VectorIndex"]

MEMORY_KINDS = ("turns", "events", "traits", "feedback")
_PREFIX = "kindred_"


@dataclass(frozen=True)
class VectorHit:
    """One item found by a vector query."""

    id: str
    text: str
    similarity: float
    metadata: Mapping[str, Any] = field(default_factory=dict)


class VectorIndex:
    """Chroma access for Kindred. Build it with :meth:`embedded` or :meth:`server`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._collections: dict[str, Any] = {}
        for kind in MEMORY_KINDS:
            self._collections[kind] = client.get_or_create_collection(
                _PREFIX + kind, configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None)

    @classmethod
    def embedded(cls, path: str | Path) -> VectorIndex:
        """A Chroma ``PersistentClient`` in ``path`` (the default, no server needed)."""
        import chromadb

        Path(path).mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))
        return cls(client)

    @classmethod
    def server(cls, host: str, port: int) -> VectorIndex:
        """A Chroma server (``chroma run --path DIR --port N``), for scale or several processes."""
        import chromadb

        try:
            client = chromadb.HttpClient(host=host, port=port,
                                         settings=chromadb.Settings(anonymized_telemetry=False))
            client.heartbeat()
        except Exception as exc:  # chromadb raises assorted transport errors; re-raised as ours
            raise StoreError(f"Cannot reach the Chroma server at {host}:{port} ({exc}). Start it "
                             "with `chroma run --path DIR --port N` or unset the server setting."
                             ) from exc
        return cls(client)

    def _col(self, kind: str):
        try:
            return self._collections[kind]
        except KeyError:
            raise StoreError(f"Unknown memory kind {kind!r}; expected one of {MEMORY_KINDS}.") from None

    def add(self, kind: str, user_id: str, ids: Sequence[str], texts: Sequence[str],
            vectors: np.ndarray, metadatas: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Insert or replace items of one user. ``user_id`` is written into every item."""
        if not ids:
            return
        metas = [dict(m or {}) for m in (metadatas or [{}] * len(ids))]
        for meta in metas:
            meta["user_id"] = user_id
            for key, value in list(meta.items()):
                if isinstance(value, (list, tuple)) and not value:
                    meta.pop(key)  # Chroma rejects empty lists
        self._col(kind).upsert(ids=list(ids), documents=list(texts),
                               embeddings=np.asarray(vectors, dtype=np.float32).tolist(),
                               metadatas=metas)

    def query(self, kind: str, user_id: str, vector: np.ndarray, k: int,
              where: Mapping[str, Any] | None = None) -> list[VectorHit]:
        """The ``k`` nearest items of ``user_id`` (and matching ``where``), nearest first."""
        if k <= 0:
            return []
        res = self._col(kind).query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                                    n_results=k, where=self._scope(user_id, where),
                                    include=["documents", "metadatas", "distances"])
        return [VectorHit(id=i, text=d or "", similarity=1.0 - float(dist), metadata=m or {})
                for i, d, m, dist in zip(res["ids"][0], res["documents"][0],
                                         res["metadatas"][0], res["distances"][0], strict=True)]

    def get(self, kind: str, user_id: str, ids: Sequence[str] | None = None,
            where: Mapping[str, Any] | None = None, with_vectors: bool = False) -> list[dict]:
        """Items of ``user_id`` (optionally only ``ids``), as dicts with id, text, metadata[, vector]."""
        if ids is not None and not ids:
            return []
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        res = self._col(kind).get(ids=list(ids) if ids is not None else None,
                                  where=self._scope(user_id, where), include=include)
        out = []
        for n, item_id in enumerate(res["ids"]):
            item = {"id": item_id, "text": res["documents"][n], "metadata": res["metadatas"][n]}
            if with_vectors:
                item["vector"] = np.asarray(res["embeddings"][n], dtype=np.float32)
            out.append(item)
        return out

    def update_metadata(self, kind: str, user_id: str, item_id: str,
                        metadata: Mapping[str, Any]) -> None:
        """Replace an item's metadata (its vector stays), only if it belongs to ``user_id``."""
        if not self.get(kind, user_id, ids=[item_id]):
            return
        meta = {k: v for k, v in {**metadata, "user_id": user_id}.items()
                if not (isinstance(v, (list, tuple)) and not v)}
        self._col(kind).update(ids=[item_id], metadatas=[meta])

    def count(self, kind: str, user_id: str) -> int:
        return len(self._col(kind).get(where=self._scope(user_id, None), include=[])["ids"])

    def delete(self, kind: str, user_id: str, ids: Sequence[str]) -> None:
        """Delete the given items, only if they belong to ``user_id``."""
        if ids:
            self._col(kind).delete(ids=list(ids), where=self._scope(user_id, None))

    def delete_all(self, kind: str, user_id: str) -> None:
        """Remove every item of ``user_id`` from one collection."""
        self._col(kind).delete(where=self._scope(user_id, None))

    def delete_user(self, user_id: str) -> None:
        """Remove every item of ``user_id`` from every collection."""
        for kind in MEMORY_KINDS:
            self.delete_all(kind, user_id)

    def close(self) -> None:
        """Release Chroma's files (its SQLite and HNSW segments): without this an embedded client
        keeps them open until the process ends, one set per memory opened (evaluations open one
        per conversation). Safe to call twice."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @staticmethod
    def _scope(user_id: str, where: Mapping[str, Any] | None) -> dict:
        if not user_id:
            raise StoreError("A vector operation was attempted without a user id.")
        clause = {"user_id": user_id}
        if not where:
            return clause
        return {"$and": [clause, *({k: v} for k, v in where.items())]}
