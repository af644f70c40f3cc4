"""Where conversation threads live: LangGraph's checkpointer, in SQLite or PostgreSQL.

Why a small class around the checkpointer: besides LangGraph's own ``delete_thread``, ``forget``
must make a deleted thread unrecoverable from the files (SQLite keeps old frames in its
write-ahead log and divider keys in index pages until a rebuild; PostgreSQL keeps dead rows until
VACUUM), and the service must close what it opened. The backend follows the record store's:
``storage.database_url`` set → ``langgraph-checkpoint-postgres`` in the same database, shared by
every replica; otherwise ``threads.db`` in the data dir.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.errors import StoreError
from graphs import CHECKPOINT_TYPES
from memory.backends import StorageConfig

__all__ = ["ThreadStore", "open_threads"]


class ThreadStore:
    """A checkpointer (``saver``) and what forgetting a thread needs beyond it."""

    def __init__(self, saver: Any, *, conn: sqlite3.Connection | None = None,
                 pool: Any = None) -> None:
        self.saver = saver
        self._conn, self._pool = conn, pool

    def delete(self, thread_ids: list[str]) -> None:
        for thread_id in thread_ids:
            self.saver.delete_thread(thread_id)

    def compact(self, *, vacuum: bool) -> None:
        """Make deleted threads unrecoverable from the files (``forget`` calls it)."""
        if self._conn is not None:
            with self.saver.lock:
                if vacuum:
                    self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif vacuum and self._pool is not None:
            with self._pool.connection() as conn:
                for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
                    conn.execute(f"VACUUM {table}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._pool is not None:
            self._pool.close()


def _serde() -> JsonPlusSerializer:
    return JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)


def open_threads(data_dir: Path, storage: StorageConfig) -> ThreadStore:
    """The thread store for these storage settings."""
    if storage.database_url:
        return _postgres(storage)
    conn = sqlite3.connect(str(data_dir / "threads.db"), check_same_thread=False)
    conn.execute("PRAGMA secure_delete=ON")  # a forgotten thread is overwritten
    # as kindred.db: a commit in WAL mode survives a killed process without an fsync (SQLite's
    # default FULL synced every checkpoint write, several per turn: a quarter of a turn's CPU
    # samples were in the checkpointer's commits); only a power cut may lose the last ones
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return ThreadStore(SqliteSaver(conn, serde=_serde()), conn=conn)


def _guarded_saver(pool: Any) -> Any:
    """LangGraph's PostgresSaver whose failures leave as one :class:`StoreError` (a database
    that went away mid-run is a message, not a psycopg traceback)."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg_pool import PoolTimeout

    def guarded(name: str):
        method = getattr(PostgresSaver, name)

        def call(self, *args, **kwargs):
            try:
                result = method(self, *args, **kwargs)
                return list(result) if name == "list" else result
            except (psycopg.Error, PoolTimeout) as exc:
                raise StoreError(f"The conversation threads in PostgreSQL failed ({exc}); check "
                                 "the database server (KINDRED_DATABASE_URL).") from exc
        return call

    saver_type = type("GuardedPostgresSaver", (PostgresSaver,), {
        name: guarded(name) for name in ("get_tuple", "list", "put", "put_writes",
                                         "delete_thread")})
    return saver_type(pool, serde=_serde())


_MIGRATIONS_LOCK = 7243562


def _wait_for_lock(conn: Any, key: int) -> None:
    """Take a session advisory lock, asking again every 50 ms rather than waiting inside one
    statement. Why: LangGraph's migrations build indexes CONCURRENTLY, which waits for every open
    transaction of the database, and a statement blocked in ``pg_advisory_lock`` is one; the
    replica holding the lock would wait for the replica waiting for it, both for good (two of
    three starts of two replicas at once on a fresh database hung)."""
    while not conn.execute("SELECT pg_try_advisory_lock(%s) AS got", [key]).fetchone()["got"]:
        time.sleep(0.05)


def _postgres(storage: StorageConfig) -> ThreadStore:
    import psycopg
    from psycopg.rows import dict_row
    from psycopg_pool import PoolTimeout

    from memory.backends.postgres import open_pool

    url = storage.database_url
    try:
        pool = open_pool(url, max_size=storage.pool_size, timeout=15,
                         kwargs={"autocommit": True, "prepare_threshold": 0,
                                 "row_factory": dict_row})
        saver = _guarded_saver(pool)
        with pool.connection() as conn:  # replicas starting together run the migrations once
            _wait_for_lock(conn, _MIGRATIONS_LOCK)
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATIONS_LOCK])
    except (psycopg.Error, PoolTimeout) as exc:
        raise StoreError(f"Cannot open the conversation threads in PostgreSQL: {exc}. Check "
                         "KINDRED_DATABASE_URL and that the server is running.") from exc
    return ThreadStore(saver, pool=pool)
