"""Vectors on Chroma: embedded (``PersistentClient``, the default) or a Chroma server.

Why one collection per memory kind (not per user): collections are heavy in Chroma, users are
many. Every item carries its scope's key (``user_id`` metadata: the user id for the default tenant,
``tenant/user`` otherwise, see :class:`memory.scope.Scope`), and every read and delete filters on
it, so one user's memory is never visible to another. Chroma's ids are global to a collection, so
the id Chroma holds is ``<scope key>::<id>`` (scope keys cannot hold ``:``): two users' items with
the same id never overwrite each other. Chroma holds no text (see
:class:`~memory.backends.base.UpsertVectors`): Chroma's own file keeps deleted rows in its
write-ahead log and free pages, beyond what a forget can reach, so a memory's words never go
there. Collections written by an older Kindred (bare ids; documents and word-bearing metadata) are
rewritten once when first opened. We always pass our own vectors (Chroma's
default embedder would download a model) and use cosine space, so ``similarity = 1 - distance``.
Chroma's own exceptions (assorted transport, value and internal errors) leave this module as
:class:`~memory.errors.StoreError` with what to do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from memory.backends.base import (
    CountVectors,
    DeleteVectors,
    GetVectors,
    QueryVectors,
    UpdateVectorMetadata,
    UpsertVectors,
    VectorHit,
    VectorIndex,
    iter_chunks,
)
from memory.backends.hnsw_files import zero_unused_slots
from memory.embeddings import BACKEND_OF_NAME, DEFAULT_NAME, RETIRED_NAMES
from memory.errors import ConfigurationError, StoreError
from memory.scope import Scope

__all__ = ["ChromaVectorIndex"]

_PREFIX = "kindred_"
_SEP = "::"
#: collection metadata "kindred_ids": 2 = ids prefixed with the scope key, 3 = and no text
_ID_SCHEME = 3
#: what scheme 2 held that carries a memory's words (besides documents): nouns and speaker names
_TEXT_KEYS = ("topics", "speaker")
_PAGE = 1000
#: turns collection metadata: the name of the embedder that made the vectors
_EMBEDDER = "kindred_embedder"


class ChromaVectorIndex(VectorIndex):
    """Chroma access for Kindred. Build it with :meth:`embedded` or :meth:`server`."""

    def __init__(self, client: Any, where: str = "Chroma", files: Path | None = None) -> None:
        self._client = client
        self._where = where
        #: an embedded client's directory, whose index files are cleaned (see hnsw_files)
        self._files = files
        self._clean: set[str] = set()  # its index directories cleaned since opening
        self._upserting = threading.Lock()
        self._collections: dict[str, Any] = {}
        with self._guard("opening its collections"):
            for name in self.collections:
                col = client.get_or_create_collection(
                    _PREFIX + name, configuration={"hnsw": {"space": "cosine"}},
                    metadata={"kindred_ids": _ID_SCHEME}, embedding_function=None)
                if (col.metadata or {}).get("kindred_ids") != _ID_SCHEME:
                    _upgrade(col)
                self._collections[name] = col
            self._clean_new_indexes()  # also those a process killed before it cleaned them made

    def recorded_embedder(self) -> str | None:
        """Kept in the turns collection's metadata; a collection with vectors and no name was
        written before names were kept, by all-MiniLM-L6-v2 (the only embedder Kindred shipped
        then)."""
        col = self._collections["turns"]
        with self._guard("reading which embedder made its vectors"):
            found = (col.metadata or {}).get(_EMBEDDER)
            return DEFAULT_NAME if found is None and col.count() > 0 else found

    def claim_embedder(self, name: str) -> None:
        found = self.recorded_embedder()
        if found is not None and found != name:
            if found in RETIRED_NAMES:  # no setting makes it any more: only reencoding helps
                raise ConfigurationError(
                    f"The vectors in {self._where} were made by {found!r}, an embedder this "
                    f"Kindred no longer ships (this process embeds with {name!r}: their scores "
                    f"would not compare). Make every vector again with `kindred memory reencode "
                    f"--embedder {RETIRED_NAMES[found]}` (the records are kept; only the vectors "
                    "are made anew).")
            setting, wanted = BACKEND_OF_NAME.get(found), BACKEND_OF_NAME.get(name, "E")
            raise ConfigurationError(
                f"The vectors in {self._where} were made by the embedder {found!r}, and this "
                f"process embeds with {name!r}: their scores would not compare. "
                + (f"Set KINDRED_EMBEDDER to {setting} or to auto (the default: the embedder "
                   "that made the data dir's vectors), " if setting else
                   "Open it with the embedder that made it, ")
                + f"or make every vector again with `kindred memory reencode --embedder "
                f"{wanted}`.")
        col = self._collections["turns"]
        if (col.metadata or {}).get(_EMBEDDER) != name:
            with self._guard("recording which embedder makes its vectors"):
                col.modify(metadata={**(col.metadata or {}), _EMBEDDER: name})

    @classmethod
    def embedded(cls, path: str | Path) -> ChromaVectorIndex:
        """A Chroma ``PersistentClient`` in ``path`` (no server needed)."""
        import chromadb

        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            client = chromadb.PersistentClient(
                path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))
        except Exception as exc:  # chromadb raises assorted errors; re-raised as ours
            raise StoreError(f"Cannot open the vector store at {path} ({exc}). Check that the "
                             "data directory is writable and not used by another process.") from exc
        return cls(client, f"the vector store at {path}", Path(path))

    @classmethod
    def server(cls, host: str, port: int) -> ChromaVectorIndex:
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
        return cls(client, f"the Chroma server at {host}:{port}")

    def reset(self) -> None:
        """Drop and recreate every collection (a shared test server between tests)."""
        with self._guard("resetting its collections"):
            for name in self.collections:
                self._client.delete_collection(_PREFIX + name)
        self.__init__(self._client, self._where, self._files)

    def start_over(self, embedder: str) -> None:
        """Every collection is dropped, the turns last: they carry the embedder's name, so a
        process killed half-way leaves turns that still name the embedder of the vectors left
        in the others (the repair on open derives the rest with that one), or none at all."""
        order = [name for name in self.collections if name != "turns"] + ["turns"]
        with self._guard("dropping its vectors to encode them again"):
            for name in order:
                self._client.delete_collection(_PREFIX + name)
        self.__init__(self._client, self._where, self._files)
        self.claim_embedder(embedder)

    def _guard(self, what: str):
        return _Guard(self._where, what)

    def _col(self, name: str):
        try:
            return self._collections[name]
        except KeyError:
            raise StoreError(f"Unknown memory kind {name!r}; expected one of "
                             f"{self.collections}.") from None

    def batch(self, ops):
        if self._client is None:
            raise StoreError(f"{self._where} is closed: open a new Kindred on the data dir.")
        out: list[Any] = []
        for run in _runs(ops):
            with self._guard(type(run[0]).__name__), self._upsert(run[0]):
                if len(run) > 1:
                    self._upsert_many(run)
                    out.extend([None] * len(run))
                else:
                    out.append(self._run(run[0]))
        return out

    @contextmanager
    def _upsert(self, op: Any) -> Iterator[None]:
        """Around a run of upserts on the embedded client: a collection's first upsert is what
        makes Chroma create its index files, with stale heap bytes in their unused slots, which
        are zeroed right after (:mod:`memory.backends.hnsw_files`). Upserts take turns meanwhile:
        one running beside the zeroing could persist an element into the slots being zeroed."""
        if self._files is None or not isinstance(op, UpsertVectors):
            yield
            return
        with self._upserting:
            yield
            self._clean_new_indexes()

    def _clean_new_indexes(self) -> None:
        """Zero the unused slots of every index directory not cleaned yet (a listing of a few
        names, each index cleaned once)."""
        if self._files is None:
            return
        with os.scandir(self._files) as entries:
            fresh = [e.path for e in entries if e.is_dir() and e.name not in self._clean]
        for path in fresh:
            if zero_unused_slots(path):
                self._clean.add(os.path.basename(path))

    def _upsert_many(self, ops: Sequence[UpsertVectors]) -> None:
        """Consecutive upserts of one collection (several users' turns written behind) as one
        Chroma call: it costs about what one of them does. A later item replaces an earlier one
        with the same id, as separate upserts would."""
        items: dict[str, tuple[Any, dict[str, Any]]] = {}
        for op in ops:
            for chroma_id, vec, meta in zip(_ids(op.scope, op.ids), op.vectors, op.metadatas,
                                            strict=True):
                items.pop(chroma_id, None)
                items[chroma_id] = (vec, _clean({**(meta or {}), "user_id": op.scope.key}))
        col, ids = self._col(ops[0].collection), list(items)
        for chunk in iter_chunks(ids, _PAGE):  # Chroma refuses a call over its batch size (5,461)
            col.upsert(ids=list(chunk), metadatas=[items[i][1] for i in chunk],
                       embeddings=np.asarray([items[i][0] for i in chunk],
                                             dtype=np.float32).tolist())

    def _run(self, op) -> Any:
        col = self._col(op.collection)
        if isinstance(op, UpsertVectors):
            if op.ids:
                metas = [_clean({**(m or {}), "user_id": op.scope.key}) for m in op.metadatas]
                col.upsert(ids=_ids(op.scope, op.ids),
                           embeddings=np.asarray(op.vectors, dtype=np.float32).tolist(),
                           metadatas=metas)
            return None
        if isinstance(op, QueryVectors):
            res = col.query(query_embeddings=[np.asarray(op.vector, dtype=np.float32).tolist()],
                            n_results=op.k, where=_scope(op.scope, op.where),
                            include=["metadatas", "distances"])
            return [VectorHit(id=_bare(i), text="", similarity=1.0 - float(dist),
                              metadata=m or {})
                    for i, m, dist in zip(res["ids"][0], res["metadatas"][0],
                                          res["distances"][0], strict=True)]
        if isinstance(op, GetVectors):
            include = ["metadatas"] + (["embeddings"] if op.with_vectors else [])
            res = col.get(ids=_ids(op.scope, op.ids) if op.ids is not None else None,
                          where=_scope(op.scope, op.where), include=include)
            items = []
            for n, item_id in enumerate(res["ids"]):
                item = {"id": _bare(item_id), "metadata": res["metadatas"][n]}
                if op.with_vectors:
                    item["vector"] = np.asarray(res["embeddings"][n], dtype=np.float32)
                items.append(item)
            return items
        if isinstance(op, UpdateVectorMetadata):
            [item_id] = _ids(op.scope, [op.id])
            if col.get(ids=[item_id], where=_scope(op.scope, None), include=[])["ids"]:
                col.update(ids=[item_id], metadatas=[_clean({**op.metadata,
                                                             "user_id": op.scope.key})])
            return None
        if isinstance(op, DeleteVectors):
            if op.ids is None:
                col.delete(where=_scope(op.scope, None))
            elif op.ids:
                col.delete(ids=_ids(op.scope, op.ids), where=_scope(op.scope, None))
            return None
        if isinstance(op, CountVectors):
            return len(col.get(where=_scope(op.scope, None), include=[])["ids"])
        raise StoreError(f"The vector index cannot run {type(op).__name__}.")

    def close(self) -> None:
        """Release Chroma's files (its SQLite and HNSW segments): without this an embedded client
        keeps them open until the process ends, one set per memory opened (evaluations open one
        per conversation). Safe to call twice."""
        if self._client is not None:
            self._client.close()
            self._client = None


class _Guard:
    """Chroma's exceptions as StoreError (its errors have no common base we could catch)."""

    def __init__(self, where: str, what: str) -> None:
        self._where, self._what = where, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, StoreError) or not isinstance(exc, Exception):
            return False
        raise StoreError(f"{self._where[0].upper()}{self._where[1:]} failed ({self._what}): "
                         f"{type(exc).__name__}: {exc}. If several processes share this data "
                         "dir, run a Chroma server for them (KINDRED_STORAGE__CHROMA_HOST); "
                         "otherwise check the disk and the server.") from exc


def _runs(ops: Sequence[Any]) -> list[list[Any]]:
    """``ops`` in order, consecutive upserts to one collection grouped."""
    runs: list[list[Any]] = []
    for op in ops:
        last = runs[-1] if runs else None
        if (last and isinstance(op, UpsertVectors) and isinstance(last[0], UpsertVectors)
                and last[0].collection == op.collection):
            last.append(op)
        else:
            runs.append([op])
    return runs


def _ids(scope: Scope, ids) -> list[str]:
    return [f"{scope.key}{_SEP}{i}" for i in ids]


def _bare(chroma_id: str) -> str:
    return chroma_id.split(_SEP, 1)[1] if _SEP in chroma_id else chroma_id


def _upgrade(col) -> None:
    """Rewrite a collection an older Kindred wrote, a page at a time: ids prefixed with the scope
    key, no documents, none of ``_TEXT_KEYS``; then mark it. Items are deleted and added again,
    since Chroma's upsert keeps an item's old document and metadata keys. A crash midway leaves
    some items without a vector, which repair on open derives again from the records."""
    ids = col.get(include=[])["ids"]
    for chunk in iter_chunks(ids, _PAGE):
        page = col.get(ids=list(chunk), include=["metadatas", "embeddings"])
        metas = [{k: v for k, v in (m or {}).items() if k not in _TEXT_KEYS}
                 for m in page["metadatas"]]
        col.delete(ids=page["ids"])
        col.add(ids=[i if _SEP in i else f"{m.get('user_id', '')}{_SEP}{i}"
                     for i, m in zip(page["ids"], metas, strict=True)],
                embeddings=page["embeddings"], metadatas=metas)
    col.modify(metadata={**(col.metadata or {}), "kindred_ids": _ID_SCHEME})


def _clean(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Chroma rejects empty lists in metadata."""
    return {k: v for k, v in meta.items() if not (isinstance(v, (list, tuple)) and not v)}


def _scope(scope: Scope, where: Mapping[str, Any] | None) -> dict:
    if not scope.user:
        raise StoreError("A vector operation was attempted without a user id.")
    clause = {"user_id": scope.key}
    if not where:
        return clause
    return {"$and": [clause, *({k: v} for k, v in where.items())]}
