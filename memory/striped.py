"""Striped locks: a lock per key without a lock per key.

Why: the in-process copies of a user's vectors (:mod:`memory.hot`, :mod:`memory.backends.cached`)
load a cold user from the stores below, which on the server backends is a network call of
milliseconds, and on a replica happens on every turn that another replica's write made stale.
Under one lock for the whole cache every other user's turn waited for that load (py-spy of a
replica under 50 users: a third of its samples waiting on those two locks). With stripes a load
holds only its own key's stripe; the cache's dictionary is guarded by a short lock of its own.
Lock order: a stripe first, then the dictionary's lock, never the other way round; both caches
get it from :class:`StripedCache`, which owns that order. Both caches' copies also say how far
another process has left them behind the same way (:class:`StaleCopy`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

__all__ = ["StaleCopy", "StripedCache", "StripedLocks"]


class StaleCopy:
    """An in-process copy of one user's items that another process may have outgrown: current,
    behind by known ids (``stale_ids``: fetch just those), or behind by unknown ones
    (``stale_ids`` None: list what the store holds). Change it holding the copy's stripe."""

    def __init__(self) -> None:
        self.stale = False
        self.stale_ids: set[str] | None = set()

    def mark_behind(self, ids: frozenset[str] | None) -> None:
        """Another process wrote ``ids`` (None: unknown which) since the copy was current."""
        if ids is None or self.stale_ids is None:
            self.stale_ids = None
        elif self.stale:
            self.stale_ids |= ids
        else:
            self.stale_ids = set(ids)
        self.stale = True

    def caught_up(self) -> None:
        self.stale, self.stale_ids = False, set()


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


class StripedCache:
    """At most ``max_items`` values by key, the least recently used dropped first; a missing (or
    no longer ``valid``) value is loaded holding only its key's stripe. Whoever changes a cached
    value in place holds :meth:`stripe` of its key, so no load of that key finishes meanwhile."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.RLock()  # the dictionary only, never held over a load
        self._stripes = StripedLocks()

    def stripe(self, key: Hashable) -> threading.RLock:
        return self._stripes.of(key)

    def get(self, key: Hashable, load: Callable[[], Any],
            valid: Callable[[Any], bool] = lambda value: True,
            refresh: Callable[[Any], bool] | None = None) -> Any:
        """The value of ``key``, loaded with ``load()`` when missing or not ``valid``; a cached
        value that is not valid is first offered to ``refresh``, which may bring it up to date
        in place (returning True) more cheaply than a load."""
        with self.stripe(key):
            with self._lock:
                found = self._items.get(key)
                if found is not None and valid(found):
                    self._items.move_to_end(key)
                    return found
            if found is not None and refresh is not None and refresh(found) and valid(found):
                value = found
            else:
                value = load()
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
            return value

    def peek(self, key: Hashable) -> Any:
        """The cached value of ``key`` or None, without loading (hold its stripe to change it)."""
        with self._lock:
            return self._items.get(key)

    def pop(self, key: Hashable) -> None:
        with self.stripe(key), self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        """Empty (every stripe held: no load may finish and put back what was there)."""
        with self._stripes.all(), self._lock:
            self._items.clear()
