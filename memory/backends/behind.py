"""Vector writes behind the reply: a turn's upserts go to a writer thread, which hands the index
everything waiting as one batch.

Why: an embedded Chroma upsert costs about 8 ms of CPU and eight fsyncs whatever its size
(measured: 200 upserts of two vectors, 14 ms wall each), and a chat turn made two or three of
them before it answered. The vectors are derived data: the record store is the log, written
before them, and repair derives any vector a crash left unwritten (:mod:`agent.repair`). So a
turn's vector writes need not hold up its reply; queued, the writes of turns that come together
(several users at once) reach Chroma as one call per collection.

What stays exact: every read of the index (queries, gets, counts) and every direct write first
waits for what was submitted before it (read your writes); the in-process copies above
(:mod:`memory.backends.cached`, :mod:`memory.hot`) are updated when a write is submitted;
:mod:`memory.locks` waits for a user's writes before it lets another replica have that user;
closing waits for everything. A write that fails stays queued and is tried again every second,
and by the next read, write or flush, whose caller gets the failure as a
:class:`~memory.errors.StoreError` (``/ready`` does too) until it succeeds.
"""

from __future__ import annotations

import threading
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


class WriteBehindVectorIndex(VectorIndexLayer):
    """``inner`` with :meth:`submit` writes applied by a writer thread (see the module
    docstring); :meth:`batch` stays synchronous."""

    def __init__(self, inner: VectorIndex) -> None:
        super().__init__(inner)
        self._pending: list[Any] = []
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
            self._pending.extend(ops)
            self._submitted += len(ops)
            self._cond.notify_all()

    def flush(self) -> None:
        """Return once every write submitted so far is applied; raise the failure if one of them
        cannot be (it stays queued)."""
        with self._cond:
            target = self._submitted
            while self._done < target:
                if self._failure is not None and not self._running:
                    self._running = True
                    break  # the writer waits after a failure: this caller tries again
                self._cond.wait(timeout=_RETRY_S)
            else:
                return
        self._drain()  # raises if it fails again
        self.flush()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._pending or self._running):
                    self._cond.wait()
                if self._closed and (not self._pending or self._failure is not None):
                    return  # done, or closing with a failure (close() has raised it)
                if self._running:
                    continue
                if self._failure is not None:  # try again by itself, once a second
                    self._cond.wait(timeout=_RETRY_S)
                    if self._running or not self._pending or self._closed:
                        continue
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
            self.inner.batch(ops)
        except Exception as exc:  # a bug below must not stop the writer for good: kept, raised
            failure = exc if isinstance(exc, StoreError) else StoreError(
                f"Writing vectors failed: {type(exc).__name__}: {exc}")
            with self._cond:
                self._pending[:0] = ops  # first again, in order
                self._failure = failure
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
