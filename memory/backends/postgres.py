"""The server backend for records and words: PostgreSQL, shared by any number of replicas. All SQL
for PostgreSQL is here.

Why PostgreSQL: a team that runs several Kindred processes already trusts it; it gives each
replica transactions, and advisory locks that serialise one user's turns across processes.

Layout (schema version 1, in table ``kindred_meta``): ``kindred_records`` mirrors SQLite's
``records`` (plus ``pos``, the insertion order); words live in ``kindred_lex_docs`` (one row per
turn: its token count) and ``kindred_lex_terms`` (one row per stemmed term of a turn: its count in
the body and in the context field). BM25 is computed in SQL with the formula the SQLite backend
gets from FTS5 (``fts5_aux.c``: k1 = 1.2, b = 0.75, the field-weighted term frequency over the
row's total token count; Lucene's idf, :func:`memory.lexical.bm25_idf`), over the scope's rows
only, and the words are cut and stemmed as FTS5's ``porter unicode61 remove_diacritics 2``
tokenizer does (:func:`fts_tokens`): the two backends rank alike (tested on a LoCoMo conversation
and against the formula written out).
``kindred_scopes`` holds a version per scope, raised by every replica that held the scope's lock,
so a replica knows when its caches are stale, and which vector items the last holders wrote
(``changes``: the last :data:`KEPT_CHANGES` holds' lists, complete for the versions after
``since`` while ``tracked`` equals ``version``), so that it fetches just those: on two replicas
taking turns, listing a user's turns, events and traits on the Chroma server after every turn of
the other replica was most of the turn's Chroma traffic, and the turns' listing grew with the
user's history. The three columns are added to an older database in place (a writer that does
not keep them only makes readers catch up on everything). A database written by a newer Kindred
is refused with the command that upgrades.
"""

from __future__ import annotations

import json
import select
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
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
    ListScopes,
    ListTexts,
    PutRecords,
    RecordStore,
    ScopeHold,
    SearchTexts,
)
from memory.backends.rows import RECORD_COLUMNS, record_of, record_row, where_clause
from memory.errors import StoreError
from memory.lexical import LexicalWeights, query_terms
from memory.scope import Scope

__all__ = ["KEPT_CHANGES", "PG_SCHEMA_VERSION", "PgDatabase", "PgLexicalIndex", "PgRecordStore",
           "fts_tokens", "lend", "open_pool"]

#: seconds a pool keeps retrying a lost server before it gives up and starts afresh at the next
#: request: psycopg_pool's default (300 s, doubling delays) left one attempt 30 s+ after the
#: server was back, longer than a turn waits for a connection (CI: a turn timed out after it)
_RECONNECT_S = 6.0
#: seconds a request waits for a pooled connection before asking whether the server is there at
#: all: a busy pool is waited for (up to the pool's timeout), a server that is down fails the
#: request now (it waited the whole 30 s before)
_PROBE_AFTER_S = 3.0

PG_SCHEMA_VERSION = 1
_K1, _B = 1.2, 0.75  # FTS5's bm25() constants

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kindred_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kindred_records (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    conversation TEXT NOT NULL DEFAULT '', session TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL DEFAULT 0, ts DOUBLE PRECISION NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT '', tag TEXT NOT NULL DEFAULT '', value TEXT NOT NULL,
    pos BIGSERIAL, PRIMARY KEY (tenant, user_id, kind, id));
CREATE INDEX IF NOT EXISTS kindred_records_order ON kindred_records(tenant, user_id, kind, ts, seq);
CREATE INDEX IF NOT EXISTS kindred_records_session
    ON kindred_records(tenant, user_id, kind, session, seq);
CREATE INDEX IF NOT EXISTS kindred_records_tag ON kindred_records(tenant, user_id, kind, tag, status);
CREATE TABLE IF NOT EXISTS kindred_lex_docs (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, turn_id TEXT NOT NULL, len INTEGER NOT NULL,
    pos BIGSERIAL, PRIMARY KEY (tenant, user_id, turn_id));
CREATE TABLE IF NOT EXISTS kindred_lex_terms (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, term TEXT NOT NULL, turn_id TEXT NOT NULL,
    tf_body INTEGER NOT NULL, tf_context INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id, term, turn_id));
CREATE INDEX IF NOT EXISTS kindred_lex_terms_turn ON kindred_lex_terms(tenant, user_id, turn_id);
CREATE TABLE IF NOT EXISTS kindred_scopes (
    tenant TEXT NOT NULL, user_id TEXT NOT NULL, version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, user_id));
CREATE SEQUENCE IF NOT EXISTS kindred_scope_seq;
ALTER TABLE kindred_scopes ADD COLUMN IF NOT EXISTS changes JSONB NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE kindred_scopes ADD COLUMN IF NOT EXISTS since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kindred_scopes ADD COLUMN IF NOT EXISTS tracked BIGINT NOT NULL DEFAULT -1
"""
#: how many holds' lists of written vector items a scope's row keeps (a replica further behind
#: lists what it holds instead)
KEPT_CHANGES = 32
_COLUMNS = RECORD_COLUMNS
_RECORD_READS = (GetRecords, ListRecords, CountRecords, ListScopes)  # batches of these: no BEGIN
_LEXICAL_READS = (SearchTexts, ListTexts)
_UPSERT = (f"INSERT INTO kindred_records (tenant, user_id, {_COLUMNS}) "
           "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
           "ON CONFLICT (tenant, user_id, kind, id) DO UPDATE SET "
           "conversation=excluded.conversation, session=excluded.session, seq=excluded.seq, "
           "ts=excluded.ts, status=excluded.status, tag=excluded.tag, value=excluded.value")


def _psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:  # pragma: no cover - the extra is part of make install
        raise StoreError("The PostgreSQL backend needs psycopg: pip install 'kindred[postgres]' "
                         "(make install includes it).") from exc
    return psycopg, psycopg_pool


class PgDatabase:
    """A connection pool to one PostgreSQL database; a thread's transaction holds one connection,
    and nested transactions join it (as :class:`memory.backends.sqlite.Database` does)."""

    def __init__(self, url: str, *, max_connections: int = 16) -> None:
        psycopg, pool = _psycopg()
        self.url = url
        self.ready = False  # tables made and schema version checked (``_setup``)
        self._errors = (psycopg.Error, pool.PoolTimeout)
        self._local = threading.local()
        # a held scope lock keeps its connection for the whole turn: more turns at once than the
        # pool can lend would wait for connections and time out (measured: 50 concurrent users
        # on a pool of 32 failed 1 turn in 5), so they queue here, leaving a few for plain reads
        self.lock_slots = threading.BoundedSemaphore(max(1, max_connections - 4))
        try:
            self.pool = open_pool(url, max_size=max_connections, timeout=30,
                                  kwargs={"autocommit": True})
        except (psycopg.Error, pool.PoolTimeout) as exc:
            raise StoreError(f"Cannot reach the PostgreSQL database at {_safe(url)}: {exc}. "
                             "Check KINDRED_DATABASE_URL and that the server is running.") from exc

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StoreError(f"The PostgreSQL database {_safe(self.url)} failed while {what}: "
                             f"{exc}; check the server and its logs.") from exc

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One connection and one transaction for the block; nested blocks join the outer one.

        The transaction runs in psycopg's pipeline mode: its statements go out without waiting
        for each other's replies, and the client waits where it reads a result and once at the
        end. Why: a turn's writes (records, words, the scope's version) are a dozen statements,
        and each ``executemany`` outside a pipeline opened one of its own, two waits more; a
        replica's turn waited on the server 50 times, 18 of them for these. An error is still
        raised in the block or at its end, and the transaction is rolled back."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        held = getattr(self._local, "held", None)  # the connection holding a scope lock
        with self.guard("writing"), (nullcontext(held) if held is not None
                                     else lend(self.pool)) as conn:
            self._local.conn = conn
            try:
                with conn.pipeline(), conn.transaction():
                    yield conn
            finally:
                self._local.conn = None

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A connection for statements that only read: the thread's transaction or scope-lock
        connection if it has one, else one lent without BEGIN and COMMIT. Why: the connections
        are in autocommit, and psycopg's ``transaction()`` sends BEGIN and COMMIT as round trips
        of their own, so a one-statement read cost three (18% of a replica's turn was spent in
        them); under READ COMMITTED each statement sees its own snapshot inside a transaction
        too, so reads lose no consistency."""
        conn = getattr(self._local, "conn", None) or getattr(self._local, "held", None)
        if conn is not None:
            yield conn
            return
        with self.guard("reading"), lend(self.pool) as conn:
            yield conn

    def run_all(self, ops: Sequence[Any], run: Callable[[Any, Any], Any], *,
                read_only: bool = False) -> list[Any]:
        """Run ``ops`` in order, in one transaction unless they only read (:meth:`reading`)."""
        with (self.reading() if read_only else self.transaction()) as conn, conn.cursor() as cur:
            return [run(cur, op) for op in ops]

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection of its own, outside any transaction (advisory locks, VACUUM)."""
        with self.guard("locking"), lend(self.pool) as conn:
            yield conn

    @contextmanager
    def holding(self, conn: Any) -> Iterator[None]:
        """Let this thread's transactions run on ``conn`` (the one holding its scope lock), so a
        turn needs one connection, not two."""
        self._local.held = conn
        try:
            yield
        finally:
            self._local.held = None

    def close(self) -> None:
        self.pool.close()


def open_pool(url: str, *, max_size: int, timeout: float, kwargs: dict[str, Any]) -> Any:
    """A checked ``psycopg_pool.ConnectionPool``: it fails at once on a server it cannot reach (not
    after the pool's wait), tests a connection before lending it (a restarted server leaves dead
    ones: :func:`_alive`), and retries a lost server in short rounds (``_RECONNECT_S``), so a turn
    after the server is back gets a connection within seconds."""
    psycopg, pool = _psycopg()
    psycopg.connect(url, connect_timeout=10).close()
    opened = pool.ConnectionPool(url, min_size=1, max_size=max_size, kwargs=kwargs, open=True,
                                 timeout=timeout, reconnect_timeout=_RECONNECT_S,
                                 reconnect_failed=_no_op,
                                 check=_alive)
    opened.wait(timeout=timeout)
    return opened


@contextmanager
def lend(opened: Any) -> Iterator[Any]:
    """A connection from ``opened`` (an :func:`open_pool` pool), or the server's own refusal when
    none comes within ``_PROBE_AFTER_S`` and a direct connection fails too; a pool that is only
    busy is waited for up to its timeout."""
    psycopg, pool = _psycopg()
    try:
        conn = opened.getconn(timeout=_PROBE_AFTER_S)
    except pool.PoolTimeout:
        psycopg.connect(opened.conninfo, connect_timeout=int(_PROBE_AFTER_S)).close()
        conn = opened.getconn(timeout=max(opened.timeout - _PROBE_AFTER_S, 1.0))
    try:
        with conn:  # as ``ConnectionPool.connection``: ends the transaction, marks a broken one
            yield conn
    finally:
        opened.putconn(conn)


def _alive(conn: Any) -> None:
    """The pool's test of an idle connection before lending it: raises if the server has closed
    it. A server that ends a connection (a restart, ``pg_terminate_backend``) sends its last
    message and closes the socket, so the socket of a dead idle connection has something to read,
    and a live idle one has nothing (Kindred listens for no notifications): a zero-timeout poll
    tells them apart, as urllib3 and httpcore test a pooled HTTP connection. Why not
    ``ConnectionPool.check_connection``: its empty query is a round trip per loan, five a chat
    turn (a replica's turn waited on 32 statements, 5 of them these). A false alarm (a parameter
    the server reports unasked) costs one new connection, never a failed turn."""
    psycopg = _psycopg()[0]
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poll = select.poll()  # not select.select: it refuses descriptors past 1,023, which a busy
    poll.register(conn.fileno(), select.POLLIN)  # server with many files and sockets reaches
    if poll.poll(0):  # closed here, or the pool would take it back as sound and lend it again
        conn.close()
        raise psycopg.OperationalError("the server has closed this idle connection")


def _no_op(_pool: Any) -> None:
    """psycopg_pool's hook after a round of failed reconnects: the next request starts another
    (the failure itself reaches the caller as a StoreError)."""


def _safe(url: str) -> str:
    """The URL without its password (it appears in messages)."""
    if "@" in url and "://" in url:
        head, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{head}://{creds.split(':', 1)[0]}@{host}"
    return url


def _setup(db: PgDatabase) -> None:
    """Create the tables and check the schema version, once per database (the record store and
    the lexical index share one)."""
    if db.ready:
        return
    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(7243561)")  # replicas starting together
        for statement in (s.strip() for s in _SCHEMA.split(";") if s.strip()):
            conn.execute(statement)
        row = conn.execute("SELECT value FROM kindred_meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > PG_SCHEMA_VERSION:
            raise StoreError(
                f"The PostgreSQL database {_safe(db.url)} was written by a newer Kindred (schema "
                f"{version}; this one reads up to {PG_SCHEMA_VERSION}): upgrade with "
                "`pip install -U kindred` (or `make install` in a checkout) before opening it.")
        conn.execute("INSERT INTO kindred_meta VALUES ('schema_version', %s) ON CONFLICT (key) "
                     "DO UPDATE SET value = excluded.value", [str(PG_SCHEMA_VERSION)])
    db.ready = True


class PgRecordStore(RecordStore):
    """Records in ``kindred_records``."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        _setup(db)

    def transaction(self):
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()

    def purge(self, *, vacuum: bool = False) -> None:
        """PostgreSQL keeps deleted rows in its files until VACUUM reclaims them."""
        if vacuum:
            with self.db.connection() as conn:
                for table in ("kindred_records", "kindred_lex_docs", "kindred_lex_terms"):
                    conn.execute(f"VACUUM {table}")

    def batch(self, ops):
        return self.db.run_all(ops, self._run, read_only=all(isinstance(op, _RECORD_READS)
                                                             for op in ops))

    def _run(self, cur: Any, op: Any) -> Any:
        s = getattr(op, "scope", None)
        if isinstance(op, PutRecords):
            cur.executemany(_UPSERT, [record_row(s, r) for r in op.records])
            return None
        if isinstance(op, GetRecords):
            cur.execute(f"SELECT {_COLUMNS} FROM kindred_records WHERE tenant=%s AND user_id=%s "
                        "AND kind=%s AND id = ANY(%s)", [s.tenant, s.user, op.kind, list(op.ids)])
            found = [record_of(r) for r in cur.fetchall()]
            order = {rid: n for n, rid in enumerate(op.ids)}
            return sorted(found, key=lambda r: order[r.id])
        if isinstance(op, ListRecords):
            where, params = where_clause(s, op.kind, "%s", session=op.session, seq=op.seq,
                                         status=op.status, tag=op.tag,
                                         conversation=op.conversation)
            d = "DESC" if op.newest else "ASC"
            sql = (f"SELECT {_COLUMNS} FROM kindred_records WHERE {where} "
                   f"ORDER BY ts {d}, seq {d}, pos {d}")
            if op.limit is not None:
                sql += f" LIMIT {int(op.limit)}"
            cur.execute(sql, params)
            return [record_of(r) for r in cur.fetchall()]
        if isinstance(op, CountRecords):
            where, params = where_clause(s, op.kind, "%s", status=op.status, tag=op.tag)
            cur.execute(f"SELECT COUNT(*) FROM kindred_records WHERE {where}", params)
            return int(cur.fetchone()[0])
        if isinstance(op, DeleteRecords):
            sql, params = "DELETE FROM kindred_records WHERE tenant=%s AND user_id=%s", [s.tenant,
                                                                                         s.user]
            if op.kind is not None:
                sql, params = sql + " AND kind=%s", [*params, op.kind]
                if op.ids is not None:
                    sql, params = sql + " AND id = ANY(%s)", [*params, list(op.ids)]
            cur.execute(sql, params)
            if op.kind is None:
                cur.execute("DELETE FROM kindred_scopes WHERE tenant=%s AND user_id=%s",
                            [s.tenant, s.user])
            return None
        if isinstance(op, ListScopes):
            sql, params = "SELECT DISTINCT tenant, user_id FROM kindred_records", []
            if op.tenant is not None:
                sql, params = sql + " WHERE tenant=%s", [op.tenant]
            cur.execute(sql + " ORDER BY 1, 2", params)
            return [Scope(user=r[1], tenant=r[0]) for r in cur.fetchall()]
        raise StoreError(f"The record store cannot run {type(op).__name__}.")

    # -------------------------------------------------------------- replicas
    @contextmanager
    def scope_lock(self, scope: Scope) -> Iterator[ScopeHold]:
        """Hold the scope's advisory lock (one connection for the whole block), with the scope's
        version before it; on leaving, the version is set from one sequence shared by all scopes
        (so a value is never issued twice, even after a forget), and every other replica sees
        that the scope changed. A forgotten scope keeps no row: its id stays nowhere."""
        key = scope.key
        with self.db.lock_slots, self.db.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
            hold = self._hold(conn, scope.tenant, scope.user)
            try:
                with self.db.holding(conn):
                    yield hold
            finally:  # raised even after a failure: what was undone may have been seen
                hold.after = self._advance(conn, scope, hold)
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])

    @staticmethod
    def _advance(conn: Any, scope: Scope, hold: ScopeHold) -> int:
        """The scope's next version, with what this holder wrote added to ``changes`` (the last
        :data:`KEPT_CHANGES` kept). A holder that does not say (``wrote`` None) leaves
        ``tracked`` behind ``version``, so readers stop trusting ``changes``; the next holder
        that says starts them again from the version it found (``since``). The scope's lock is
        held: nothing else writes its row meanwhile."""
        params: dict[str, Any] = {"tenant": scope.tenant, "user": scope.user}
        n = int(conn.execute("SELECT nextval('kindred_scope_seq')").fetchone()[0])
        if hold.wrote is None:
            row = conn.execute("UPDATE kindred_scopes SET version = %(n)s WHERE tenant=%(tenant)s "
                               "AND user_id=%(user)s RETURNING version", {**params, "n": n}
                               ).fetchone()
        else:
            kept = list(hold.changes) if hold.changes is not None else []
            since = hold.since if hold.changes is not None else (hold.version or 0)
            if hold.wrote:
                kept.append((n, {name: None if ids is None else sorted(ids)
                                 for name, ids in hold.wrote.items()}))
            while len(kept) > KEPT_CHANGES:
                since = kept.pop(0)[0]
            row = conn.execute(
                "UPDATE kindred_scopes SET version = %(n)s, tracked = %(n)s, since = %(since)s, "
                "changes = %(changes)s::jsonb WHERE tenant=%(tenant)s AND user_id=%(user)s "
                "RETURNING version", {**params, "n": n, "since": since,
                                      "changes": json.dumps(kept)}).fetchone()
        if row is None:  # a new (or forgotten) scope: nothing before this version is vouched for
            row = conn.execute(
                "INSERT INTO kindred_scopes (tenant, user_id, version, since, tracked) "
                "SELECT %(tenant)s, %(user)s, %(n)s, %(n)s, %(tracked)s WHERE EXISTS (SELECT 1 "
                "FROM kindred_records WHERE tenant=%(tenant)s AND user_id=%(user)s) "
                "RETURNING version",
                {**params, "n": n, "tracked": -1 if hold.wrote is None else n}).fetchone()
        return int(row[0]) if row else 0

    def scope_version(self, scope: Scope) -> int:
        with self.db.connection() as conn:
            return self._hold(conn, scope.tenant, scope.user).version

    @staticmethod
    def _hold(conn: Any, tenant: str, user: str) -> ScopeHold:
        row = conn.execute("SELECT version, since, tracked, changes FROM kindred_scopes "
                           "WHERE tenant=%s AND user_id=%s", [tenant, user]).fetchone()
        if row is None:  # never written, or forgotten: no copy of it can be trusted
            return ScopeHold(0)
        version, since, tracked = int(row[0]), int(row[1]), int(row[2])
        changes = tuple((int(v), {name: None if ids is None else tuple(ids)
                                  for name, ids in written.items()}) for v, written in row[3])
        return ScopeHold(version, changes=changes if tracked == version else None, since=since)


# ----------------------------------------------------------------------------- words
def _stemmer():
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - the extra is part of make install
        raise StoreError("The PostgreSQL lexical index needs PyStemmer: pip install "
                         "'kindred[postgres]'.") from exc
    return Stemmer.Stemmer("porter")


_STEM = threading.local()


def fts_tokens(text: str) -> list[str]:
    """The words of ``text`` as FTS5's ``porter unicode61 remove_diacritics 2`` indexes them:
    diacritics removed, lower-cased, cut at anything that is not a letter or digit, each word
    reduced by Porter's stemmer."""
    stemmer = getattr(_STEM, "stemmer", None)
    if stemmer is None:
        stemmer = _STEM.stemmer = _stemmer()
    plain = "".join(c for c in unicodedata.normalize("NFKD", text)
                    if not unicodedata.combining(c)).lower()
    words, word = [], []
    for c in plain:
        if c.isalnum():
            word.append(c)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return stemmer.stemWords(words) if words else []


# The query terms' postings read once (document frequency by a window, not a second scan), each
# hit's document found by its key (the LATERAL ... LIMIT 1 cannot be flattened into a join), the
# scope's statistics computed once (MATERIALIZED). Why: the first form joined the postings to
# themselves and to the documents through CTEs; on tables filled before PostgreSQL had gathered
# statistics (a fresh database, every bulk ingest) the planner took each for one row and chose
# nested loops that compared every hit with every document: 2,000 turns of one user took
# 3.5-5 s a query (EXPLAIN: 4 million rows compared), and still 0.6 s after autovacuum's
# ANALYZE. Whatever the planner believes, this one is linear in the hits.
# ``q`` keeps a term's multiplicity (two words may stem alike), as FTS5 counts it.
_SEARCH = f"""
WITH q AS (SELECT term, count(*) AS m FROM unnest(%(terms)s::text[]) AS term GROUP BY term),
st AS MATERIALIZED (SELECT count(*)::float8 AS n, greatest(sum(len), 1)::float8 AS ntok
                    FROM kindred_lex_docs WHERE tenant=%(t)s AND user_id=%(u)s),
hits AS MATERIALIZED (
    SELECT term, turn_id, %(wb)s * tf_body + %(wc)s * tf_context AS f,
           count(*) OVER (PARTITION BY term) AS df
    FROM kindred_lex_terms WHERE tenant=%(t)s AND user_id=%(u)s AND term = ANY(%(terms)s))
SELECT hits.turn_id,
       sum(q.m * ln(1.0 + (st.n - hits.df + 0.5) / (hits.df + 0.5))
           * (hits.f * {_K1 + 1.0}) / (hits.f + {_K1} * (1 - {_B} + {_B} * d.len / (st.ntok / st.n)))
       ) AS s
FROM hits JOIN q ON q.term = hits.term CROSS JOIN st
CROSS JOIN LATERAL (SELECT len, pos FROM kindred_lex_docs WHERE tenant=%(t)s AND user_id=%(u)s
                    AND turn_id = hits.turn_id LIMIT 1) d
GROUP BY hits.turn_id, d.pos
ORDER BY s DESC, d.pos ASC LIMIT %(k)s
"""


class PgLexicalIndex(LexicalIndex):
    """BM25 over a scope's turns, in the same database (and transactions) as the records."""

    def __init__(self, db: PgDatabase, weights: LexicalWeights | None = None) -> None:
        self.db = db
        self.weights = weights or LexicalWeights()
        _setup(db)

    def transaction(self):
        return self.db.transaction()

    def batch(self, ops):
        return self.db.run_all(ops, self._run, read_only=all(isinstance(op, _LEXICAL_READS)
                                                             for op in ops))

    def _run(self, cur: Any, op: Any) -> Any:
        t, u = op.scope.tenant, op.scope.user
        if isinstance(op, IndexTexts):
            if not op.rows:
                return None
            ids = [r[0] for r in op.rows]
            self._delete(cur, t, u, ids)
            docs, terms = [], []
            for turn_id, body, context in op.rows:
                b, c = fts_tokens(body), fts_tokens(context)
                docs.append((t, u, turn_id, len(b) + len(c)))
                fb, fc = Counter(b), Counter(c)
                terms += [(t, u, term, turn_id, fb[term], fc[term]) for term in fb.keys() | fc]
            cur.executemany("INSERT INTO kindred_lex_docs (tenant, user_id, turn_id, len) "
                            "VALUES (%s,%s,%s,%s)", docs)
            cur.executemany("INSERT INTO kindred_lex_terms VALUES (%s,%s,%s,%s,%s,%s)", terms)
            return None
        if isinstance(op, SearchTexts):
            terms = [tok for term in query_terms(op.text) for tok in fts_tokens(term)[:1]]
            if not terms or op.k <= 0:
                return []
            cur.execute(_SEARCH, {"terms": terms, "t": t, "u": u, "k": op.k,
                                  "wb": self.weights.body, "wc": self.weights.context})
            return [LexicalHit(r[0], float(r[1])) for r in cur.fetchall()]
        if isinstance(op, DeleteTexts):
            if op.ids is None:
                cur.execute("DELETE FROM kindred_lex_terms WHERE tenant=%s AND user_id=%s", [t, u])
                cur.execute("DELETE FROM kindred_lex_docs WHERE tenant=%s AND user_id=%s", [t, u])
            else:
                self._delete(cur, t, u, list(op.ids))
            return None
        if isinstance(op, ListTexts):
            cur.execute("SELECT turn_id FROM kindred_lex_docs WHERE tenant=%s AND user_id=%s "
                        "ORDER BY pos", [t, u])
            return [r[0] for r in cur.fetchall()]
        raise StoreError(f"The lexical index cannot run {type(op).__name__}.")

    @staticmethod
    def _delete(cur: Any, t: str, u: str, ids: list[str]) -> None:
        cur.execute("DELETE FROM kindred_lex_terms WHERE tenant=%s AND user_id=%s "
                    "AND turn_id = ANY(%s)", [t, u, ids])
        cur.execute("DELETE FROM kindred_lex_docs WHERE tenant=%s AND user_id=%s "
                    "AND turn_id = ANY(%s)", [t, u, ids])
