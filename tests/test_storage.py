"""The storage seam: the same conformance tests for every backend of each interface.

Records and words run on SQLite; vectors on embedded Chroma and a Chroma server (the ``stores``
fixture is parametrised over both). Tenants and users are scopes: nothing of one is visible to
another, on any store.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from memory.backends import open_stores
from memory.backends.base import Record
from memory.backends.sqlite import SCHEMA_VERSION, Database, SqliteRecordStore
from memory.errors import KindredError, StoreError
from memory.scope import Scope
from memory.unit import UnitOfWork, forget_scope

from conftest import T0

ALICE, ALICE_T2, BOB = Scope("alice"), Scope("alice", tenant="t2"), Scope("bob")


def _turn(n: int, session: str = "s0001", text: str | None = None) -> Record:
    return Record("turn", f"alice/{session}/{n}", {"text": text or f"turn {n}"}, ts=T0 + n,
                  session=session, seq=n)


def test_records_round_trip_in_order_with_filters(stores):
    records = stores.records
    records.put(ALICE, [_turn(2), _turn(0), _turn(1, "s0002")])
    assert [r.id for r in records.list(ALICE, "turn")] == [
        "alice/s0001/0", "alice/s0002/1", "alice/s0001/2"]
    assert [r.id for r in records.list(ALICE, "turn", session="s0001")] == [
        "alice/s0001/0", "alice/s0001/2"]
    assert [r.id for r in records.list(ALICE, "turn", session="s0001", seq=2)] == ["alice/s0001/2"]
    assert [r.id for r in records.list(ALICE, "turn", newest=True, limit=1)] == ["alice/s0001/2"]
    assert records.get(ALICE, "turn", "alice/s0001/0").value == {"text": "turn 0"}
    assert [r.id for r in records.get_many(ALICE, "turn", ["alice/s0001/2", "nope",
                                                           "alice/s0001/0"])] == [
        "alice/s0001/2", "alice/s0001/0"]  # the order asked, missing ids left out
    assert records.count(ALICE, "turn") == 3 and records.count(ALICE, "event") == 0


def test_a_replaced_record_keeps_its_place_and_status_filters(stores):
    records = stores.records
    a = Record("trait", "t-a", {"text": "I like tea."}, ts=T0, status="active", tag="user")
    b = Record("trait", "t-b", {"text": "I like jazz."}, ts=T0, status="active", tag="user")
    records.put(ALICE, [a, b])
    records.put(ALICE, [Record("trait", "t-a", {"text": "I like tea."}, ts=T0,
                               status="superseded", tag="user")])
    assert [r.id for r in records.list(ALICE, "trait")] == ["t-a", "t-b"]  # insertion order kept
    assert [r.id for r in records.list(ALICE, "trait", status="active")] == ["t-b"]
    assert records.count(ALICE, "trait", tag="user") == 2


def test_tenants_and_users_never_see_each_other(stores):
    records, vectors, lexical = stores.records, stores.vectors, stores.lexical
    for scope in (ALICE, ALICE_T2, BOB):
        records.put(scope, [Record("turn", "same-id", {"who": scope.key}, ts=T0)])
        lexical.add(scope, [("same-id", f"{scope.key}: I hiked up Ben Nevis", "")])
        vectors.add("turns", scope, ["same-id"], np.eye(1, 384, dtype=np.float32),
                    [{"ts": T0}])
    assert records.get(ALICE_T2, "turn", "same-id").value == {"who": "t2/alice"}
    assert records.get(ALICE, "turn", "same-id").value == {"who": "alice"}
    assert lexical.search(ALICE_T2, "hiking", 5)[0].turn_id == "same-id"
    assert vectors.query("turns", ALICE_T2, np.eye(1, 384)[0], 5)[0].metadata["user_id"] == \
        "t2/alice"
    assert sorted(s.key for s in records.scopes()) == ["alice", "bob", "t2/alice"]
    assert [s.key for s in records.scopes(tenant="t2")] == ["t2/alice"]
    forget_scope(stores, ALICE_T2)
    assert records.list(ALICE_T2, "turn") == [] and lexical.search(ALICE_T2, "hiking", 5) == []
    assert vectors.count("turns", ALICE_T2) == 0
    for scope in (ALICE, BOB):  # the same user id of the default tenant is untouched
        assert records.count(scope, "turn") == 1 and vectors.count("turns", scope) == 1
        assert len(lexical.search(scope, "hiking", 5)) == 1


def test_a_unit_of_work_commits_records_and_words_together(stores):
    unit = UnitOfWork(stores)
    unit.put(ALICE, [_turn(0)]).index_text(ALICE, [("alice/s0001/0", "alice: hello Lisbon", "")])
    done = []
    unit.then(lambda: done.append("cache"))
    assert stores.records.count(ALICE, "turn") == 0 and done == []  # nothing before commit
    unit.commit()
    assert stores.records.count(ALICE, "turn") == 1 and done == ["cache"]
    assert stores.lexical.search(ALICE, "lisbon", 3)[0].turn_id == "alice/s0001/0"


def test_a_failing_write_inside_the_transaction_leaves_nothing(stores):
    """Records and words share one SQLite transaction: a failure in either undoes both."""

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with stores.records.transaction():
            stores.records.put(ALICE, [_turn(0)])
            stores.lexical.add(ALICE, [("alice/s0001/0", "alice: hello", "")])
            raise Boom
    assert stores.records.count(ALICE, "turn") == 0
    assert stores.lexical.search(ALICE, "hello", 3) == []


def test_a_schema_1_data_dir_is_moved_into_records(tmp_path):
    """Data dirs written before the storage seam (a table per kind) open with nothing lost."""
    path = tmp_path / "kindred.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE turns (id TEXT PRIMARY KEY, user_id TEXT, session_id TEXT, idx INTEGER,
            role TEXT, speaker TEXT, text TEXT, ts REAL, topics TEXT);
        CREATE TABLE events (id TEXT PRIMARY KEY, user_id TEXT, session_id TEXT, summary TEXT,
            topics TEXT, ts REAL, turn_ids TEXT);
        CREATE TABLE traits (id TEXT PRIMARY KEY, user_id TEXT, owner TEXT, text TEXT,
            subject TEXT, first_seen REAL, last_seen REAL, count INTEGER, tier TEXT,
            source_turn_ids TEXT, last_session INTEGER, status TEXT, valid_to REAL,
            superseded_by TEXT);
        CREATE TABLE feedback (id TEXT PRIMARY KEY, user_id TEXT, request TEXT,
            request_key TEXT, understanding TEXT, feedback TEXT, ts REAL, hits INTEGER);
        INSERT INTO turns VALUES ('al/s0001/0', 'al', 's0001', 0, 'user', 'al',
            'My dog is Biscuit.', 100.0, '["dog"]');
        INSERT INTO events VALUES ('al/s0001/event', 'al', 's0001', 'al: My dog is Biscuit.',
            '["dog"]', 100.0, '["al/s0001/0"]');
        INSERT INTO traits VALUES ('tr-1', 'al', 'user', 'My dog is Biscuit.', 'pet', 100.0,
            100.0, 1, 'short', '["al/s0001/0"]', 1, 'active', NULL, NULL);
        INSERT INTO feedback VALUES ('fb-1', 'al', 'Any walks?', 'any walks', 'Yes.',
            'Dog-friendly ones.', 100.0, 2);
    """)
    old.commit()
    old.close()
    records = SqliteRecordStore(Database(path))
    al = Scope("al")
    [turn] = records.list(al, "turn")
    assert (turn.session, turn.seq, turn.value["text"], turn.value["topics"]) == (
        "s0001", 0, "My dog is Biscuit.", ["dog"])
    assert records.get(al, "event", "al/s0001/event").value["turn_ids"] == ["al/s0001/0"]
    trait = records.get(al, "trait", "tr-1")
    assert (trait.tag, trait.status, trait.value["count"]) == ("user", "active", 1)
    assert records.get(al, "feedback", "fb-1").value["hits"] == 2
    assert records.get(al, "feedback", "fb-1").tag == "any walks"
    tables = {r[0] for r in records.db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not tables & {"turns", "events", "traits", "feedback"}
    records.close()


def test_a_data_dir_of_a_newer_kindred_is_refused_with_the_upgrade_command(tmp_path):
    path = tmp_path / "kindred.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=r"newer Kindred.*pip install -U kindred"):
        SqliteRecordStore(Database(path))


def test_sqlite_failures_leave_as_store_errors_that_say_what_to_do(tmp_path):
    path = tmp_path / "kindred.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="record store") as caught:
        SqliteRecordStore(Database(path))
    assert isinstance(caught.value, KindredError) and "check" in str(caught.value).lower()
    assert not isinstance(caught.value, sqlite3.Error)


def test_a_chroma_collection_of_bare_ids_is_rewritten_to_scoped_ids(tmp_path):
    """Data dirs written before scoped ids: their vectors stay reachable, by their own ids."""
    import chromadb

    from memory.backends.chroma import ChromaVectorIndex

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    col = client.get_or_create_collection("kindred_turns", embedding_function=None,
                                          configuration={"hnsw": {"space": "cosine"}})
    col.add(ids=["al/s0001/0", "bo/s0001/0"], documents=["hello", "hi"],
            embeddings=np.eye(2, 384).tolist(), metadatas=[{"user_id": "al"}, {"user_id": "bo"}])
    client.close()
    vectors = ChromaVectorIndex.embedded(tmp_path / "chroma")
    assert [i["id"] for i in vectors.get("turns", "al")] == ["al/s0001/0"]
    assert vectors.query("turns", "bo", np.eye(2, 384)[1], 3)[0].id == "bo/s0001/0"
    vectors.close()
    again = ChromaVectorIndex.embedded(tmp_path / "chroma")  # marked: nothing to rewrite
    assert again.count("turns", "al") == 1 and again.count("turns", "bo") == 1
    again.close()


def test_a_closed_vector_store_is_a_store_error(tmp_path):
    stores = open_stores(tmp_path / "data")
    stores.close()
    with pytest.raises(StoreError, match="closed"):
        stores.vectors.count("turns", ALICE)


def test_chroma_failures_leave_as_store_errors(stores):
    with pytest.raises(StoreError, match="failed") as caught:
        stores.vectors.add("turns", ALICE, ["x"], np.zeros((1, 7), dtype=np.float32),
                           [{"ts": T0}])  # a 7-dimensional vector where 384 are stored...
        stores.vectors.add("turns", ALICE, ["y"], np.zeros((1, 384), dtype=np.float32),
                           [{"ts": T0}])  # ...then a 384 one: Chroma refuses the mismatch
    assert not type(caught.value).__module__.startswith("chromadb")


def test_collections_an_older_kindred_wrote_lose_their_words_and_keep_their_vectors(tmp_path):
    """Kindred once gave Chroma the texts (documents), nouns and speakers, and before that bare
    ids; opening such a collection rewrites it: scoped ids, no document, no word-bearing key,
    the same vectors (found by the same query). (Chroma's own log may still hold the old rows
    until it is flushed: a deployment that needs the proof forgets on a new data dir.)"""
    import chromadb

    from memory.backends.chroma import ChromaVectorIndex

    path = tmp_path / "chroma"
    client = chromadb.PersistentClient(path=str(path),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    vecs = np.eye(3, 384, dtype=np.float32)
    for name, scheme, ids in (("kindred_turns", 2, ["alice::t0", "alice::t1", "bob::t0"]),
                              ("kindred_events", None, ["t0", "t1", "t0b"])):
        col = client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
            metadata={"kindred_ids": scheme} if scheme else None)
        col.add(ids=ids, embeddings=vecs.tolist(),
                documents=["I keep a wombatword", "wombatword again", "bob's words"],
                metadatas=[{"user_id": "alice", "ts": T0, "topics": ["wombatword"],
                            "speaker": "alice"}, {"user_id": "alice", "ts": T0 + 1,
                                                  "speaker": "alice"},
                           {"user_id": "bob", "ts": T0, "speaker": "bob"}])
    client.close()
    index = ChromaVectorIndex.embedded(path)
    for name in ("turns", "events"):
        held = index.get(name, ALICE, with_vectors=True)
        assert sorted(i["metadata"]["ts"] for i in held) == [T0, T0 + 1]
        assert all(set(i["metadata"]) == {"user_id", "ts"} for i in held)
        assert index.query(name, ALICE, vecs[1], 1)[0].metadata["ts"] == T0 + 1
        assert [i["metadata"]["ts"] for i in index.get(name, BOB)] == [T0]
    raw = index._client.get_collection("kindred_turns").get(include=["documents"])
    assert sorted(raw["ids"]) == ["alice::t0", "alice::t1", "bob::t0"]
    assert raw["documents"] == [None, None, None]
    events = index._client.get_collection("kindred_events")
    assert sorted(events.get(include=[])["ids"]) == ["alice::t0", "alice::t1", "bob::t0b"]
    assert events.metadata["kindred_ids"] == 3
    index.close()
    index = ChromaVectorIndex.embedded(path)  # marked: a second open rewrites nothing
    assert len(index.get("turns", ALICE)) == 2
    index.close()


def _files_holding(root, marker: bytes) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and marker in p.read_bytes())


def test_chromas_new_index_files_hold_no_stale_heap_bytes(tmp_path):
    """Chroma's HNSW library writes a new index's unused slots straight from the heap, which
    held what the process's other threads freed (here a marker; in a server, anyone's words):
    a raw collection's files hold the marker, Kindred's, zeroed right after the first write,
    do not (each in a fresh process whose heap is prepared the same way)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    marker = "quokkaheapmarker"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    for which in ("raw", "kindred"):
        done = subprocess.run([sys.executable, str(Path(__file__).with_name("heap_worker.py")),
                               which, marker, str(tmp_path / which)],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    assert _files_holding(tmp_path / "raw", marker.encode())  # the leak this guards against
    assert _files_holding(tmp_path / "kindred", marker.encode()) == []


def test_zeroing_a_chroma_index_keeps_every_vector(tmp_path):
    """The slots zeroed are those no element fills: past Chroma's first thousand vectors
    (when it moves them into the index), after a reopen, every item and its query are as before,
    and a tail left by a process killed before it zeroed is zeroed on the next open."""
    from memory.backends.chroma import ChromaVectorIndex
    from memory.backends.hnsw_files import zero_unused_slots

    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(1300, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index = ChromaVectorIndex.embedded(tmp_path / "chroma")
    index.add("turns", ALICE, [f"t{n}" for n in range(5)], vecs[:5],
              [{"ts": float(n)} for n in range(5)])
    [segment] = [p for p in (tmp_path / "chroma").iterdir() if p.is_dir()]
    assert (segment / "length.bin").read_bytes() == bytes(400)  # 100 slots, none filled yet
    index.add("turns", ALICE, [f"t{n}" for n in range(5, 1300)], vecs[5:],
              [{"ts": float(n)} for n in range(5, 1300)])
    before = [h.id for h in index.query("turns", ALICE, vecs[7], 5)]
    index.close()
    lengths = np.frombuffer((segment / "length.bin").read_bytes(), dtype=np.float32)
    assert len(lengths) == 1300 and np.allclose(lengths, 1.0, atol=1e-3)  # every slot an element
    with open(segment / "length.bin", "ab") as f:  # a stale tail a killed process left
        f.write(b"stalebytes" * 40)
    index = ChromaVectorIndex.embedded(tmp_path / "chroma")
    assert (segment / "length.bin").read_bytes()[1300 * 4:] == bytes(400)
    assert [h.id for h in index.query("turns", ALICE, vecs[7], 5)] == before
    assert before[0] == "t7"
    held = index.get("turns", ALICE, with_vectors=True)
    assert len(held) == 1300
    got = {i["id"]: i["vector"] for i in held}
    assert np.allclose(got["t1299"], vecs[1299], atol=1e-5)
    index.close()
    assert zero_unused_slots(tmp_path) is False  # not an index directory


def test_a_chroma_index_of_an_unknown_layout_is_refused_not_guessed(tmp_path):
    import struct

    from memory.backends.hnsw_files import zero_unused_slots

    (tmp_path / "header.bin").write_bytes(struct.pack("<iQQQQ", 2, 0, 100, 0, 1676))
    (tmp_path / "length.bin").write_bytes(b"x" * 400)
    with pytest.raises(StoreError, match="layout 2.*chromadb version"):
        zero_unused_slots(tmp_path)
    assert (tmp_path / "length.bin").read_bytes() == b"x" * 400
