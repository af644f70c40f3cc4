"""MemPrompt feedback memory: a user's correction, keyed by the request it corrects.

MemPrompt (Madaan et al., 2022) keeps a table ``request -> feedback`` written only when the user
says the agent got it wrong, and on every new request looks up the single closest key; on a match
the feedback is joined to the request as a clarification. Two lookups, as in the paper's code:
dense (cosine above a threshold) and lexical (edit distance under 6 on the normalised request).
The paper's 0.9 cosine was set for its trained encoder; for all-MiniLM-L6-v2 Kindred uses 0.65,
calibrated on the seen paraphrases of ``evals/feedback.py`` (34 requests × 3 paraphrases and
60 unrelated requests: hit rate 1.0 at 0.55-0.60, 0.985 at 0.65-0.70, 0.31 at 0.9; no false
match from 0.55 up). Keys are embedded from the request as typed, like chat queries, so a turn
can reuse the vector its retrieval already computed. The lexical variant (edit distance < 6)
only catches near-verbatim repeats.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field
from rapidfuzz.distance import Levenshtein

from memory.backends import Stores
from memory.backends.base import Record
from memory.config import ComponentConfig
from memory.embeddings import Embedder
from memory.hot import HotVectors
from memory.locks import checked_by_lock
from memory.scope import Scope, as_scope
from memory.unit import UnitOfWork

__all__ = ["FeedbackConfig", "FeedbackMatch", "FeedbackMemory", "FeedbackRecord", "LookupMode",
           "normalise_request"]

LookupMode = Literal["dense", "lexical"]
_KIND = "feedback"


class FeedbackConfig(ComponentConfig):
    """MemPrompt's lookup (see the module docstring for where each constant comes from)."""

    mode: LookupMode = "dense"
    threshold: float = Field(
        default=0.65, ge=-1, le=1,
        description="cosine to reuse a correction; MemPrompt's 0.9 was for its trained encoder. "
                    "Calibrated for MiniLM on evals/feedback.py's seen paraphrases")
    max_edit_distance: int = Field(default=6, ge=1,
                                   description="lexical mode: a key matches under this distance")
    enabled: bool = Field(default=True, description="False: the w/o-feedback ablation")
    implicit: bool = Field(default=True, description='treat "no, I meant ..." turns as '
                                                     "corrections of the last reply")


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
    turn_id: str = ""


@dataclass(frozen=True)
class FeedbackMatch:
    record: FeedbackRecord
    score: float
    mode: LookupMode


class FeedbackMemory:
    """Stores corrections and finds the one that applies to a new request, if any."""

    def __init__(self, stores: Stores, embedder: Embedder, config: FeedbackConfig | None = None,
                 *, hot_users: int = 64) -> None:
        self._stores, self._embedder = stores, embedder
        self.config = config or FeedbackConfig()
        # keys held in process for an exact nearest-key search: a filtered Chroma query took
        # ~48 ms at 10,000 corrections, a flat product over the same keys ~1 ms
        self._hot = HotVectors(embedder.dim, max_users=hot_users)

    @property
    def mode(self) -> LookupMode:
        return self.config.mode

    @property
    def threshold(self) -> float:
        return self.config.threshold

    def add(self, who: Scope | str, request: str, feedback: str, ts: float,
            understanding: str | None = None, turn_id: str | None = None, *,
            unit: UnitOfWork | None = None) -> FeedbackRecord:
        """Store a correction of ``request``. A newer correction of the same request replaces it."""
        scope = as_scope(who)
        key = normalise_request(request)
        old = self._stores.records.list(scope, _KIND, tag=key, limit=1)
        record = FeedbackRecord(old[0].id if old else f"fb-{uuid.uuid4().hex}", request,
                                understanding, feedback, ts, 0, turn_id or "")
        self._write(scope, [record], unit)
        return record

    def add_many(self, who: Scope | str, items: list[tuple[str, str, float]]) -> int:
        """Store many ``(request, feedback, ts)`` corrections at once (imports, benchmarks);
        embeds in one batch. Returns how many were stored."""
        records = [FeedbackRecord(f"fb-{uuid.uuid4().hex}", r, None, f, ts, 0)
                   for r, f, ts in items]
        self._write(as_scope(who), records, None)
        return len(records)

    def _write(self, scope: Scope, records: list[FeedbackRecord], unit: UnitOfWork | None) -> None:
        own = unit is None
        unit = unit or UnitOfWork(self._stores)
        vecs = self._embedder.embed([r.request.strip() for r in records])
        metas = [_meta(r) for r in records]
        ids, texts = [r.id for r in records], [r.request for r in records]
        unit.put(scope, [self._record(r) for r in records])
        unit.upsert_vectors("feedback", scope, ids, vecs, metas)
        unit.then(lambda: self._hot.added(scope.key, ids, vecs, metas, texts))
        if own:
            unit.commit()

    def lookup(self, who: Scope | str, request: str, *, count_hit: bool = True,
               query_vector: np.ndarray | None = None) -> FeedbackMatch | None:
        """The single best correction for ``request`` if it passes the threshold, else None."""
        scope = as_scope(who)
        key = normalise_request(request)
        if not key:
            return None
        if self.mode == "lexical":
            match = self._lookup_lexical(scope, key)
        else:
            # the same text form as the stored keys and as the turn's own query vector, so a
            # chat turn can pass the vector retrieval already computed
            vec = (query_vector if query_vector is not None
                   else self._embedder.embed([request.strip()])[0])
            keys = self._keys(scope)
            best = keys.top(np.asarray(vec, dtype=np.float32), 1)
            match = None
            if best and best[0][1] > self.threshold:
                match = (keys.ids[best[0][0]], best[0][1])
        if match is None:
            return None
        found = self._stores.records.get(scope, _KIND, match[0])
        if found is None:
            return None
        record = self._from(found)
        if count_hit:
            record = FeedbackRecord(**{**record.__dict__, "hits": record.hits + 1})
            self._stores.records.put(scope, [self._record(record)])
        return FeedbackMatch(record, float(match[1]), self.mode)

    def similar(self, who: Scope | str, vector: np.ndarray) -> list[tuple[FeedbackRecord, float]]:
        """Every correction of the user with the cosine of its request to ``vector`` (from the
        keys already held in process, as ``lookup`` uses them)."""
        scope = as_scope(who)
        keys = self._keys(scope)
        if not keys.ids:
            return []
        sims = keys.similarities(np.asarray(vector, dtype=np.float32))
        records = {r.id: self._from(r)
                   for r in self._stores.records.get_many(scope, _KIND, list(keys.ids))}
        return [(records[i], float(s)) for i, s in zip(keys.ids, sims, strict=True)
                if i in records]

    def _keys(self, scope: Scope):
        """The user's keys in process (reloaded if another process stored corrections; on a
        shared store the scope's lock has checked, :func:`memory.locks.checked_by_lock`)."""
        return self._hot.get(scope.key, lambda: self._load(scope),
                             None if checked_by_lock(scope)
                             else self._stores.records.count(scope, _KIND))

    def _load(self, scope: Scope) -> list[dict]:
        """The user's keys for the cache: vectors from the index, requests from the records."""
        records = {r.id: self._from(r) for r in self._stores.records.list(scope, _KIND)}
        return [{**item, "text": records[item["id"]].request}
                for item in self._stores.vectors.get("feedback", scope, with_vectors=True)
                if item["id"] in records]

    def _lookup_lexical(self, scope: Scope, key: str) -> tuple[str, float] | None:
        best: tuple[str, float] | None = None
        limit = self.config.max_edit_distance
        for row in self._stores.records.list(scope, _KIND):
            dist = Levenshtein.distance(key, row.tag, score_cutoff=limit)
            if dist < limit and (best is None or dist < best[1]):
                best = (row.id, float(dist))
        return best

    def restore(self, who: Scope | str, records: list[FeedbackRecord]) -> None:
        """Store corrections as they were (an import): ids, hit counts and times kept."""
        if records:
            self._write(as_scope(who), records, None)

    def replace(self, who: Scope | str, record: FeedbackRecord) -> None:
        """Store an edited correction under its id."""
        self._write(as_scope(who), [record], None)
        self.drop_cache(who)

    def delete(self, who: Scope | str, ids: Sequence[str]) -> None:
        """Delete corrections for good (record and key vector)."""
        scope = as_scope(who)
        unit = UnitOfWork(self._stores).delete(scope, _KIND, list(ids))
        unit.delete_vectors("feedback", scope, list(ids))
        unit.then(lambda: self.drop_cache(scope)).commit()

    def get(self, who: Scope | str, record_id: str) -> FeedbackRecord | None:
        found = self._stores.records.get(as_scope(who), _KIND, record_id)
        return self._from(found) if found else None

    def list(self, who: Scope | str) -> list[FeedbackRecord]:
        return [self._from(r) for r in self._stores.records.list(as_scope(who), _KIND)]

    def drop_cache(self, who: Scope | str) -> None:
        self._hot.drop(as_scope(who).key)

    @staticmethod
    def _record(r: FeedbackRecord) -> Record:
        return Record(_KIND, r.id, {"request": r.request, "understanding": r.understanding,
                                   "feedback": r.feedback, "hits": r.hits, "turn_id": r.turn_id},
                      ts=r.ts, tag=normalise_request(r.request))

    @staticmethod
    def from_record(r: Record) -> FeedbackRecord:
        """The correction a record holds (imports read records directly)."""
        return FeedbackMemory._from(r)

    @staticmethod
    def _from(r: Record) -> FeedbackRecord:
        v = r.value
        return FeedbackRecord(r.id, v["request"], v.get("understanding"), v["feedback"], r.ts,
                              int(v.get("hits", 0)), v.get("turn_id") or "")


def _meta(r: FeedbackRecord) -> dict:
    parts = r.turn_id.split("/")
    return {"ts": r.ts, "turn_id": r.turn_id,
            "session_id": parts[-2] if len(parts) >= 3 else ""}
