"""The durable record store: one SQLite file for records with counters and history.

Why SQLite and not JSON files: records (turns, events, traits, feedback hits) are updated in place
and must survive a crash half-way through a write; SQLite gives transactions for free. Each store
module declares its own tables with :meth:`Database.ensure_schema`; every row carries ``user_id`` so
``forget`` can reach it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memory.errors import StoreError

__all__ = ["Database"]


class Database:
    """A thread-safe SQLite connection with a write lock and WAL journaling."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                         isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the record store at {self.path}: {exc}. "
                             "Check that the data directory is writable.") from exc
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements atomically: all of them land or none does."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def ensure_schema(self, ddl: str) -> None:
        """Create tables and indexes if they do not exist (idempotent DDL only)."""
        with self._lock:
            self._conn.executescript(ddl)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock:
            self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
