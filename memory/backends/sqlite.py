"""The embedded backend for records and words: one SQLite file (``kindred.db``), all SQL here.

Why SQLite: records are updated in place (counters, history) and must survive a crash half-way
through a write; SQLite gives transactions for free, and FTS5 indexes words incrementally and
durably in the same file, so a turn's row and its words commit in one transaction.

Layout (schema version 2): one ``records`` table for every memory kind, keyed by
``(tenant, user_id, kind, id)`` with the columns records are found by; one FTS5 table per scope
(``turn_text_<hash>``): one shared table filtered by user would return only that user's rows, but
BM25's statistics (how many rows hold a word, the average row length) would come from everyone's
turns, so one user's memories would shift another user's scores. Data dirs of schema 1 (a table per
kind, one shared FTS5 table) are moved into this layout when first opened, in one transaction.
A data dir written by a newer Kindred is refused with the command that upgrades.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memory.backends.base import (
    CountRecords,
    DeleteRecords,
    DeleteTexts,
    GetRecords,
    IndexTexts,
    LexicalHit,
    LexicalIndex,
    ListRecords,
    ListTexts,
    ListScopes,
    PutRecords,
    Record,
    RecordStore,
    SearchTexts,
    iter_chunks,
)
from memory.backends.rows import RECORD_COLUMNS, record_of, record_row, where_clause
from memory.errors import StoreError
from memory.lexical import LexicalWeights, bm25_idf, query_terms
from memory.scope import DEFAULT_TENANT, Scope

__all__ = ["SCHEMA_VERSION", "Database", "SqliteLexicalIndex", "SqliteRecordStore"]

SCHEMA_VERSION = 2
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


class Database:
    """One SQLite connection shared by threads: a lock, WAL journaling, nested transactions."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                         isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the record store at {self.path}: {exc}. "
                             "Check that the data directory exists and is writable.") from exc
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA secure_delete=ON")  # forgotten text is overwritten on disk

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside land together or not at all; nested blocks join the outer one."""
        with self._lock, self.guard("writing"):
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """SQLite's errors as :class:`StoreError`, with what Kindred was doing and what to do."""
        try:
            yield
        except sqlite3.Error as exc:
            hint = ("another process is holding the data directory: stop it, or use the server "
                    "backends for several processes" if "locked" in str(exc) else
                    "check the disk (space, permissions) and the data directory")
            raise StoreError(f"The record store {self.path} failed while {what}: {exc}; "
                             f"{hint}.") from exc

    def run_all(self, ops: Sequence[Any], run: Callable[[sqlite3.Connection, Any], Any]
                ) -> list[Any]:
        """``run(conn, op)`` for each operation, in one transaction: a backend's ``batch``."""
        with self.transaction() as conn:
            return [run(conn, op) for op in ops]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock, self.guard("writing"):
            self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self.guard("reading"):
            return list(self._conn.execute(sql, params))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def checkpoint(self, *, vacuum: bool = False) -> None:
        """Copy the write-ahead log into the database file and truncate it to nothing; with
        ``vacuum``, rebuild the file first: secure_delete zeroes deleted rows, but the divider
        keys of index pages (a user id, a turn id) stay in interior pages until a rebuild."""
        with self._lock, self.guard("compacting its file"):
            if vacuum:
                self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    conversation TEXT NOT NULL DEFAULT '',
    session TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL DEFAULT 0,
    ts REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL DEFAULT '',
    value TEXT NOT NULL,
    PRIMARY KEY (tenant, user_id, kind, id)
);
CREATE INDEX IF NOT EXISTS records_order ON records(tenant, user_id, kind, ts, seq);
CREATE INDEX IF NOT EXISTS records_session ON records(tenant, user_id, kind, session, seq);
CREATE INDEX IF NOT EXISTS records_tag ON records(tenant, user_id, kind, tag, status);
"""
_COLUMNS = RECORD_COLUMNS
_UPSERT = (f"INSERT INTO records (tenant, user_id, {_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
           "ON CONFLICT (tenant, user_id, kind, id) DO UPDATE SET conversation=excluded.conversation, "
           "session=excluded.session, seq=excluded.seq, ts=excluded.ts, status=excluded.status, "
           "tag=excluded.tag, value=excluded.value")


class SqliteRecordStore(RecordStore):
    """Records in the ``records`` table of a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The record store {db.path} was written by a newer Kindred (schema {version}; "
                    f"this one reads up to {SCHEMA_VERSION}): upgrade with `pip install -U kindred`"
                    " (or `make install` in a checkout) before opening it.")
            for statement in _statements():  # not executescript: it would commit half-way
                conn.execute(statement)
            if version < SCHEMA_VERSION:
                _migrate_v1(conn)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def transaction(self):
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()

    def purge(self, *, vacuum: bool = False) -> None:
        self.db.checkpoint(vacuum=vacuum)

    def batch(self, ops):
        return self.db.run_all(ops, self._run)

    def _run(self, conn: sqlite3.Connection, op) -> Any:
        if isinstance(op, PutRecords):
            conn.executemany(_UPSERT, [record_row(op.scope, r) for r in op.records])
            return None
        if isinstance(op, GetRecords):
            found: list[Record] = []
            for chunk in iter_chunks(op.ids, _CHUNK):
                marks = ",".join("?" * len(chunk))
                found += [record_of(r) for r in conn.execute(
                    f"SELECT {_COLUMNS} FROM records WHERE tenant=? AND user_id=? AND kind=? "
                    f"AND id IN ({marks})", [op.scope.tenant, op.scope.user, op.kind, *chunk])]
            order = {rid: n for n, rid in enumerate(op.ids)}
            return sorted(found, key=lambda r: order[r.id])
        if isinstance(op, ListRecords):
            where, params = where_clause(op.scope, op.kind, "?", session=op.session,
                                         seq=op.seq, status=op.status, tag=op.tag,
                                         conversation=op.conversation)
            direction = "DESC" if op.newest else "ASC"
            sql = (f"SELECT {_COLUMNS} FROM records WHERE {where} "
                   f"ORDER BY ts {direction}, seq {direction}, rowid {direction}")
            if op.limit is not None:
                sql += f" LIMIT {int(op.limit)}"
            return [record_of(r) for r in conn.execute(sql, params)]
        if isinstance(op, CountRecords):
            where, params = where_clause(op.scope, op.kind, "?", status=op.status, tag=op.tag)
            return int(conn.execute(f"SELECT COUNT(*) FROM records WHERE {where}",
                                    params).fetchone()[0])
        if isinstance(op, DeleteRecords):
            base = [op.scope.tenant, op.scope.user]
            if op.kind is None:
                conn.execute("DELETE FROM records WHERE tenant=? AND user_id=?", base)
            elif op.ids is None:
                conn.execute("DELETE FROM records WHERE tenant=? AND user_id=? AND kind=?",
                             [*base, op.kind])
            else:
                for chunk in iter_chunks(op.ids, _CHUNK):
                    conn.execute(f"DELETE FROM records WHERE tenant=? AND user_id=? AND kind=? "
                                 f"AND id IN ({','.join('?' * len(chunk))})",
                                 [*base, op.kind, *chunk])
            return None
        if isinstance(op, ListScopes):
            sql, params = "SELECT DISTINCT tenant, user_id FROM records", []
            if op.tenant is not None:
                sql, params = sql + " WHERE tenant=?", [op.tenant]
            return [Scope(user=r[1], tenant=r[0]) for r in conn.execute(sql + " ORDER BY 1, 2",
                                                                         params)]
        raise StoreError(f"The record store cannot run {type(op).__name__}.")


def _statements() -> list[str]:
    return [s.strip() for s in _SCHEMA.split(";") if s.strip()]


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _migrate_v1(conn: sqlite3.Connection) -> None:
    """Move schema 1's per-kind tables (turns, events, traits, feedback) into ``records``."""
    tables = _tables(conn)
    moved: list[tuple] = []
    if "turns" in tables:
        for r in conn.execute("SELECT * FROM turns ORDER BY rowid"):
            value = {"role": r["role"], "speaker": r["speaker"], "text": r["text"],
                     "topics": json.loads(r["topics"])}
            moved.append(_legacy(r["user_id"], Record("turn", r["id"], value, ts=r["ts"],
                                                      session=r["session_id"], seq=r["idx"])))
    if "events" in tables:
        for r in conn.execute("SELECT * FROM events ORDER BY rowid"):
            value = {"summary": r["summary"], "topics": json.loads(r["topics"]),
                     "turn_ids": json.loads(r["turn_ids"])}
            moved.append(_legacy(r["user_id"], Record("event", r["id"], value, ts=r["ts"],
                                                      session=r["session_id"])))
    if "traits" in tables:
        for r in conn.execute("SELECT * FROM traits ORDER BY rowid"):
            value = {k: r[k] for k in ("text", "subject", "first_seen", "last_seen", "count",
                                       "tier", "last_session", "valid_to", "superseded_by")}
            value["source_turn_ids"] = json.loads(r["source_turn_ids"])
            moved.append(_legacy(r["user_id"], Record("trait", r["id"], value, ts=r["first_seen"],
                                                      status=r["status"], tag=r["owner"])))
    if "feedback" in tables:
        for r in conn.execute("SELECT * FROM feedback ORDER BY rowid"):
            value = {"request": r["request"], "understanding": r["understanding"],
                     "feedback": r["feedback"], "hits": r["hits"], "turn_id": ""}
            moved.append(_legacy(r["user_id"], Record("feedback", r["id"], value, ts=r["ts"],
                                                      tag=r["request_key"])))
    conn.executemany(_UPSERT, moved)
    for table in ("turns", "events", "traits", "feedback"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _legacy(user_id: str, record: Record) -> tuple:
    return record_row(Scope(user=user_id, tenant=DEFAULT_TENANT), record)


# ----------------------------------------------------------------------------- words
_FTS = """CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(
    turn_id UNINDEXED, body, context, tokenize = 'porter unicode61 remove_diacritics 2')"""
_LEGACY_FTS = "turn_text"  # schema 1's shared table (a ukey column per row)


def _fts5_idf(rows: int, hits: int) -> float:
    """The idf FTS5's bm25() uses (``fts5_aux.c``): zero or less floored at 1e-6."""
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0.0 else 1e-6


def _ukey(scope: Scope) -> str:
    return "u" + hashlib.sha1(scope.key.encode("utf-8")).hexdigest()[:20]


def _fts_table(key: str) -> str:
    return f"turn_text_{key}"  # the key is "u" + hex digits: a safe SQL identifier


class SqliteLexicalIndex(LexicalIndex):
    """BM25 in FTS5, one table per scope, in the same file (and transactions) as the records."""

    def __init__(self, db: Database, weights: LexicalWeights | None = None) -> None:
        self.db = db
        self.weights = weights or LexicalWeights()
        self._migrate_shared_table()

    def transaction(self):
        return self.db.transaction()

    @staticmethod
    def _exists(conn: sqlite3.Connection, table: str) -> bool:
        """Asked every time (microseconds): another process, or a rolled-back transaction, may
        have made or unmade the table since."""
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                            [table]).fetchone() is not None

    def _search(self, conn: sqlite3.Connection, table: str, terms: list[str], k: int) -> list[LexicalHit]:
        """BM25 with Lucene's idf (:func:`memory.lexical.bm25_idf`) from FTS5's own: FTS5 sums
        one idf × term-frequency part per phrase of the query, so each word is asked for alone
        (its hits are all the rows that hold it: n) and its part rescaled by the ratio of the two
        idfs; FTS5's idf floor (1e-6) still leaves the part's digits. Every match is scored
        either way (an ``ORDER BY bm25() LIMIT`` query scores them all too); the turn ids are
        read for the best ``k`` alone (reading them for every hit was a third of the time), and
        the row count from the ``docsize`` shadow table (one row per row of the index: counting
        the index itself reads every row's text)."""
        rows = conn.execute(f"SELECT count(*) FROM {table}_docsize").fetchone()[0]
        w = (self.weights.body, self.weights.context)
        scores: dict[int, float] = {}
        for term in terms:
            hits = conn.execute(f"SELECT rowid, -bm25({table}, 0.0, ?, ?) FROM {table} "
                                f"WHERE {table} MATCH ?", [*w, f'"{term}"']).fetchall()
            if hits:
                scale = bm25_idf(rows, len(hits)) / _fts5_idf(rows, len(hits))
                for rowid, part in hits:
                    scores[rowid] = scores.get(rowid, 0.0) + part * scale
        best = heapq.nsmallest(k, scores, key=lambda r: (-scores[r], r))
        ids: dict[int, str] = {}
        for chunk in iter_chunks(best, _CHUNK):
            ids.update(conn.execute(f"SELECT rowid, turn_id FROM {table} WHERE rowid IN "
                                    f"({','.join('?' * len(chunk))})", chunk).fetchall())
        return [LexicalHit(ids[r], scores[r]) for r in best]

    def _migrate_shared_table(self) -> None:
        with self.db.transaction() as conn:
            if _LEGACY_FTS not in _tables(conn):
                return
            for (key,) in list(conn.execute(f"SELECT DISTINCT ukey FROM {_LEGACY_FTS}")):
                table = _fts_table(key)
                conn.execute(_FTS.format(table=table))
                conn.execute(f"INSERT INTO {table}(turn_id, body, context) SELECT turn_id, body, "
                             f"context FROM {_LEGACY_FTS} WHERE ukey=?", [key])
            conn.execute(f"DROP TABLE {_LEGACY_FTS}")

    def batch(self, ops):
        return self.db.run_all(ops, self._run)

    def _run(self, conn: sqlite3.Connection, op) -> Any:
        table = _fts_table(_ukey(op.scope))
        if isinstance(op, IndexTexts):
            if not op.rows:
                return None
            conn.execute(_FTS.format(table=table))  # IF NOT EXISTS
            conn.executemany(f"DELETE FROM {table} WHERE turn_id=?", [(r[0],) for r in op.rows])
            conn.executemany(f"INSERT INTO {table}(turn_id, body, context) VALUES (?,?,?)",
                             list(op.rows))
            return None
        if isinstance(op, SearchTexts):
            terms = query_terms(op.text)
            if not terms or op.k <= 0 or not self._exists(conn, table):
                return []
            return self._search(conn, table, terms, op.k)
        if isinstance(op, DeleteTexts):
            if op.ids is None:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            elif self._exists(conn, table):
                conn.executemany(f"DELETE FROM {table} WHERE turn_id=?", [(i,) for i in op.ids])
            return None
        if isinstance(op, ListTexts):
            if not self._exists(conn, table):
                return []
            return [r["turn_id"] for r in conn.execute(f"SELECT turn_id FROM {table}")]
        raise StoreError(f"The lexical index cannot run {type(op).__name__}.")
