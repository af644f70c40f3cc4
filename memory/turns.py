"""The raw-turn index: every utterance, kept verbatim, searchable by meaning and by words.

Why raw turns as well as event summaries: LongMemEval found that summary-only keys lose recall
(session Recall@5 0.572 with summaries vs 0.706 with the raw session). A turn is a record (what
was said), lexical rows (BM25) and a vector, written as one unit (:mod:`memory.unit`). Dense search
runs over a per-user in-process copy of the vectors (:mod:`memory.hot`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memory.backends import Stores
from memory.backends.base import LexicalHit, Record, VectorHit
from memory.embeddings import Embedder
from memory.hot import HotVectors
from memory.locks import checked_by_lock
from memory.scope import Scope, as_scope
from memory.text import MAX_PIECES, PIECE_CHARS, digest, tail_pieces
from memory.types import Turn
from memory.unit import UnitOfWork

__all__ = ["TurnIndex"]

_KIND = "turn"
_PIECES = "pieces"  # vectors of long turns' later parts, each keyed by its turn (``turn_id``)


class TurnIndex:
    """Stores turns (records, lexical rows, vectors) and finds them again."""

    def __init__(self, stores: Stores, embedder: Embedder, *, hot_users: int = 64,
                 max_pieces: int = MAX_PIECES, hot_quantized: bool = True) -> None:
        self._stores, self._embedder = stores, embedder
        self.max_pieces = max_pieces  # a long turn's vectors past its first (memory.text)
        self.hot = HotVectors(embedder.dim, max_users=hot_users, quantized=hot_quantized)

    def add(self, who: Scope | str, turns: Sequence[Turn], vectors: np.ndarray | None = None,
            *, unit: UnitOfWork | None = None) -> None:
        """Store turns of one user (embedded in one batch unless ``vectors`` are given). With
        ``unit`` the writes join that unit of work; otherwise they are committed now."""
        if not turns:
            return
        scope = as_scope(who)
        pieces = [(t, pid, key) for t in turns for pid, key in self.pieces_of(t)]
        keys = [key for _, _, key in pieces]
        if vectors is None:
            both = self._embedder.embed([self.key_text(t) for t in turns] + keys)
            vectors, piece_vectors = both[:len(turns)], both[len(turns):]
        else:
            piece_vectors = self._embedder.embed(keys) if keys else None
        own = unit is None
        unit = unit or UnitOfWork(self._stores)
        metas = [self._meta(t) for t in turns]
        ids, texts = [t.id for t in turns], [t.text for t in turns]
        unit.put(scope, [self.record(t) for t in turns])
        unit.index_text(scope, [(t.id, self.key_text(t), ctx)
                                for t, ctx in zip(turns, self._contexts(scope, turns), strict=True)])
        unit.upsert_vectors("turns", scope, ids, vectors, [self._keys(t) for t in turns])
        owners = [t.id for t, _, _ in pieces]
        if pieces:
            unit.upsert_vectors(_PIECES, scope, [pid for _, pid, _ in pieces],
                                piece_vectors, [{**self._keys(t), "turn_id": t.id}
                                                for t, _, _ in pieces])
        unit.then(lambda: self.hot.added(scope.key, ids, vectors, metas, texts,
                                         (owners, piece_vectors) if pieces else None))
        if own:
            unit.commit()

    def pieces_of(self, turn: Turn) -> list[tuple[str, str]]:
        """Id and embedded key of each part of a long turn past its own vector's window
        (:func:`memory.text.tail_pieces`; the key: the speaker's name and the piece)."""
        return [(self.piece_id(turn.id, n), key)
                for n, key in enumerate(self.keys_of(turn.speaker, turn.text)[1:], 1)]

    @staticmethod
    def piece_id(turn_id: str, n: int) -> str:
        """The id of a turn's ``n``-th piece (from 1): derived, so a retry overwrites it."""
        return f"{turn_id}#p{n}"

    def piece_ids(self, turn_id: str) -> list[str]:
        """Every id a piece of the turn may have (deletes need no look-up)."""
        return [self.piece_id(turn_id, n) for n in range(1, max(self.max_pieces, MAX_PIECES) + 1)]

    @staticmethod
    def record(turn: Turn) -> Record:
        return Record(_KIND, turn.id, {"role": turn.role, "speaker": turn.speaker,
                                      "text": turn.text, "topics": list(turn.topics)},
                      ts=turn.ts, session=turn.session_id, seq=turn.idx,
                      conversation=turn.conversation)

    def _user_vectors(self, scope: Scope, *, fresh: bool = False):
        """The user's cached vectors; reloaded when another process stored turns meanwhile
        (``fresh``: the caller has just checked, within the same query; or the scope's lock
        has, :func:`memory.locks.checked_by_lock`)."""
        checked = fresh or checked_by_lock(scope)
        return self.hot.get(scope.key, lambda: self._load(scope),
                            None if checked else self.count(scope),
                            lambda uv: self._catch_up(scope, uv))

    def _catch_up(self, scope: Scope, uv) -> bool:
        """Bring the user's copy up to date with what other processes stored, fetching only
        the new turns (records, vectors, pieces); False (load it all again) when a turn was
        deleted or stored with new words under its id.

        Why: on replicas every turn of a user may follow another replica's turn; reloading
        every vector of the user each time was most of a replica's Chroma server traffic. When
        the scope lock said which turns were written (``uv.stale_ids``), only those are read;
        otherwise the user's turns are listed (ids and keys, no vectors) to find them."""
        if uv.stale and uv.stale_ids is not None:
            if any(tid in uv.pos for tid in uv.stale_ids):  # edited or deleted: load again
                return False
            new = list(uv.stale_ids)
        else:
            listed = {i["id"]: i["metadata"] for i in self._stores.vectors.get("turns", scope)}
            if any(tid not in listed for tid in uv.ids):
                return False
            for tid, keys in listed.items():
                at = uv.pos.get(tid)
                if at is not None and keys.get("digest") not in (None, uv.meta[at].get("digest")):
                    return False
            new = [tid for tid in listed if tid not in uv.pos]
        if new:
            turns = sorted(self.get(scope, new), key=lambda t: (t.ts, t.idx))
            found = {i["id"]: i["vector"] for i in self._stores.vectors.get(
                "turns", scope, [t.id for t in turns], with_vectors=True)}
            turns = [t for t in turns if t.id in found]
            if turns:
                uv.put([t.id for t in turns], np.stack([found[t.id] for t in turns]),
                       [self._meta(t) for t in turns], [t.text for t in turns])
            wanted = [pid for t in turns for pid, _ in self.pieces_of(t)]
            pieces = self._stores.vectors.get(_PIECES, scope, wanted, with_vectors=True)
            if pieces:
                uv.put_pieces([p["metadata"]["turn_id"] for p in pieces],
                              np.stack([p["vector"] for p in pieces]))
        uv.caught_up()
        return True

    def _load(self, scope: Scope) -> list[dict]:
        """The user's turns for the cache: vectors from the index, words from the records."""
        vectors = {i["id"]: i["vector"]
                   for i in self._stores.vectors.get("turns", scope, with_vectors=True)}
        turns = [self.to_turn(r) for r in self._stores.records.list(scope, _KIND)]
        pieces: dict[str, list] = {}
        if any(len(t.text) > PIECE_CHARS for t in turns):  # no read for a chat without any
            for item in self._stores.vectors.get(_PIECES, scope, with_vectors=True):
                pieces.setdefault(item["metadata"]["turn_id"], []).append(item["vector"])
        return [{"id": t.id, "text": t.text, "metadata": self._meta(t), "vector": vectors[t.id],
                 "pieces": pieces.get(t.id, [])} for t in turns if t.id in vectors]

    def _contexts(self, scope: Scope, turns: Sequence[Turn]) -> list[str]:
        """The words of the turn before each turn in its session (from the batch or the store)."""
        by_pos = {(t.session_id, t.idx): t.text for t in turns}
        out = []
        for t in turns:
            prev = by_pos.get((t.session_id, t.idx - 1))
            if prev is None and t.idx > 0:
                rows = self._stores.records.list(scope, _KIND, session=t.session_id, seq=t.idx - 1)
                prev = rows[0].value["text"] if rows else ""
            out.append(prev or "")
        return out

    def search_lexical(self, who: Scope | str, text: str, k: int) -> list[LexicalHit]:
        """Best turns of the user for ``text`` by BM25."""
        return self._stores.lexical.search(as_scope(who), text, k)

    def vectors(self, who: Scope | str, ids: Sequence[str], *, fresh: bool = False
                ) -> dict[str, tuple[np.ndarray, dict, str]]:
        """Vector, metadata and text of the given turns of the user (missing ids left out)."""
        uv = self._user_vectors(as_scope(who), fresh=fresh)
        found = [tid for tid in ids if tid in uv.pos]
        rows = [uv.pos[tid] for tid in found]
        return {tid: (vec, uv.meta[at], uv.texts[at])
                for tid, at, vec in zip(found, rows, uv.vectors(rows), strict=True)}

    def similarities(self, who: Scope | str, vector: np.ndarray, ids: Sequence[str], *,
                     fresh: bool = False, piece_margin: float = 0.0
                     ) -> dict[str, tuple[float, dict, str]]:
        """Cosine of ``vector`` with the given turns of the user (a long turn's: the best of its
        own vector and its pieces', less ``piece_margin``), with their metadata and text;
        missing ids left out."""
        uv = self._user_vectors(as_scope(who), fresh=fresh)
        found = [tid for tid in ids if tid in uv.pos]
        rows = [uv.pos[tid] for tid in found]
        sims = uv.similarities(np.asarray(vector, dtype=np.float32), rows, piece_margin)
        return {tid: (float(sim), uv.meta[at], uv.texts[at])
                for tid, at, sim in zip(found, rows, sims, strict=True)}

    def all_vectors(self, who: Scope | str) -> tuple[list[str], list[str], np.ndarray]:
        """Every stored turn of the user: ids, texts and the vector matrix (for baselines that
        search the same vectors another way)."""
        uv = self._user_vectors(as_scope(who))
        return list(uv.ids), list(uv.texts), uv.vectors()

    @staticmethod
    def key_text(turn: Turn) -> str:
        """What is embedded for a turn: the speaker's name and their words."""
        return TurnIndex.key_of(turn.speaker, turn.text)

    @staticmethod
    def key_of(speaker: str, text: str) -> str:
        """:meth:`key_text` of a turn not built yet."""
        return f"{speaker}: {text}"

    def keys_of(self, speaker: str, text: str) -> list[str]:
        """Every text embedded for a turn: its key, then its pieces' keys (a long turn)."""
        return [self.key_of(speaker, text),
                *(self.key_of(speaker, p) for p in tail_pieces(text, most=self.max_pieces))]

    @staticmethod
    def _meta(turn: Turn) -> dict:
        """What the in-process copy keeps of a turn besides its vector and words."""
        return {"session_id": turn.session_id, "role": turn.role, "speaker": turn.speaker,
                "ts": turn.ts, "idx": turn.idx, "topics": list(turn.topics),
                "digest": digest(TurnIndex.key_text(turn))}

    @staticmethod
    def _keys(turn: Turn) -> dict:
        """What the vector index keeps of a turn: no words (its nouns and speaker are words)."""
        return {"session_id": turn.session_id, "role": turn.role, "ts": turn.ts, "idx": turn.idx,
                "digest": digest(TurnIndex.key_text(turn))}

    def search(self, who: Scope | str, vector: np.ndarray, k: int,
               exclude_session: str | None = None, *, piece_margin: float = 0.0
               ) -> list[VectorHit]:
        """Nearest turns of the user (exact cosine; a long turn by its best piece, less
        ``piece_margin``), optionally leaving out one session."""
        uv = self._user_vectors(as_scope(who))
        return [VectorHit(uv.ids[i], uv.texts[i], sim, uv.meta[i])
                for i, sim in uv.top(np.asarray(vector, dtype=np.float32), k, exclude_session,
                                     piece_margin)]

    def list(self, who: Scope | str, session_id: str | None = None) -> list[Turn]:
        """A user's turns in time order (optionally of one session)."""
        return [self.to_turn(r) for r in self._stores.records.list(as_scope(who), _KIND,
                                                                   session=session_id)]

    def get(self, who: Scope | str, ids: Sequence[str]) -> list[Turn]:
        return [self.to_turn(r) for r in self._stores.records.get_many(as_scope(who), _KIND, ids)]

    def count(self, who: Scope | str) -> int:
        return self._stores.records.count(as_scope(who), _KIND)

    def delete(self, who: Scope | str, ids: Sequence[str], *,
               unit: UnitOfWork | None = None) -> None:
        """Delete turns for good: their records, words and vectors (and the cached copy). The
        turn after each one is indexed again, since its lexical row holds the words of the turn
        before it as context: a deleted turn's words must not stay findable through it."""
        if not ids:
            return
        scope = as_scope(who)
        gone = set(ids)
        own = unit is None
        unit = unit or UnitOfWork(self._stores)
        unit.delete(scope, _KIND, list(ids)).delete_text(scope, list(ids))
        unit.delete_vectors("turns", scope, list(ids))
        unit.delete_vectors(_PIECES, scope, [p for tid in ids for p in self.piece_ids(tid)])
        for turn in self.get(scope, list(ids)):
            after = self._neighbour(scope, turn, +1)
            if after is not None and after.id not in gone:
                before = self._neighbour(scope, turn, -1)
                context = before.text if before is not None and before.id not in gone else ""
                unit.index_text(scope, [(after.id, self.key_text(after), context)])
        unit.then(lambda: self.drop_cache(scope))
        if own:
            unit.commit()

    def replace(self, who: Scope | str, turn: Turn) -> None:
        """Store an edited turn under its id (words and vector re-derived from the new text;
        the next turn's lexical context too)."""
        scope = as_scope(who)
        unit = UnitOfWork(self._stores)
        unit.delete_vectors(_PIECES, scope, self.piece_ids(turn.id))  # the new text's follow
        self.add(scope, [turn], unit=unit)
        after = self._neighbour(scope, turn, +1)
        if after is not None:
            unit.index_text(scope, [(after.id, self.key_text(after), turn.text)])
        unit.then(lambda: self.drop_cache(scope))  # the cache keyed by count would not notice
        unit.commit()

    def _neighbour(self, scope: Scope, turn: Turn, step: int) -> Turn | None:
        rows = self._stores.records.list(scope, _KIND, session=turn.session_id,
                                         seq=turn.idx + step)
        return self.to_turn(rows[0]) if rows else None

    def drop_cache(self, who: Scope | str) -> None:
        self.hot.drop(as_scope(who).key)

    def stale_cache(self, who: Scope | str, ids: frozenset[str] | None = None) -> None:
        """Another process stored turns of the user (``ids``; None: unknown which): the copy
        catches up on its next use."""
        self.hot.mark_stale(as_scope(who).key, ids)

    @staticmethod
    def to_turn(record: Record) -> Turn:
        v = record.value
        return Turn(id=record.id, session_id=record.session, idx=record.seq, role=v["role"],
                    speaker=v["speaker"], text=v["text"], ts=record.ts,
                    topics=tuple(v.get("topics") or ()), conversation=record.conversation)
