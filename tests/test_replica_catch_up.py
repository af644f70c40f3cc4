"""Replicas catch up on just the vector items another replica wrote (memory/locks.py).

Two ``Kindred`` objects on one PostgreSQL and one Chroma server stand for two replicas here: each
has its own in-process copies, write queue and scope locks, exactly as two processes do (the
real-process tests are in test_replicas.py). Reads below the in-process copies are counted by a
layer put between the copies and the Chroma client, like ``_CountingIndex`` in test_stores.py."""

from __future__ import annotations

import psycopg
import pytest

from agent import Kindred
from conftest import DAY, T0
from memory.backends.base import GetVectors, Record, VectorIndexLayer
from memory.backends.postgres import PgDatabase, PgRecordStore
from memory.backends.written import WrittenVectorIndex
from memory.scope import as_scope


class _Counting(VectorIndexLayer):
    """Counts the index reads of each collection that pass it: listings (no ids given) and
    fetches (the ids of the vectors read)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.listed: dict[str, int] = {}
        self.fetched: dict[str, list[str]] = {}

    def clear(self) -> None:
        self.listed.clear()
        self.fetched.clear()

    def batch(self, ops):
        out = self.inner.batch(ops)
        for op, result in zip(ops, out, strict=True):
            if isinstance(op, GetVectors) and op.ids is None:
                self.listed[op.collection] = self.listed.get(op.collection, 0) + 1
            elif isinstance(op, GetVectors):
                self.fetched.setdefault(op.collection, []).extend(i["id"] for i in result)
        return out


@pytest.fixture
def shared(database_url, chroma_server):
    from memory.backends.chroma import ChromaVectorIndex

    host, port = chroma_server
    ChromaVectorIndex.server(host, port).reset()
    return {"database_url": database_url, "chroma_host": host, "chroma_port": port}


def _counted(bot: Kindred) -> _Counting:
    """A counting layer under ``bot``'s in-process copies of events and traits."""
    top = bot.memory.stores.vectors
    assert isinstance(top, WrittenVectorIndex)
    cached = top.inner
    cached.inner = _Counting(cached.inner)
    return cached.inner


def test_a_replica_fetches_just_what_the_other_wrote(shared, tmp_path, embedder):
    with Kindred(data_dir=tmp_path / "a", chat_model="fake", embedder=embedder,
                 storage=shared) as a, \
            Kindred(data_dir=tmp_path / "b", chat_model="fake", embedder=embedder,
                    storage=shared) as b:
        b_reads = _counted(b)
        said = ["I keep bees on the roof.", "My brother lives in Oslo.", "I play the cello.",
                "We adopted a greyhound."]
        for n, text in enumerate(said):
            (a, b)[n % 2].chat("ann", text, at=T0 + n)
        before = {t.id for t in a.memory.turns.list("ann")}
        a.chat("ann", "Good morning!", at=T0 + 10)  # small talk: two turns, no trait
        new = sorted({t.id for t in a.memory.turns.list("ann")} - before)
        assert len(new) == 2
        b_reads.clear()
        reply = b.chat("ann", "Good morning! What do I keep on the roof?", at=T0 + 11)
        assert b_reads.listed == {}  # nothing listed: neither turns nor events nor traits
        assert sorted(b_reads.fetched["turns"]) == new  # A's two turns, and only they
        assert "Good morning!" in [m.text for m in b.recall("ann", "good morning", k=20).turns]
        assert reply.text

        event = a.end_session("ann", at=T0 + 20)  # A writes the session's event
        assert event is not None
        b_reads.clear()
        b.chat("ann", "What do I keep on the roof?", at=T0 + 8 * 86400)
        assert "events" not in b_reads.listed
        assert b_reads.fetched.get("events") == [event.id]  # the new event's vector, only it
        assert event.id in {m.id for m in b.recall("ann", "bees on the roof").events}

        # an edit on A: B reads the turn again and ranks with its new words
        bees = next(t for t in a.memory.turns.list("ann") if t.text == "I keep bees on the roof.")
        a.edit_memory("ann", "turn", bees.id, "I keep wasps on the roof.")
        b.chat("ann", "Which insects live on my roof?", at=T0 + 8 * 86400 + 60)
        texts = [m.text for m in b.recall("ann", "insects on the roof", k=20).turns]
        assert "I keep wasps on the roof." in texts and "I keep bees on the roof." not in texts


def test_corrections_given_on_one_replica_are_used_and_dropped_on_the_other(shared, tmp_path,
                                                                            embedder):
    """Inside a turn on PostgreSQL the copies of a user's corrections take no count of their
    own: the scope lock's version says another replica changed them
    (:func:`memory.locks.checked_by_lock`). B's copy is warm (and empty) before A stores a
    correction, so only the version can tell B to read it."""
    with Kindred(data_dir=tmp_path / "a", chat_model="fake", embedder=embedder,
                 storage=shared) as a, \
            Kindred(data_dir=tmp_path / "b", chat_model="fake", embedder=embedder,
                    storage=shared) as b:
        assert b.chat("ann", "Recommend a restaurant for tonight.", at=T0).trace.feedback is None
        a.chat("ann", "Recommend a restaurant for tonight.", at=T0 + 60)
        receipt = a.feedback("ann", "I am vegetarian: only suggest vegetarian places.",
                             at=T0 + 90)
        later = b.chat("ann", "Can you recommend a restaurant for tonight?", at=T0 + DAY)
        assert later.trace.feedback is not None
        assert later.trace.feedback.feedback == "I am vegetarian: only suggest vegetarian places."
        a.delete_memory("ann", "feedback", receipt.feedback_id)
        again = b.chat("ann", "Can you recommend a restaurant for tonight?", at=T0 + 2 * DAY)
        assert again.trace.feedback is None


def test_a_copy_skips_its_count_only_inside_a_hold_on_a_shared_store(database_url, tmp_path):
    """The lock's version vouches for a scope's copies only while its lock is held on a shared
    store; outside it (a read without the lock, the memory layer used alone) and on SQLite,
    whose hold has no version, the copies count (test_retrieval's second process relies on it)."""
    from memory.backends.sqlite import Database, SqliteRecordStore
    from memory.locks import ScopeLocks, checked_by_lock

    ann, bob = as_scope("ann"), as_scope("bob")
    shared = _store(database_url)
    embedded = SqliteRecordStore(Database(tmp_path / "k.db"))
    try:
        locks = ScopeLocks(shared, lambda scope, changes: None)
        assert not checked_by_lock(ann)
        with locks.hold(ann):
            assert checked_by_lock(ann) and not checked_by_lock(bob)
        assert not checked_by_lock(ann)
        with ScopeLocks(embedded, lambda scope, changes: None).hold(ann):
            assert not checked_by_lock(ann)
    finally:
        shared.close()
        embedded.close()


def _store(url: str) -> PgRecordStore:
    return PgRecordStore(PgDatabase(url, max_connections=4))


def test_the_scope_row_says_what_was_written_until_a_writer_does_not(database_url):
    from memory.backends.postgres import KEPT_CHANGES

    store = _store(database_url)
    scope = as_scope("ann")
    try:
        store.put(scope, [Record("turn", "ann/s1/0", {"text": "hi"}, ts=T0)])
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(None) is None  # a reader that saw nothing: everything
            hold.wrote = {"turns": frozenset({"ann/s1/0", "ann/s1/1"})}
        first = hold.after
        with store.scope_lock(scope) as hold:
            hold.wrote = {"events": frozenset({"ann/e1"}), "turns": frozenset({"ann/s1/2"})}
        second = hold.after
        with store.scope_lock(scope) as hold:
            assert hold.version == second
            assert hold.changed_since(second) == {}
            assert hold.changed_since(first) == {"events": {"ann/e1"}, "turns": {"ann/s1/2"}}
            hold.wrote = {"traits": None}  # too many to list, or all of the scope's
        third = hold.after
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(second) == {"traits": None}
            assert hold.changed_since(0) is None  # older than the row's lists reach
            hold.wrote = {}
        fourth = hold.after

        # a writer that keeps no list (an older Kindred): nobody can tell what it wrote
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE kindred_scopes SET version = nextval('kindred_scope_seq')")
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(fourth) is None
            hold.wrote = {"turns": frozenset({"ann/s1/3"})}
        restarted = hold.after
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(fourth) is None  # behind the older writer: everything
            assert hold.changed_since(restarted) == {}
            # a holder that failed before it could say (wrote stays None) ends the lists too
        with store.scope_lock(scope) as hold:
            assert hold.changes is None and hold.changed_since(restarted) is None
            hold.wrote = {}

        for n in range(KEPT_CHANGES + 3):  # only the last lists are kept
            with store.scope_lock(scope) as hold:
                hold.wrote = {"turns": frozenset({f"ann/s2/{n}"})}
            if n == 2:
                early = hold.after
        with store.scope_lock(scope) as hold:
            assert len(hold.changes) == KEPT_CHANGES
            assert hold.changed_since(early - 1) is None
            assert hold.changed_since(early) == {
                "turns": {f"ann/s2/{n}" for n in range(3, KEPT_CHANGES + 3)}}
        assert third < fourth < restarted

        store.delete(scope)  # forgotten: its row goes, and no copy of it can be trusted
        with store.scope_lock(scope) as hold:
            assert hold.version == 0 and hold.changed_since(restarted) is None
    finally:
        store.close()


def test_a_layer_waits_for_the_writes_queued_below_it(shared, tmp_path, embedder):
    """A vector index layer passes flush, submit and close down (inherited, the base class's
    no-ops had made a replica let go of a user before its writes landed)."""
    import numpy as np

    from memory.backends import StorageConfig, open_stores
    from memory.backends.base import UpsertVectors

    stores = open_stores(tmp_path / "d", StorageConfig(**shared))
    other = open_stores(tmp_path / "e", StorageConfig(**shared))
    try:
        vector = np.asarray(embedder.embed(["I keep bees."]), dtype=np.float32)
        stores.vectors.submit([UpsertVectors("turns", as_scope("ann"), ("ann/s1/0",), vector,
                                             ({"session_id": "s1"},))])
        stores.vectors.flush()
        assert [i["id"] for i in other.vectors.get("turns", "ann")] == ["ann/s1/0"]
        assert stores.written(as_scope("ann")) == {"turns": {"ann/s1/0"}}
        assert stores.written(as_scope("ann")) == {}  # taken once
        stores.vectors.delete("turns", "ann")
        assert stores.written(as_scope("ann")) == {"turns": None}  # all of the scope's
    finally:
        stores.close()
        other.close()
