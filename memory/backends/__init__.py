"""Storage backends behind the three interfaces of :mod:`memory.backends.base`.

``open_stores`` picks the implementations from :class:`StorageConfig`: records and words in SQLite
(``kindred.db`` in the data dir), vectors in embedded Chroma (``chroma/`` in the data dir) or a
Chroma server. A new backend implements ``batch`` of one interface and is added here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from memory.backends.base import LexicalIndex, RecordStore, VectorIndex
from memory.backends.chroma import ChromaVectorIndex
from memory.backends.lock import DataDirLock
from memory.backends.sqlite import Database, SqliteLexicalIndex, SqliteRecordStore
from memory.config import ComponentConfig
from memory.lexical import LexicalWeights

__all__ = ["StorageConfig", "Stores", "open_stores"]


class StorageConfig(ComponentConfig):
    """Where memory lives: embedded by default, a Chroma server when a host is given."""

    chroma_host: str | None = Field(default=None, description="Chroma server host (none: embedded)")
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    lexical: LexicalWeights = Field(default_factory=LexicalWeights)
    hot_users: int = Field(default=64, ge=1, description="users whose vectors are held in process "
                                                         "for exact dense search (memory/hot.py)")
    compact_on_forget: bool = Field(default=True, description="rebuild the SQLite files after "
                                                              "a forget, so no byte of the user "
                                                              "stays on disk (costs a VACUUM)")
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

    def close(self) -> None:
        self.vectors.close()
        self.lexical.close()
        self.records.close()
        if self.lock is not None:
            self.lock.release()


def open_stores(data_dir: str | Path, config: StorageConfig | None = None) -> Stores:
    """Open (or create) the stores of ``data_dir`` with the backends ``config`` names."""
    config = config or StorageConfig()
    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(data_dir)  # records are embedded SQLite: one process per data dir
    try:
        vectors = (ChromaVectorIndex.server(config.chroma_host, config.chroma_port)
                   if config.chroma_host else ChromaVectorIndex.embedded(data_dir / "chroma"))
        db = Database(data_dir / "kindred.db")
    except BaseException:
        lock.release()
        raise
    return Stores(records=SqliteRecordStore(db), lexical=SqliteLexicalIndex(db, config.lexical),
                  vectors=vectors, lock=lock)
