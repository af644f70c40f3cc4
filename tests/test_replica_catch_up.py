"""Replicas catch up only on the vector collections another replica wrote (memory/locks.py).

Two ``Kindred`` objects on one PostgreSQL and one Chroma server stand for two replicas here: each
has its own in-process copies, write queue and scope locks, exactly as two processes do (the
real-process tests are in test_replicas.py). Reads below the in-process copies are counted by a
layer put between the copies and the Chroma client, like ``_CountingIndex`` in test_stores.py."""

from __future__ import annotations

import psycopg
import pytest

from agent import Kindred
from conftest import T0
from memory.backends.base import GetVectors, Record, VectorIndexLayer
from memory.backends.postgres import PgDatabase, PgRecordStore
from memory.backends.written import WrittenVectorIndex
from memory.scope import as_scope


class _Counting(VectorIndexLayer):
    """Counts the index reads (listings and fetches) of each collection that pass it, and
    keeps the ids of the vectors fetched."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.reads: dict[str, int] = {}
        self.fetched: dict[str, list[str]] = {}

    def batch(self, ops):
        out = self.inner.batch(ops)
        for op, result in zip(ops, out, strict=True):
            if isinstance(op, GetVectors):
                self.reads[op.collection] = self.reads.get(op.collection, 0) + 1
                if op.with_vectors:
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


def test_a_replica_lists_only_the_collections_the_other_wrote(shared, tmp_path, embedder):
    with Kindred(data_dir=tmp_path / "a", chat_model="fake", embedder=embedder,
                 storage=shared) as a, \
            Kindred(data_dir=tmp_path / "b", chat_model="fake", embedder=embedder,
                    storage=shared) as b:
        b_reads = _counted(b)
        said = ["I keep bees on the roof.", "My brother lives in Oslo.", "I play the cello.",
                "We adopted a greyhound."]
        for n, text in enumerate(said):
            (a, b)[n % 2].chat("ann", text, at=T0 + n)
        b_reads.reads.clear()
        a.chat("ann", "Good morning!", at=T0 + 10)  # small talk: turns only, no trait
        b.chat("ann", "My car is a red Fiat.", at=T0 + 11)
        assert b_reads.reads.get("turns", 0) >= 1  # A's turns: caught up
        assert "events" not in b_reads.reads and "traits" not in b_reads.reads

        event = a.end_session("ann", at=T0 + 20)  # A writes the session's event
        assert event is not None
        b_reads.reads.clear()
        b_reads.fetched.clear()
        b.chat("ann", "What do I keep on the roof?", at=T0 + 8 * 86400)
        assert b_reads.reads.get("events", 0) >= 1  # ... which B now fetches
        assert b_reads.fetched.get("events") == [event.id]  # the new event's vector, only it
        assert event.id in {m.id for m in b.recall("ann", "bees on the roof").events}


def _store(url: str) -> PgRecordStore:
    return PgRecordStore(PgDatabase(url, max_connections=4))


def test_the_scope_row_says_what_was_written_until_a_writer_does_not(database_url):
    store = _store(database_url)
    scope = as_scope("ann")
    try:
        store.put(scope, [Record("turn", "ann/s1/0", {"text": "hi"}, ts=T0)])
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(None) is None  # a reader that saw nothing: everything
            hold.wrote = frozenset({"turns"})
        first = hold.after
        with store.scope_lock(scope) as hold:
            hold.wrote = frozenset({"events"})
        second = hold.after
        with store.scope_lock(scope) as hold:
            assert hold.version == second
            assert hold.changed_since(second) == frozenset()
            assert hold.changed_since(first) == {"events"}
            hold.wrote = frozenset()
        third = hold.after

        # a writer that keeps no list (an older Kindred): nobody can tell what it wrote
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE kindred_scopes SET version = nextval('kindred_scope_seq')")
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(third) is None
            hold.wrote = frozenset({"traits"})
        restarted = hold.after
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(third) is None  # behind the older writer: everything
            assert hold.changed_since(restarted) == frozenset()
            hold.wrote = frozenset({"turns"})
        with store.scope_lock(scope) as hold:
            assert hold.changed_since(restarted) == {"turns"}
            # a holder that failed before it could say (wrote stays None) ends the list too

        with store.scope_lock(scope) as hold:
            assert hold.written is None and hold.changed_since(restarted) is None
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
        assert stores.written(as_scope("ann")) == {"turns"}
        assert stores.written(as_scope("ann")) == frozenset()  # taken once
    finally:
        stores.close()
        other.close()
