"""Choosing backends: settings, schema versions, failures, and a user moved between backends.

The conformance suite (the ``stores``/``hub`` fixtures and the modules in
``conftest.CONFORMANCE_MODULES``) runs the memory tests on every pair; this module covers what is
about one backend choice itself."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from fakes import RecordingChatModel

from agent import Kindred, StoreError
from agent.settings import Settings
from agent.threads import open_threads
from conftest import T0
from memory.backends import StorageConfig
from memory.backends.postgres import PG_SCHEMA_VERSION


def test_the_short_names_choose_the_server_backends(monkeypatch):
    monkeypatch.setenv("KINDRED_DATABASE_URL", "postgresql://kindred@db.internal/kindred")
    monkeypatch.setenv("KINDRED_CHROMA_HOST", "chroma.internal")
    monkeypatch.setenv("KINDRED_CHROMA_PORT", "8123")
    s = Settings()
    assert s.storage.database_url == "postgresql://kindred@db.internal/kindred"
    assert (s.storage.chroma_host, s.storage.chroma_port) == ("chroma.internal", 8123)


def test_an_unreachable_database_is_one_store_error_without_the_password(tmp_path, embedder):
    url = "postgresql://kindred:s3cret-pw@127.0.0.1:9/kindred?connect_timeout=1"
    with pytest.raises(StoreError, match="KINDRED_DATABASE_URL") as caught:
        Kindred(data_dir=tmp_path, chat_model="fake", embedder=embedder,
                storage={"database_url": url})
    assert "s3cret-pw" not in str(caught.value)
    again = Kindred(data_dir=tmp_path, chat_model="fake", embedder=embedder)  # no lock left
    again.close()


def test_a_database_of_a_newer_kindred_is_refused_with_the_upgrade_command(tmp_path, embedder,
                                                                          database_url):
    Kindred(data_dir=tmp_path, chat_model="fake", embedder=embedder,
            storage={"database_url": database_url}).close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE kindred_meta SET value=%s WHERE key='schema_version'",
                     [str(PG_SCHEMA_VERSION + 1)])
    with pytest.raises(StoreError, match="pip install -U kindred"):
        Kindred(data_dir=tmp_path, chat_model="fake", embedder=embedder,
                storage={"database_url": database_url})


def test_a_user_moved_from_sqlite_to_postgres_and_a_chroma_server_ranks_the_same(
        tmp_path, embedder, database_url, chroma_server):
    from memory.backends.chroma import ChromaVectorIndex

    host, port = chroma_server
    ChromaVectorIndex.server(host, port).reset()
    options = dict(chat_model=RecordingChatModel(replies=["Noted."]), embedder=embedder,
                   personas={"extractor": "rules"})
    with Kindred(data_dir=tmp_path / "embedded", **options) as old:
        old.chat("ada", "My cat is called Pixel.", at=T0)
        old.chat("ada", "I work as a nurse in Lisbon.", at=T0 + 10)
        old.feedback("ada", "Keep it shorter, please.", at=T0 + 20)
        old.end_session("ada", at=T0 + 30)
        old.create_conversation("ada", "Work", conversation_id="work", at=T0 + 40)
        old.chat("ada", "My shift starts at seven.", at=T0 + 50, conversation="work")
        doc = old.export_user("ada")
        before = {q: [(m.id, m.scores["total"]) for m in old.recall(
            "ada", q, at=T0 + 60, min_score=None).turns]
            for q in ("my cat", "where do I work", "shift", "nurse in Lisbon")}
        persona = [t.text for t in old.persona("ada")]
    with Kindred(data_dir=tmp_path / "servers", storage={
            "database_url": database_url, "chroma_host": host, "chroma_port": port},
            **options) as new:
        assert new.import_user("ada", doc.model_dump(mode="json", by_alias=True)) == len(
            doc.records)
        for query, ranked in before.items():
            after = [(m.id, m.scores["total"]) for m in new.recall(
                "ada", query, at=T0 + 60, min_score=None).turns]
            assert [i for i, _ in after] == [i for i, _ in ranked], query
            assert [s for _, s in after] == pytest.approx([s for _, s in ranked], abs=2e-3)
        assert [t.text for t in new.persona("ada")] == persona
        reply = new.chat("ada", "When does my shift start?", at=T0 + 70, conversation="work")
        assert reply.session_id == "work:s0001"


def test_a_database_that_goes_away_is_one_store_error_and_not_ready(tmp_path, embedder):
    """The server stops mid-run: a turn fails with one StoreError naming the setting, the service's
    readiness says which store; nothing half-stored is left when it comes back (a new server here,
    so only the message and the readiness are checked)."""
    import servers

    with servers.postgres_server() as url:
        bot = Kindred(data_dir=tmp_path, chat_model="fake", embedder=embedder,
                      storage={"database_url": url})
        bot.chat("ann", "I play the cello.", at=T0)
        assert bot.readiness() == []
        admin = url.replace("/kindred", "/postgres")
        with psycopg.connect(admin, autocommit=True) as conn:  # every connection of the pools ends
            conn.execute("ALTER DATABASE kindred ALLOW_CONNECTIONS false")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                         "datname = 'kindred'")
            # pg_terminate_backend only signals: wait until the backends have ended (and told
            # their clients), as a stopped server's would have, before the next turn
            deadline = time.monotonic() + 30
            while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'kindred'"
                               ).fetchone()[0] and time.monotonic() < deadline:
                time.sleep(0.05)
        # the server's own refusal, not a pool's wait for a connection that cannot come
        with pytest.raises(StoreError, match="PostgreSQL.*not currently accepting connections"):
            bot.chat("ann", "And the piano.", at=T0 + 60)
        problems = bot.readiness()
        assert problems and problems[0].startswith("stores:")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("ALTER DATABASE kindred ALLOW_CONNECTIONS true")
        assert bot.readiness() == []
        assert [t.text for t in bot.persona("ann")] == ["I play the cello."]
        assert bot.chat("ann", "And the piano.", at=T0 + 120).text
        bot.close()


def test_a_pooled_connection_is_checked_without_a_round_trip(database_url, tmp_path):
    """Before lending a connection the pool tests it (a restarted server leaves dead ones) by
    polling its socket, not by a statement: a live idle connection passes with nothing sent to
    the server (libpq's protocol trace stays empty), one the server ended is refused and closed,
    so the pool replaces it."""

    from memory.backends.postgres import _alive, open_pool

    pool = open_pool(database_url, max_size=2, timeout=10, kwargs={})
    conn = pool.getconn()
    try:
        trace = tmp_path / "libpq.trace"
        with trace.open("w") as out:
            conn.pgconn.trace(out.fileno())
            for _ in range(3):
                _alive(conn)
            conn.pgconn.untrace()
        assert trace.read_text() == ""
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
        deadline = time.monotonic() + 10
        while True:
            try:
                _alive(conn)
            except psycopg.OperationalError:
                break
            assert time.monotonic() < deadline, "an ended connection passed the check"
            time.sleep(0.05)
        assert conn.closed
    finally:
        pool.putconn(conn)
    with pool.connection() as again:  # the pool made a new one
        assert again.execute("SELECT 1").fetchone() == (1,)
    pool.close()


def test_reads_on_postgresql_send_no_begin_or_commit(database_url, tmp_path):
    """A batch that only reads runs its statements in autocommit (BEGIN and COMMIT are round
    trips of their own, and READ COMMITTED gives each statement its own snapshot either way); a
    batch that writes is one transaction. Read from libpq's protocol trace of the pool's only
    connection."""
    from memory.backends.base import CountRecords, GetRecords, PutRecords, Record
    from memory.backends.postgres import PgDatabase, PgLexicalIndex, PgRecordStore
    from memory.scope import as_scope

    db = PgDatabase(database_url, max_connections=1)
    records, words = PgRecordStore(db), PgLexicalIndex(db)
    ann = as_scope("ann")
    trace = tmp_path / "libpq.trace"

    def sent(batch) -> str:
        conn = db.pool.getconn()
        out = trace.open("w")
        conn.pgconn.trace(out.fileno())
        db.pool.putconn(conn)
        try:
            batch()
        finally:
            conn = db.pool.getconn()
            conn.pgconn.untrace()
            db.pool.putconn(conn)
            out.close()
        return trace.read_text()

    wrote = sent(lambda: records.batch([PutRecords(ann, (Record("note", "n1", {"x": 1}),))]))
    assert "BEGIN" in wrote and "COMMIT" in wrote and "INSERT INTO kindred_records" in wrote
    read = sent(lambda: records.batch([GetRecords(ann, "note", ("n1",)),
                                       CountRecords(ann, "note")]))
    assert "SELECT" in read and "BEGIN" not in read and "COMMIT" not in read
    searched = sent(lambda: words.search(ann, "cello lessons", 5))
    assert "kindred_lex_terms" in searched and "BEGIN" not in searched
    assert records.get_many("ann", "note", ["n1"])[0].value == {"x": 1}
    db.close()


def test_a_write_on_postgresql_waits_for_its_statements_together(database_url, tmp_path):
    """A transaction's statements go out in one pipeline: the client waits for the server's
    replies where it reads a result and at the end, not after each statement (each
    ``executemany`` had opened a pipeline of its own, two waits more; a replica's turn waited
    50 times). Read from libpq's protocol trace: one ReadyForQuery comes back per Sync sent. A
    statement that fails still rolls the whole transaction back."""
    from memory.backends.base import IndexTexts, PutRecords, Record
    from memory.backends.postgres import PgDatabase, PgLexicalIndex, PgRecordStore
    from memory.errors import StoreError
    from memory.scope import as_scope

    db = PgDatabase(database_url, max_connections=1)
    records, words = PgRecordStore(db), PgLexicalIndex(db)
    ann = as_scope("ann")
    trace = tmp_path / "libpq.trace"
    conn = db.pool.getconn()
    out = trace.open("w")
    conn.pgconn.trace(out.fileno())
    db.pool.putconn(conn)
    with records.transaction(), words.transaction():  # a turn's unit of work: records and words
        records.batch([PutRecords(ann, (Record("note", "n1", {"x": 1}),
                                        Record("note", "n2", {"x": 2}))),
                       PutRecords(ann, (Record("note", "n3", {"x": 3}),))])
        words.batch([IndexTexts(ann, (("t1", "cello lessons", ""), ("t2", "garden leeks", "")))])
    conn = db.pool.getconn()
    conn.pgconn.untrace()
    db.pool.putconn(conn)
    out.close()
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    executed = sum(1 for f in sent if f[1] == "F" and f[3] == "Execute")
    waits = sum(1 for f in sent if f[1] == "B" and f[3] == "ReadyForQuery")
    assert executed >= 10  # BEGIN, three upserts, two deletes, two docs, four terms, COMMIT
    assert waits <= 4, f"{waits} waits for {executed} statements"
    assert [r.id for r in records.list(ann, "note")] == ["n1", "n2", "n3"]
    assert words.search(ann, "cello", 5)[0].turn_id == "t1"

    with pytest.raises(StoreError, match="division by zero"), records.transaction() as conn:
        records.batch([PutRecords(ann, (Record("note", "n4", {"x": 4}),))])
        conn.execute("SELECT 1/0")  # a statement of the same transaction fails after the put
    assert [r.id for r in records.list(ann, "note")] == ["n1", "n2", "n3"]  # n4 rolled back
    db.close()


def test_replicas_opening_a_fresh_database_together_do_not_wait_on_each_other(tmp_path,
                                                                              pg_schemas):
    """LangGraph's checkpoint migrations build indexes CONCURRENTLY, which waits for every open
    transaction of the database; a replica waiting for the migration lock inside a statement is
    one, while the replica holding the lock waits for its migrations: both hung for good (two of
    three starts of two `kindred serve` at once on a fresh database, 2026-12-03)."""
    for trial in range(3):  # the race needs the second replica to queue during the first's setup
        storage = StorageConfig(database_url=pg_schemas())
        opened, failed = _open_together(storage, [tmp_path / f"t{trial}-{n}" for n in (1, 2)])
        try:
            assert not failed, failed
            assert len(opened) == 2, f"trial {trial}: a replica's thread store never opened"
        finally:
            for store in opened:
                store.close()


def _open_together(storage: StorageConfig, dirs: list) -> tuple[list, list[Exception]]:
    """Open the thread store once per dir, all at once; what opened within a minute, and what
    failed (raised again by the test, in its own thread)."""
    opened: list = []
    failed: list[Exception] = []

    def one(data_dir) -> None:
        try:
            opened.append(open_threads(data_dir, storage))
        except Exception as exc:
            failed.append(exc)

    starters = [threading.Thread(target=one, args=(d,), daemon=True) for d in dirs]
    for t in starters:
        t.start()
    for t in starters:
        t.join(timeout=60)
    return opened, failed
