"""Which vector items this process wrote, per scope, since the scope's lock last let go.

Why: replicas sharing a Chroma server learn from the scope lock that another replica wrote a
user (:mod:`memory.locks`), and each brings its copies of that user's vectors up to date before
it uses them: a listing of the collection on the server, then the vectors it lacks. Told only
"the user changed", a replica listed turns, events and traits after every turn of the other
one, though a turn writes turns and seldom an event or a trait: two of its five Chroma calls
were for nothing, and the turns' listing grew with the user's history. The holder of the lock
says which items it wrote (the store keeps the last holders' lists with the scope's version), and
a replica fetches just those.

Every write passes through this layer (it sits on top of the index), so what it reports is
every item the process wrote, by any path; a write made outside a hold is reported at the
scope's next release by this process, when its version also changes. A collection with more
than :data:`MAX_IDS` items written (a bulk ingest), or emptied of the scope, is reported as None:
a reader lists it instead.
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

__all__ = ["MAX_IDS", "WrittenVectorIndex"]

_WRITES = (UpsertVectors, DeleteVectors, UpdateVectorMetadata)
#: past this many items of one collection in one report, "any" (the store keeps a few reports)
MAX_IDS = 256


def _ids(op: Any) -> tuple[str, ...] | None:
    if isinstance(op, UpdateVectorMetadata):
        return (op.id,)
    return op.ids  # a DeleteVectors of the whole scope: None


class WrittenVectorIndex(VectorIndexLayer):
    """``inner``, noting the items each scope's writes went to (:meth:`take_written`)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self._written: dict[str, dict[str, set[str] | None]] = {}
        self._guard = threading.Lock()

    def _note(self, ops: Sequence[Any]) -> None:
        writes = [op for op in ops if isinstance(op, _WRITES)]
        if writes:
            with self._guard:
                for op in writes:
                    written = self._written.setdefault(op.scope.key, {})
                    ids = _ids(op)
                    held = written.get(op.collection, set())
                    if ids is None or held is None or len(held) + len(ids) > MAX_IDS:
                        written[op.collection] = None
                    else:
                        held.update(ids)
                        written[op.collection] = held

    def batch(self, ops):
        self._note(ops)  # before: a write that fails part-way may still have landed
        return self.inner.batch(ops)

    def submit(self, ops) -> None:
        ops = list(ops)
        self._note(ops)
        super().submit(ops)

    def take_written(self, scope: Scope) -> dict[str, frozenset[str] | None]:
        """The items written in ``scope`` since the last call for it, by collection (None: too
        many, or all of the scope's), then forgotten."""
        with self._guard:
            written = self._written.pop(scope.key, {})
        return {name: None if ids is None else frozenset(ids) for name, ids in written.items()}
