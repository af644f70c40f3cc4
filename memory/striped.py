"""Striped locks: a lock per key without a lock per key.

Why: the in-process copies of a user's vectors (:mod:`memory.hot`, :mod:`memory.backends.cached`)
load a cold user from the stores below, which on the server backends is a network call of
milliseconds, and on a replica happens on every turn that another replica's write made stale.
Under one lock for the whole cache every other user's turn waited for that load (py-spy of a
replica under 50 users: a third of its samples waiting on those two locks). With stripes a load
holds only its own key's stripe; the cache's dictionary is guarded by a short lock of its own.
Lock order: a stripe first, then the dictionary's lock, never the other way round.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import ExitStack, contextmanager

__all__ = ["StripedLocks"]


class StripedLocks:
    """``n`` re-entrant locks; a key always maps to the same one (keys may share a stripe)."""

    def __init__(self, n: int = 64) -> None:
        self._locks = [threading.RLock() for _ in range(n)]

    def of(self, key: Hashable) -> threading.RLock:
        """The lock of ``key``."""
        return self._locks[hash(key) % len(self._locks)]

    @contextmanager
    def all(self) -> Iterator[None]:
        """Every stripe, taken in one fixed order (a reset: no load may finish meanwhile)."""
        with ExitStack() as stack:
            for lock in self._locks:
                stack.enter_context(lock)
            yield
