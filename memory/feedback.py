"""MemPrompt feedback memory: a user's correction, keyed by the request it corrects.

MemPrompt (Madaan et al., 2022) keeps a table ``request -> feedback`` written only when the user
says the agent got it wrong, and on every new request looks up the single closest key; on a match
the feedback is joined to the request as a clarification. Two lookups, as in the paper's code:
dense (cosine above a threshold) and lexical (edit distance under 6 on the normalised request).
The paper's 0.9 cosine was set for its trained encoder; for all-MiniLM-L6-v2 Kindred uses 0.65,
calibrated on the seen paraphrases of ``agent/eval/feedback.py`` (34 requests × 3 paraphrases and
60 unrelated requests: hit rate 1.0 at 0.55-0.60, 0.985 at 0.65-0.70, 0.31 at 0.9; no false
match from 0.55 up). Keys are embedded from the request as typed, like chat queries, so a turn
can reuse the vector its retrieval already computed. The lexical variant (edit distance < 6)
only catches near-verbatim repeats.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rapidfuzz.distance import Levenshtein

from memory.db import Database
from memory.embeddings import Embedder
from memory.hot import HotVectors
from memory.store import VectorIndex

__all__ = ["FeedbackMatch", "FeedbackMemory", "FeedbackRecord", "normalise_request"]

LookupMode = Literal["dense", "lexical"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    request TEXT NOT NULL,
    request_key TEXT NOT NULL,
    understanding TEXT,
    feedback TEXT NOT NULL,
    ts REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_id, ts);
"""


def normalise_request(text: str) -> str:
    """Lower-case, strip punctuation and collapse spaces (the key MemPrompt matches on)."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


@dataclass(frozen=True)
class FeedbackRecord:
    id: str
    request: str
    understanding: str | None
    feedback: str
    ts: float
    hits: int


@dataclass(frozen=True)
class FeedbackMatch:
    record: FeedbackRecord
    score: float
    mode: LookupMode


class FeedbackMemory:
    """Stores corrections and finds the one that applies to a new request, if any."""

    def __init__(self, db: Database, index: VectorIndex, embedder: Embedder, *,
                 mode: LookupMode = "dense", threshold: float = 0.65,
                 max_edit_distance: int = 6) -> None:
        self._db, self._index, self._embedder = db, index, embedder
        self.mode, self.threshold, self.max_edit_distance = mode, threshold, max_edit_distance
        db.ensure_schema(_SCHEMA)
        # keys held in process for an exact nearest-key search: a filtered Chroma query took
        # ~48 ms at 10,000 corrections, a flat product over the same keys ~1 ms
        self._hot = HotVectors(embedder.dim)

    def add(self, user_id: str, request: str, feedback: str, ts: float,
            understanding: str | None = None, turn_id: str | None = None) -> FeedbackRecord:
        """Store a correction of ``request``. A newer correction of the same request replaces it."""
        key = normalise_request(request)
        old = self._db.query("SELECT id FROM feedback WHERE user_id=? AND request_key=?",
                             [user_id, key])
        rec_id = old[0]["id"] if old else f"fb-{uuid.uuid4().hex}"
        with self._db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO feedback VALUES (?,?,?,?,?,?,?,?)",
                         (rec_id, user_id, request, key, understanding, feedback, ts, 0))
        meta = {"ts": ts, "turn_id": turn_id or "",
                "session_id": turn_id.split("/")[-2] if turn_id and turn_id.count("/") >= 2
                else ""}
        vec = self._embedder.embed([request.strip()])
        self._index.add("feedback", user_id, [rec_id], [request], vec, [meta])
        self._hot.added(user_id, [rec_id], vec, [meta], [request])
        return FeedbackRecord(rec_id, request, understanding, feedback, ts, 0)

    def add_many(self, user_id: str, items: list[tuple[str, str, float]]) -> int:
        """Store many ``(request, feedback, ts)`` corrections at once (imports, benchmarks);
        embeds in one batch. Returns how many were stored."""
        keys = [normalise_request(r) for r, _, _ in items]
        ids = [f"fb-{uuid.uuid4().hex}" for _ in items]
        with self._db.transaction() as conn:
            conn.executemany("INSERT INTO feedback VALUES (?,?,?,?,?,?,?,?)",
                             [(i, user_id, r, k, None, f, ts, 0)
                              for i, k, (r, f, ts) in zip(ids, keys, items, strict=True)])
        vecs = self._embedder.embed([r.strip() for r, _, _ in items])
        metas = [{"ts": ts} for _, _, ts in items]
        self._index.add("feedback", user_id, ids, [r for r, _, _ in items], vecs, metas)
        self._hot.added(user_id, ids, vecs, metas, [r for r, _, _ in items])
        return len(items)

    def lookup(self, user_id: str, request: str, *, count_hit: bool = True,
               query_vector: np.ndarray | None = None) -> FeedbackMatch | None:
        """The single best correction for ``request`` if it passes the threshold, else None."""
        key = normalise_request(request)
        if not key:
            return None
        if self.mode == "lexical":
            match = self._lookup_lexical(user_id, key)
        else:
            # the same text form as the stored keys and as the turn's own query vector, so a
            # chat turn can pass the vector retrieval already computed
            vec = (query_vector if query_vector is not None
                   else self._embedder.embed([request.strip()])[0])
            keys = self._keys(user_id)
            best = keys.top(np.asarray(vec, dtype=np.float32), 1)
            match = None
            if best and best[0][1] > self.threshold:
                match = (keys.ids[best[0][0]], best[0][1])
        if match is None:
            return None
        record = self.get(user_id, match[0])
        if record is None:
            return None
        if count_hit:
            self._db.execute("UPDATE feedback SET hits = hits + 1 WHERE id=? AND user_id=?",
                             [record.id, user_id])
        return FeedbackMatch(record, float(match[1]), self.mode)

    def _keys(self, user_id: str):
        """The user's keys in process (reloaded if another process stored corrections)."""
        count = self._db.query("SELECT COUNT(*) FROM feedback WHERE user_id=?", [user_id])[0][0]
        return self._hot.get(user_id,
                             lambda: self._index.get("feedback", user_id, with_vectors=True),
                             count)

    def _lookup_lexical(self, user_id: str, key: str) -> tuple[str, float] | None:
        best: tuple[str, float] | None = None
        for row in self._db.query("SELECT id, request_key FROM feedback WHERE user_id=?", [user_id]):
            dist = Levenshtein.distance(key, row["request_key"],
                                        score_cutoff=self.max_edit_distance)
            if dist < self.max_edit_distance and (best is None or dist < best[1]):
                best = (row["id"], float(dist))
        return best

    def get(self, user_id: str, record_id: str) -> FeedbackRecord | None:
        rows = self._db.query("SELECT * FROM feedback WHERE user_id=? AND id=?", [user_id, record_id])
        return self._row(rows[0]) if rows else None

    def list(self, user_id: str) -> list[FeedbackRecord]:
        rows = self._db.query("SELECT * FROM feedback WHERE user_id=? ORDER BY ts", [user_id])
        return [self._row(r) for r in rows]

    def delete_user(self, user_id: str) -> None:
        self._db.execute("DELETE FROM feedback WHERE user_id=?", [user_id])
        self._index.delete_all("feedback", user_id)
        self._hot.drop(user_id)

    @staticmethod
    def _row(row) -> FeedbackRecord:
        return FeedbackRecord(row["id"], row["request"], row["understanding"], row["feedback"],
                              row["ts"], row["hits"])
