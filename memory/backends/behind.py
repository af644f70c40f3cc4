"""Vector writes behind the reply: a turn's upserts go to a writer thread, which hands the index
what queued over a short while as one batch, one call per collection.

Why: an embedded Chroma upsert costs about 8 ms of CPU and eight fsyncs whatever its size
(measured: 200 upserts of two vectors, 14 ms wall each), and a chat turn made two or three of
them before it answered. The vectors are derived data: the record store is the log, written
before them, and repair derives any vector a crash left unwritten (:mod:`agent.repair`). So a
turn's vector writes need not hold up its reply.

Why the writer lingers (``linger_s``, 0.2 s) before it writes: Chroma's embedded client holds
the GIL for the whole upsert (measured: a Python loop ran at 0.34 of its speed beside a thread
doing upserts), so a write behind still stopped every other thread of the process for its 8-9
ms; drained as soon as each turn queued it, the writes of back-to-back turns took about a third
of a turn's wall time (a py-spy of ``benchmarks/turn_overhead.py``). Gathered for a moment, the
writes of several turns (and users) cost about what one of them did: 1 row 9 ms, 10 rows 22 ms.
Writes to different collections are independent, so a batch is grouped by collection (each
collection's writes keep their order) and every collection's upserts become one call.

What stays exact: every read of the index (queries, gets, counts) and every direct write first
applies what was submitted before it (read your writes; the caller does it at once, without
waiting out the linger); the in-process copies above (:mod:`memory.backends.cached`,
:mod:`memory.hot`) are updated when a write is submitted; :mod:`memory.locks` waits for a
user's writes before it lets another replica have that user; closing waits for everything. A
write that fails stays queued and is tried again every second, and by the next read, write or
flush, whose caller gets the failure as a :class:`~memory.errors.StoreError` (``/ready`` does
too) until it succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from memory.backends.base import (
    DeleteVectors,
    UpdateVectorMetadata,
    UpsertVectors,
    VectorIndex,
    VectorIndexLayer,
)
from memory.errors import StoreError

__all__ = ["WriteBehindVectorIndex"]

_WRITES = (UpsertVectors, DeleteVectors, UpdateVectorMetadata)
_RETRY_S = 1.0  # a failed write is tried again this often, and by any caller that must wait
_LINGER_S = 0.2  # what queues within this long after a write is written with it
_LINGER_OPS = 512  # ...unless this many writes are waiting (a bulk ingest): written at once


class WriteBehindVectorIndex(VectorIndexLayer):
    """``inner`` with :meth:`submit` writes applied by a writer thread (see the module
    docstring); :meth:`batch` stays synchronous."""

    def __init__(self, inner: VectorIndex, *, linger_s: float = _LINGER_S) -> None:
        super().__init__(inner)
        self._linger_s = linger_s
        self._pending: list[Any] = []
        self._since = 0.0  # monotonic time of the oldest queued write, or of the last failure
        self._submitted = 0  # ops ever submitted
        self._done = 0  # ops ever applied
        self._failure: StoreError | None = None
        self._closed = False
        self._running = False  # one drain at a time, by the writer or a flushing caller
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="kindred-vector-writer",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ writes behind
    def submit(self, ops: Sequence[Any]) -> None:
        """Queue writes; they are applied in order, after every write submitted before."""
        ops = list(ops)
        if not ops:
            return
        if any(not isinstance(op, _WRITES) for op in ops):
            raise StoreError("Only vector writes can be written behind; run reads with batch().")
        with self._cond:
            if self._closed:
                raise StoreError("The vector index is closed: open a new Kindred on the data dir.")
            first = not self._pending
            if first:
                self._since = time.monotonic()
            self._pending.extend(ops)
            self._submitted += len(ops)
            if first or len(self._pending) >= _LINGER_OPS:
                self._cond.notify_all()  # the writer starts its linger, or writes at once

    def flush(self) -> None:
        """Return once every write submitted so far is applied; raise the failure if one of them
        cannot be (it stays queued). What the writer is not applying yet, the caller applies."""
        with self._cond:
            target = self._submitted
        while True:
            with self._cond:
                if self._done >= target:
                    return
                if self._running:  # the writer is at it: wait for its outcome
                    self._cond.wait(timeout=_RETRY_S)
                    continue
                self._running = True
            self._drain()  # raises if it fails (again)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed and (not self._pending or self._failure is not None):
                        return  # done, or closing with a failure (close() has raised it)
                    if self._pending and not self._running:
                        pause = _RETRY_S if self._failure is not None else self._linger_s
                        wait = self._since + pause - time.monotonic()
                        if wait <= 0 or self._closed or len(self._pending) >= _LINGER_OPS:
                            break
                        self._cond.wait(timeout=wait)
                    else:
                        self._cond.wait()
                self._running = True
            try:
                self._drain()
            except StoreError:
                pass  # kept in _failure, raised to the next flushing caller

    def _drain(self) -> None:
        """Apply everything queued as one batch (called with ``_running`` set)."""
        with self._cond:
            ops, self._pending = self._pending, []
        try:
            self.inner.batch(_by_collection(ops))
        except Exception as exc:  # a bug below must not stop the writer for good: kept, raised
            failure = exc if isinstance(exc, StoreError) else StoreError(
                f"Writing vectors failed: {type(exc).__name__}: {exc}")
            with self._cond:
                self._pending[:0] = ops  # first again, in order
                self._failure = failure
                self._since = time.monotonic()
                self._running = False
                self._cond.notify_all()
            if failure is exc:
                raise
            raise failure from exc
        with self._cond:
            self._done += len(ops)
            self._failure = None
            self._running = False
            self._cond.notify_all()

    # ------------------------------------------------------------------ the interface
    def batch(self, ops):
        self.flush()
        return self.inner.batch(ops)

    def reset(self) -> None:
        self.flush()
        self.inner.reset()

    def purge(self, *, vacuum: bool = False) -> None:
        self.flush()
        self.inner.purge(vacuum=vacuum)

    def close(self) -> None:
        """Apply what is queued, stop the writer, close the index. Safe to call twice."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join(timeout=30)
            self.inner.close()


def _by_collection(ops: Sequence[Any]) -> list[Any]:
    """``ops`` grouped by collection, each collection's in their order: writes to two
    collections never touch the same item, so only the order within one matters, and the index
    below makes one call of a collection's consecutive upserts."""
    return sorted(ops, key=lambda op: op.collection)  # sorted() is stable
