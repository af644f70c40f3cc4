"""One user's turns run one at a time, in this process and across replicas.

Why two levels: threads of one process queue on a plain lock (cheap, and it keeps one process
from holding several database connections for one user); processes sharing a record store queue
on the store's scope lock (PostgreSQL: an advisory lock held for the whole turn). A user's
conversations share their long-term memory, so the key is the user (the scope), not the thread.

The scope lock also says whether the scope changed behind this process: the store keeps a version
per scope, raised by every process that held it; a process that finds another version than the one
it left marks its caches of that scope stale (the in-process vectors of turns, events and traits
fetch what they lack before their next use; corrections are dropped), so a replica never answers
from a copy another replica has outgrown. Each holder also tells the store which vector items it
wrote (``ScopeHold.wrote``), and a copy is told which of its items to fetch: a turn on the other
replica writes two turns, seldom an event or a trait, and listing all of the user's turns, events
and traits on the Chroma server to find them cost every turn three network reads that grew with
the user's history. Where the store cannot say (an older writer, a forgotten scope, a reader too
far behind), every copy lists what it holds. On an embedded store the version
is None: one process owns the store and its caches are always current. On a shared store the
turn's vector writes (written behind the reply, :mod:`memory.backends.behind`) land before the
lock is let go, so the next holder finds them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from memory.backends.base import Changes, RecordStore, ScopeHold
from memory.scope import Scope

__all__ = ["ScopeLocks", "checked_by_lock"]

#: the scope whose lock this context holds on a shared store (its version checked when taken)
_HELD: ContextVar[str | None] = ContextVar("kindred_held_scope", default=None)


def checked_by_lock(scope: Scope) -> bool:
    """True while this context holds ``scope``'s lock on a shared store: its copies were
    checked against the scope's version when the lock was taken, and no other process writes
    the scope until it is let go, so a copy needs no count of its own to know it is current
    (each a round trip a turn on PostgreSQL). Outside a hold (a read that takes no lock, the
    memory layer used without :class:`ScopeLocks`) and on an embedded store the copies count."""
    return _HELD.get() == scope.key


def _release_mark(token) -> None:
    """Undo the hold's mark. A turn streamed to an async caller is a generator resumed in
    another context than the one it started in, where the token cannot be reset: the mark is
    cleared there, and what stays in the first context (a copy made for one call) can only
    skip a count on a store whose version every entry of :class:`agent.Kindred` checks."""
    try:
        _HELD.reset(token)
    except ValueError:  # the token belongs to the context the hold began in
        _HELD.set(None)


class ScopeLocks:
    """Per-scope locks over ``records``; ``on_stale(scope, changes)`` marks the scope's caches
    behind (``changes``: the vector items written meanwhile, by collection; None: unknown), and
    ``written(scope)`` says what this process wrote in the scope since it last asked."""

    def __init__(self, records: RecordStore, on_stale: Callable[[Scope, Changes | None], None],
                 flush: Callable[[], None] = lambda: None,
                 written: Callable[[Scope], Changes | None] = lambda scope: None) -> None:
        self._records, self._on_stale, self._flush = records, on_stale, flush
        self._written = written
        self._locks: dict[str, threading.Lock] = {}
        self._seen: dict[str, int] = {}
        self._guard = threading.Lock()

    def _thread_lock(self, scope: Scope) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(scope.key, threading.Lock())

    @contextmanager
    def hold(self, scope: Scope) -> Iterator[None]:
        """The scope to this caller alone, for the block (see the module docstring)."""
        with self._thread_lock(scope):
            with self._records.scope_lock(scope) as hold:
                self._check(scope, hold)
                token = _HELD.set(scope.key if hold.version is not None else None)
                try:
                    yield
                finally:
                    _release_mark(token)
                if hold.version is not None:  # shared: another replica may have it next
                    # taken before the flush, so every write reported has landed when the lock
                    # goes (one submitted meanwhile by another thread is reported next time)
                    hold.wrote = self._written(scope)
                    self._flush()
            if hold.after is not None:
                with self._guard:
                    self._seen[scope.key] = hold.after  # this process's own writes are cached

    def sync(self, scope: Scope) -> None:
        """Mark the scope's caches stale if another process changed it (reads that take no
        lock; they do not learn what changed, so every copy is marked)."""
        self._check(scope, ScopeHold(self._records.scope_version(scope)))

    def _check(self, scope: Scope, hold: ScopeHold) -> None:
        if hold.version is None:
            return
        with self._guard:
            seen = self._seen.get(scope.key)
            self._seen[scope.key] = hold.version
        if seen != hold.version:
            self._on_stale(scope, hold.changed_since(seen))
