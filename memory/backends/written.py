"""Which vector collections this process wrote, per scope, since the scope's lock last let go.

Why: replicas sharing a Chroma server learn from the scope lock that another replica wrote a
user (:mod:`memory.locks`), and each brings its copies of that user's vectors up to date before
it uses them: a listing of the collection on the server, then the vectors it lacks. Told only
"the user changed", a replica listed turns, events and traits after every turn of the other
one, though a turn writes turns and seldom an event or a trait: two of its five Chroma calls
were for nothing. The holder of the lock says which collections it wrote (the store keeps it
with the scope's version), and a replica catches up only on those.

Every write passes through this layer (it sits on top of the index), so what it reports is
every collection the process wrote, by any path; a write made outside a hold is reported at the
scope's next release by this process, when its version also changes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from memory.backends.base import (
    DeleteVectors,
    UpdateVectorMetadata,
    UpsertVectors,
    VectorIndexLayer,
)
from memory.scope import Scope

__all__ = ["WrittenVectorIndex"]

_WRITES = (UpsertVectors, DeleteVectors, UpdateVectorMetadata)


class WrittenVectorIndex(VectorIndexLayer):
    """``inner``, noting the collections each scope's writes went to (:meth:`take_written`)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self._written: dict[str, set[str]] = {}
        self._guard = threading.Lock()

    def _note(self, ops: Sequence[Any]) -> None:
        writes = [op for op in ops if isinstance(op, _WRITES)]
        if writes:
            with self._guard:
                for op in writes:
                    self._written.setdefault(op.scope.key, set()).add(op.collection)

    def batch(self, ops):
        self._note(ops)  # before: a write that fails part-way may still have landed
        return self.inner.batch(ops)

    def submit(self, ops) -> None:
        ops = list(ops)
        self._note(ops)
        super().submit(ops)

    def take_written(self, scope: Scope) -> frozenset[str]:
        """The collections written in ``scope`` since the last call for it (then forgotten)."""
        with self._guard:
            return frozenset(self._written.pop(scope.key, ()))
