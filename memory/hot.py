"""A per-user, in-process copy of turn vectors for flat dense search.

Why: a filtered Chroma query plus fetching the vectors of BM25 candidates and neighbours cost
~100 ms per query at a few thousand turns; a user's turns fit in a small matrix (10,000 × 384
float32 = 15 MB), and one matrix product over it takes about a millisecond. Chroma stays the
durable store (and the only one shared between processes): the cache is filled from it on first
use, appended to as turns are stored through this process, bounded to the most recently used
users, and dropped on ``forget``. The search is exhaustive (no approximate index); the turn
copies hold their vectors as int8 by default (``StorageConfig.hot_vectors``), a quarter of the
memory, since they grow with every message a server stores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from memory.blocks import VectorBlocks
from memory.striped import StaleCopy, StripedCache

__all__ = ["HotVectors", "UserVectors"]


class UserVectors(StaleCopy):
    """One user's turn vectors and metadata, growable."""

    def __init__(self, dim: int, *, quantized: bool = False) -> None:
        super().__init__()  # another process wrote the user: catch up before the next use
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.meta: list[Mapping[str, Any]] = []
        self.texts: list[str] = []
        # in blocks that never move; quantized: int8, a quarter of the memory (memory.blocks)
        self._vectors = VectorBlocks(dim, quantized=quantized)
        self.sessions = np.zeros(64, dtype=object)
        # vectors of the parts of long turns past their own vector's window (memory.text)
        self._pieces = VectorBlocks(dim, block=16, quantized=quantized)
        self._piece_of: list[int] = []               # row of the turn each piece belongs to
        self._pieces_of: dict[int, list[int]] = {}   # turn row -> its piece rows

    def vectors(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """A copy of the given rows' vectors (None: every turn's), in that order."""
        return self._vectors.array() if rows is None else self._vectors.take(rows)

    def put_pieces(self, owners: Sequence[str], vectors: np.ndarray) -> None:
        """Add piece vectors of turns already put (``owners``: each piece's turn id). Pieces of
        a turn that has its pieces already are ignored (a retried turn stores the same ones; an
        edited turn's copy is dropped), and so are those of a turn this copy does not hold."""
        rows = [(self.pos[tid], vec) for tid, vec in zip(owners, vectors, strict=True)
                if tid in self.pos and self.pos[tid] not in self._pieces_of]
        if not rows:
            return
        for at, _ in rows:
            self._pieces_of.setdefault(at, []).append(len(self._piece_of))
            self._piece_of.append(at)
        self._pieces.append(np.stack([vec for _, vec in rows]))

    def similarities(self, query: np.ndarray, rows: Sequence[int] | None = None,
                     piece_margin: float = 0.0) -> np.ndarray:
        """Cosine of ``query`` with every turn (or the given rows): a long turn's is the best of
        its own vector's and its pieces' less ``piece_margin`` (1 or more: its own only)."""
        use_pieces = bool(self._piece_of) and piece_margin < 1.0
        if rows is None:
            sims = self._vectors.dot(query)
            if use_pieces:
                np.maximum.at(sims, np.asarray(self._piece_of),
                              self._pieces.dot(query) - piece_margin)
            return sims
        sims = self._vectors.take(rows) @ query if rows else np.zeros(0)
        for i, at in enumerate(rows):
            extra = self._pieces_of.get(at) if use_pieces else None
            if extra:
                best = float(np.max(self._pieces.take(extra) @ query)) - piece_margin
                sims[i] = max(float(sims[i]), best)
        return sims

    def put(self, ids: Sequence[str], vectors: np.ndarray, metas: Sequence[Mapping[str, Any]],
            texts: Sequence[str]) -> None:
        for tid, vec, meta, text in zip(ids, vectors, metas, texts, strict=True):
            at = self.pos.get(tid)
            if at is None:
                at = len(self.ids)
                if at == len(self.sessions):  # 8 bytes a turn: doubling it costs little
                    self.sessions = np.concatenate([self.sessions, np.zeros_like(self.sessions)])
                self.ids.append(tid)
                self.meta.append(meta)
                self.texts.append(text)
                self.pos[tid] = at
                self._vectors.append(vec)
            else:
                self.meta[at], self.texts[at] = meta, text
                self._vectors[at] = vec
            self.sessions[at] = meta.get("session_id")

    def top(self, query: np.ndarray, k: int, exclude_session: str | None = None,
            piece_margin: float = 0.0) -> list[tuple[int, float]]:
        """Indices and cosines of the ``k`` nearest turns (exact), nearest first."""
        n = len(self.ids)
        if n == 0 or k <= 0:
            return []
        sims = self.similarities(query, piece_margin=piece_margin)
        if exclude_session is not None:
            sims = np.where(self.sessions[:n] == exclude_session, -np.inf, sims)
        k = min(k, n)
        idx = np.argpartition(-sims, k - 1)[:k]
        idx = idx[np.argsort(-sims[idx], kind="stable")]
        return [(int(i), float(sims[i])) for i in idx if np.isfinite(sims[i])]


class HotVectors:
    """The cache: at most ``max_users`` users, least recently used dropped first; ``quantized``:
    vectors held as int8 (:class:`~memory.blocks.VectorBlocks`), cosines within about 2e-3."""

    def __init__(self, dim: int, *, max_users: int = 64, quantized: bool = False) -> None:
        self.dim, self.max_users, self.quantized = dim, max_users, quantized
        self._users = StripedCache(max_users)  # a load holds its user's stripe only

    def get(self, user_id: str, load: Callable[[], list[dict]],
            expected: int | None = None,
            catch_up: Callable[[UserVectors], bool] | None = None) -> UserVectors:
        """The user's vectors, loading them with ``load()`` (id, text, metadata, vector and,
        for a long turn, ``pieces``: its pieces' vectors) if cold,
        or again when the durable store holds ``expected`` items and the copy does not (another
        process stored some meanwhile). A load holds this user's stripe, not the whole cache.
        ``expected`` 0 is an empty copy without a load (on a replica, where another replica's
        write drops the copies, a user with no corrections cost a network read every turn).
        A stale copy, or one whose count differs, is first offered to ``catch_up``, which may
        fetch only what it lacks."""

        def fresh() -> UserVectors:
            items = load() if expected != 0 else []  # nothing stored: nothing to fetch
            uv = UserVectors(self.dim, quantized=self.quantized)
            items.sort(key=lambda i: (i["metadata"].get("ts", 0.0), i["metadata"].get("idx", 0)))
            if items:
                uv.put([i["id"] for i in items], np.stack([i["vector"] for i in items]),
                       [i["metadata"] for i in items], [i["text"] for i in items])
                pieces = [(i["id"], v) for i in items for v in i.get("pieces", ())]
                if pieces:
                    uv.put_pieces([o for o, _ in pieces], np.stack([v for _, v in pieces]))
            return uv

        return self._users.get(
            user_id, fresh, lambda uv: not uv.stale and (expected is None or len(uv.ids) == expected),
            catch_up)

    def mark_stale(self, user_id: str, ids: frozenset[str] | None = None) -> None:
        """Another process wrote the user (the turns ``ids``; None: unknown): the copy catches
        up on its next use (``get``'s ``catch_up``), or is loaded again without one."""
        with self._users.stripe(user_id):
            found = self._users.peek(user_id)
            if found is not None:
                found.mark_behind(ids)

    def added(self, user_id: str, ids: Sequence[str], vectors: np.ndarray,
              metas: Sequence[Mapping[str, Any]], texts: Sequence[str],
              pieces: tuple[Sequence[str], np.ndarray] | None = None) -> None:
        """Keep a cached user in step with what was just stored (a cold user loads later);
        ``pieces``: the owning turn ids and vectors of long turns' pieces."""
        with self._users.stripe(user_id):
            found = self._users.peek(user_id)
            if found is not None:
                found.put(ids, vectors, metas, texts)
                if pieces is not None and len(pieces[0]):
                    found.put_pieces(*pieces)

    def drop(self, user_id: str) -> None:
        self._users.pop(user_id)
