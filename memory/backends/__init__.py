"""Storage backends behind the three interfaces of :mod:`memory.backends.base`.

``open_stores`` picks the implementations from :class:`StorageConfig`: records and words in SQLite
(``kindred.db`` in the data dir) or PostgreSQL (``database_url``), vectors in embedded Chroma
(``chroma/`` in the data dir) or a Chroma server (``chroma_host``); any pair works. While anything
is embedded, the data dir belongs to one process (:class:`DataDirLock`); with both servers any
number of replicas share them. A new backend implements ``batch`` of one interface and is added
here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from memory.backends.base import LexicalIndex, RecordStore, VectorIndex
from memory.backends.behind import WriteBehindVectorIndex
from memory.backends.cached import CachedVectorIndex
from memory.backends.chroma import ChromaVectorIndex
from memory.backends.lock import DataDirLock
from memory.backends.sqlite import Database, SqliteLexicalIndex, SqliteRecordStore
from memory.backends.written import WrittenVectorIndex
from memory.config import ComponentConfig
from memory.lexical import LexicalWeights

__all__ = ["StorageConfig", "Stores", "open_stores"]


class StorageConfig(ComponentConfig):
    """Where memory lives: embedded by default; PostgreSQL and a Chroma server when given."""

    database_url: str | None = Field(default=None, description="PostgreSQL URL for records, "
                                     "words and threads (none: SQLite in the data dir)")
    pool_size: int = Field(default=32, ge=2, description="PostgreSQL connections per process")
    chroma_host: str | None = Field(default=None, description="Chroma server host (none: embedded)")
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    lexical: LexicalWeights = Field(default_factory=LexicalWeights)
    hot_users: int = Field(default=64, ge=1, description="users whose vectors are held in process "
                                                         "for exhaustive dense search (memory/hot.py)")
    hot_vectors: Literal["int8", "float32"] = Field(default="int8", description=(
        "how the in-process copies of turn vectors hold them: int8, a quarter of the memory "
        "(388 bytes a turn; a cosine moves by 3e-4 on average, 2e-3 at most), or float32 "
        "(exact)"))
    compact_on_forget: bool = Field(default=True, description="rebuild the SQLite files after "
                                                              "a forget, so no byte of the user "
                                                              "stays on disk (costs a VACUUM)")
    write_behind: bool = Field(default=True, description="write a turn's vectors on a writer "
                                                         "thread, behind the reply (reads wait "
                                                         "for them; memory/backends/behind.py)")
    max_pieces: int = Field(default=16, ge=0, le=64, description=(
        "vectors for the later parts of a long message, about 1,000 characters each, at most "
        "this many (0: a message is found by meaning through its first ~1,000 characters only; "
        "on LongMemEval's haystacks the pieces made bulk ingest 1.6x slower)"))
    repair_on_open: bool = Field(default=True, description="derive missing vectors from the "
                                                           "records and finish interrupted "
                                                           "consolidations when a data dir opens "
                                                           "(agent/repair.py)")


@dataclass
class Stores:
    """The three stores of one deployment. Each memory kind is built on these, never on a
    concrete backend."""

    records: RecordStore
    lexical: LexicalIndex
    vectors: VectorIndex
    lock: DataDirLock | None = field(default=None, repr=False)

    def drop_caches(self, scope) -> None:
        """Forget in-process copies of the scope's vectors the index keeps (if it keeps any)."""
        drop = getattr(self.vectors, "drop", None)
        if drop is not None:
            drop(scope)

    def stale_caches(self, scope, changes=None) -> None:
        """Another process wrote the scope (``changes``: which vector items, by collection;
        None: unknown): the index's copies of those catch up on next use."""
        stale = getattr(self.vectors, "stale", None)
        if stale is not None:
            stale(scope, changes)

    def written(self, scope):
        """The vector items this process wrote in the scope since the last call, by collection
        (None: the index does not keep count)."""
        take = getattr(self.vectors, "take_written", None)
        return take(scope) if take is not None else None

    def close(self) -> None:
        """Close every store, the others too when one fails (vectors still queued that cannot be
        written raise here: repair derives them from the records at the next open)."""
        try:
            self.vectors.close()
        finally:
            try:
                self.lexical.close()
                self.records.close()
            finally:
                if self.lock is not None:
                    self.lock.release()


def open_stores(data_dir: str | Path, config: StorageConfig | None = None) -> Stores:
    """Open (or create) the stores of ``data_dir`` with the backends ``config`` names."""
    config = config or StorageConfig()
    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = not (config.database_url and config.chroma_host)
    lock = DataDirLock(data_dir) if embedded else None  # embedded files: one process per dir
    opened: list = []
    try:
        vectors = (ChromaVectorIndex.server(config.chroma_host, config.chroma_port)
                   if config.chroma_host else ChromaVectorIndex.embedded(data_dir / "chroma"))
        opened.append(vectors)
        records, lexical = _records(data_dir, config)
    except BaseException:
        for store in opened:
            store.close()
        if lock is not None:
            lock.release()
        raise
    if config.write_behind:
        vectors = WriteBehindVectorIndex(vectors)
    vectors = CachedVectorIndex(vectors, max_users=config.hot_users)
    if not embedded:  # replicas: each says which items it wrote (memory/locks.py)
        vectors = WrittenVectorIndex(vectors)
    return Stores(records=records, lexical=lexical, lock=lock, vectors=vectors)


def _records(data_dir: Path, config: StorageConfig) -> tuple[RecordStore, LexicalIndex]:
    if config.database_url:
        from memory.backends.postgres import PgDatabase, PgLexicalIndex, PgRecordStore

        pg = PgDatabase(config.database_url, max_connections=config.pool_size)
        return PgRecordStore(pg), PgLexicalIndex(pg, config.lexical)
    db = Database(data_dir / "kindred.db")
    return SqliteRecordStore(db), SqliteLexicalIndex(db, config.lexical)
