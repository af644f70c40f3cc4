"""Vector writes behind the reply (``memory/backends/behind.py``): read your writes, one Chroma
call for the writes that queued together, a failure kept and retried, nothing lost on close."""

from __future__ import annotations

import numpy as np
import pytest

from memory.backends.base import UpsertVectors
from memory.backends.behind import WriteBehindVectorIndex
from memory.backends.chroma import ChromaVectorIndex
from memory.errors import StoreError
from memory.scope import Scope

from conftest import T0

ANN, BOB = Scope("ann"), Scope("bob")


def _ups(scope: Scope, n: int, start: int = 0, collection: str = "turns") -> UpsertVectors:
    ids = tuple(f"{scope.user}/s0001/{i}" for i in range(start, start + n))
    vecs = np.random.default_rng(start).random((n, 384)).astype(np.float32)
    return UpsertVectors(collection, scope, ids, vecs,
                         tuple({"ts": T0 + i, "idx": i} for i in range(start, start + n)))


def test_every_read_waits_for_the_writes_submitted_before_it(tmp_path):
    index = WriteBehindVectorIndex(ChromaVectorIndex.embedded(tmp_path / "chroma"))
    index.submit([_ups(ANN if n % 2 else BOB, 1, start=n) for n in range(300)])
    assert index.count("turns", ANN) == 150 and index.count("turns", BOB) == 150
    index.submit([_ups(ANN, 1, start=1000)])
    hit = index.query("turns", ANN, _ups(ANN, 1, start=1000).vectors[0], 1)[0]
    assert hit.id == "ann/s0001/1000" and hit.similarity > 0.999
    index.submit([_ups(BOB, 2, start=2000)])
    index.close()  # what is queued lands before the files close
    reopened = ChromaVectorIndex.embedded(tmp_path / "chroma")
    assert reopened.count("turns", BOB) == 152
    reopened.close()
    with pytest.raises(StoreError, match="closed"):
        index.submit([_ups(ANN, 1)])


def test_upserts_that_queued_together_are_one_call_with_each_users_items(tmp_path):
    """The writer hands Chroma a run of upserts as one call: every user's items stay under their
    own scope (the same id in two users is two items) and a later write of an id wins."""
    index = ChromaVectorIndex.embedded(tmp_path / "chroma")
    first, again = _ups(ANN, 3), _ups(ANN, 1, start=1)
    again = UpsertVectors("turns", ANN, again.ids, again.vectors, ({"ts": T0, "idx": 99},))
    index.batch([first, _ups(BOB, 2), again, _ups(ANN, 1, collection="events")])
    ann = {i["id"]: i for i in index.get("turns", ANN, with_vectors=True)}
    assert sorted(ann) == ["ann/s0001/0", "ann/s0001/1", "ann/s0001/2"]
    assert ann["ann/s0001/1"]["metadata"]["idx"] == 99  # the later write
    assert np.allclose(ann["ann/s0001/1"]["vector"], again.vectors[0], atol=1e-6)
    assert sorted(i["id"] for i in index.get("turns", BOB)) == ["bob/s0001/0", "bob/s0001/1"]
    assert [i["id"] for i in index.get("events", ANN)] == ["ann/s0001/0"]
    index.close()


def test_a_run_larger_than_one_chroma_call_is_written_in_pieces(tmp_path):
    """Chroma refuses a call of more than 5,461 items; upserts queued together can hold more."""
    index = ChromaVectorIndex.embedded(tmp_path / "chroma")
    index.batch([_ups(ANN if n % 2 else BOB, 500, start=500 * n) for n in range(12)])
    assert index.count("turns", ANN) == 3000 and index.count("turns", BOB) == 3000
    index.close()


def test_a_write_that_fails_stays_queued_and_lands_when_the_server_is_back(tmp_path):
    """The Chroma server goes away with writes queued: the next read says so (a StoreError
    naming the server, as often as it is asked), nothing is dropped, and once the server is back
    on its directory the writes land by themselves, in order."""
    import time

    import chromadb
    import servers

    root = tmp_path / "server"
    with servers.chroma_server(root) as (host, port):
        index = WriteBehindVectorIndex(ChromaVectorIndex.server(host, port))
        index.submit([_ups(ANN, 2)])
        assert index.count("turns", ANN) == 2
    index.submit([_ups(ANN, 3, start=2), _ups(BOB, 1)])
    for _ in range(2):
        with pytest.raises(StoreError, match=f"{host}:{port}"):
            index.flush()
    with servers.chroma_server(root, port=port):
        raw = chromadb.HttpClient(host=host, port=port,
                                  settings=chromadb.Settings(anonymized_telemetry=False))
        deadline = time.monotonic() + 30  # the writer tries again by itself: nobody asks here
        while raw.get_collection("kindred_turns").count() < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert raw.get_collection("kindred_turns").count() == 6
        assert index.count("turns", ANN) == 5 and index.count("turns", BOB) == 1
        index.close()


class _CountingIndex:
    """The real Chroma index, counting the batches handed to it (a test fake over a real
    store: only the count is added)."""

    def __init__(self, inner) -> None:
        self.inner, self.batches = inner, []
        self.collections = inner.collections

    def batch(self, ops):
        self.batches.append([op.collection for op in ops])
        return self.inner.batch(ops)

    def close(self) -> None:
        self.inner.close()


def test_writes_that_come_within_the_linger_are_one_batch_grouped_by_collection(tmp_path):
    """Chroma's embedded upsert holds the GIL for ~9 ms whatever its size: the writer waits out
    a short linger and writes what came meanwhile together, one run per collection."""
    import time

    counting = _CountingIndex(ChromaVectorIndex.embedded(tmp_path / "chroma"))
    index = WriteBehindVectorIndex(counting, linger_s=0.5)
    for n in range(4):  # one turn after another: its turns, then its trait
        index.submit([_ups(ANN, 2, start=2 * n)])
        index.submit([_ups(ANN, 1, start=n, collection="traits")])
    deadline = time.monotonic() + 10
    while not counting.batches and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counting.batches == [["traits"] * 4 + ["turns"] * 4]
    assert index.count("turns", ANN) == 8 and index.count("traits", ANN) == 4
    index.close()


def test_a_read_does_not_wait_out_the_linger(tmp_path):
    import time

    index = WriteBehindVectorIndex(ChromaVectorIndex.embedded(tmp_path / "chroma"), linger_s=60)
    index.submit([_ups(BOB, 3)])
    started = time.monotonic()
    assert index.count("turns", BOB) == 3  # the reader applies the queue itself
    assert time.monotonic() - started < 30
    index.submit([_ups(BOB, 1, start=3)])
    index.close()  # and closing does not wait a minute either
    assert time.monotonic() - started < 30
    reopened = ChromaVectorIndex.embedded(tmp_path / "chroma")
    assert reopened.count("turns", BOB) == 4
    reopened.close()
