"""Hybrid retrieval over raw turns: dense + BM25 + topics + time, with neighbour and session evidence.

Every weight lives in :class:`HybridWeights` (and so in Kindred's settings). The score of a turn:

    base    = w_dense·cosine + w_lexical·BM25/BM25_best + w_topic·s_top (LD-Agent)
              + w_time·(how far inside the query's time window the turn lies, 0–1)
              + w_decay·exp(-Δt/τ)
    total   = base + c·( w_neighbour·max(c_before·base of the turn before, base of the turn after)
                       + w_session·mean(top-N base in the turn's session; N = session_top, 3) )
                   + w_fact·(similarity of a stored fact/trait that points to the turn)
    c       = min(1, context_words / the turn's words)   (c_before: the turn before's)

Why neighbours: an answer often names its topic only in the question it answers, and a question
is found by its answer; why session evidence: the turns that matter cluster in the sessions that
are about the query. On LoCoMo (evidence recall, all 1,982 questions) the neighbour term added
~7 points of recall@5 and the session term ~2 over dense+BM25 alone; the defaults were chosen on
half of the conversations and checked on the other half.

Why ``c``: context stands in for what a short turn leaves unsaid ("Yes, twice a week!"); a turn
of hundreds of words (a chatbot's answer, a pasted document) says what it is about and must win
on its own words. For the same reason a long turn lends little to the reply after it: it says
many things, and the reply need not be about the one that matched; an answer, however long, is
about the question before it, and lends in full. On LongMemEval's dev split (user-assistant
chats with answers of ~300 words) the two raised turn recall@10 from 77.0 to 88.0 on the even
half, where 80 words was chosen, and from 78.0 to 91.3 on the odd half; LoCoMo's chat turns are
shorter than 80 words, and its ranking is unchanged.

Scores are computed for the union of the dense and BM25 candidates plus their neighbours; a turn
outside that pool has no score (it would rank below every candidate).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from pydantic import Field

from memory.config import ComponentConfig
from memory.retrieval import ScoringConfig, format_age
from memory.timeexpr import TimeWindow
from memory.topics import topic_overlap
from memory.turns import TurnIndex
from memory.types import RetrievedMemory

__all__ = ["HybridWeights", "HybridRetriever", "FactPointer", "TurnPool", "gathers"]

# a question that counts, sums or compares occasions ("How many…", "the total…", "between the
# day I… and the day I…", "…first, X or Y?"): its answer lies in several sessions
_GATHERS = re.compile(
    r"\b(?:how\s+(?:many|much)|total|in\s+all|combined|altogether|compared\s+(?:to|with)|"
    r"between\b.+\band\b|first\b.+\bor\b|the\s+order\s+of|the\s+most\b)",
    re.IGNORECASE)


def gathers(query: str) -> bool:
    """Whether ``query`` asks about several occasions (counts, sums, compares, orders them):
    its turns are ranked with :attr:`HybridWeights.spread`."""
    return bool(_GATHERS.search(query))


class HybridWeights(ComponentConfig):
    """Weights of the fused turn score (see the module docstring for the formula). The decay's
    τ is LD-Agent's, from :class:`~memory.retrieval.ScoringConfig`."""

    dense: float = 1.0
    lexical: float = Field(default=0.7, description=(
        "BM25 over the best BM25 of the query; 0.7 since BM25 took Lucene's idf (2026-12-06: "
        "a partial match scores a larger share of the best), chosen on LoCoMo conversations 1-5"))
    topic: float = Field(default=0.0, description="LD-Agent's noun overlap (0 when "
                                                  "scoring.use_topics is off)")
    time_window: float = Field(default=0.5, description=(
        "a turn inside the query's time window (memory.timeexpr); 0.5 since rolling spans "
        "(\"in the past month\") and weekends resolve, 2026-12-08: LongMemEval dev even half "
        "(94 questions) turn recall@10 86.8 against 85.7 at 0.3, LoCoMo R@5 +0.5"))
    decay: float = 0.0
    neighbour: float = 0.5
    session: float = 0.3
    session_top: int = Field(default=3, ge=1,
                             description="session evidence: mean base score of its top N turns")
    context_words: int = Field(default=80, ge=0, description=(
        "a turn longer than this many words takes its neighbour and session evidence scaled by "
        "context_words / its words, and lends the reply after it its score scaled so "
        "(0: every turn takes and lends in full)"))
    fact: float = 0.2
    candidates: int = Field(default=50, ge=1, description="per retriever (dense, BM25); "
                                                          "at least 2k are taken")
    piece_margin: float = Field(default=0.1, ge=0.0, description=(
        "a long turn's dense score: its own vector's, or its best piece's less this margin "
        "when higher (1: its own vector only). The best of many pieces is high by chance (the "
        "max of noisy cosines): on LongMemEval dev 0 cost 1-3 questions of 12, 0.1 none"))
    spread: float = Field(default=0.1, ge=0.0, description=(
        "for a question about several occasions (:func:`gathers`): once spread_free turns of "
        "a session are ranked, the next ranks this much lower, the one after twice as much... "
        "(0: rank by the total alone); on LongMemEval dev's even half turn recall@10 +1.0, "
        "LoCoMo unchanged within 0.03"))
    spread_free: int = Field(default=3, ge=1, description=(
        "turns of one session ranked before the spread applies"))


@dataclass(frozen=True)
class FactPointer:
    """A stored fact (trait or event) that matched the query and points back at its turns."""

    turn_ids: tuple[str, ...]
    similarity: float
    source: str = "fact"


@dataclass
class _Cand:
    id: str
    text: str
    meta: Mapping
    dense: float = 0.0


@functools.lru_cache(maxsize=1 << 16)
def _neighbour_pair(turn_id: str) -> tuple[str | None, str | None]:
    """The ids of the turn before and the turn after (None where there is none)."""
    head, _, idx = turn_id.rpartition("/")
    if not idx.isdigit():
        return None, None
    i = int(idx)
    return (f"{head}/{i - 1}" if i > 0 else None), f"{head}/{i + 1}"


def _neighbour_ids(turn_id: str) -> tuple[str, ...]:
    return tuple(i for i in _neighbour_pair(turn_id) if i is not None)


def _best(total: np.ndarray, k: int, group: np.ndarray | None = None, spread: float = 0.0,
          free: int = 0) -> list[int]:
    """Positions of the ``k`` highest totals, best first (ties: pool order). With ``spread``,
    greedily: once ``free`` turns of a session (``group``) are ranked, its next counts
    ``spread`` less, the one after twice that, and so on (free 3: the 4th turn of a session
    counts ``spread`` less, the 5th ``2·spread``)."""
    if not spread or group is None:
        return [int(i) for i in np.lexsort((np.arange(len(total)), -total))[:k]]
    left = np.asarray(total, dtype=float).copy()
    taken = np.zeros(int(group.max()) + 1, dtype=int)
    out: list[int] = []
    for _ in range(min(k, len(left))):
        i = int(np.argmax(left - spread * np.maximum(0, taken[group] - free + 1)))
        out.append(i)
        left[i] = -np.inf
        taken[group[i]] += 1
    return out


def _ranked(pool: TurnPool, total: np.ndarray, w: HybridWeights, k: int) -> list[int]:
    """The order of ``pool``'s candidates by ``total`` (its spread when the query gathers)."""
    if pool.gathers and w.spread:
        return _best(total, k, pool.groups, w.spread, w.spread_free)
    return _best(total, k)


@dataclass(frozen=True)
class TurnPool:
    """The scored candidates of one query, before the weights: every component that does not
    depend on them (dense, lexical, topic, time window, decay, fact), one array entry per
    candidate, with each candidate's id and session. :meth:`scores` fuses them with any
    weights, so that a weight grid ranks the same pool without querying the stores again
    (``benchmarks/lme_weights.py`` keeps pools as JSON: :meth:`to_json`, :meth:`from_json`)."""

    ids: tuple[str, ...]
    sessions: tuple[str, ...]
    words: tuple[int, ...]
    components: Mapping[str, np.ndarray]
    items: tuple[_Cand, ...] = ()
    gathers: bool = False  # the query asks about several occasions (:func:`gathers`)
    ts: tuple[float, ...] = ()  # each candidate's time (to place it in another window)

    def to_json(self) -> dict:
        return {"ids": list(self.ids), "sessions": list(self.sessions),
                "words": list(self.words), "gathers": self.gathers, "ts": list(self.ts),
                "components": {k: [float(x) for x in v]
                               for k, v in self.components.items()}}

    @functools.cached_property
    def groups(self) -> np.ndarray:
        """Each candidate's session as a small integer (for per-session sums and counts)."""
        return np.unique(np.array(self.sessions, dtype=str), return_inverse=True)[1]

    @classmethod
    def from_json(cls, data: Mapping) -> TurnPool:
        return cls(tuple(data["ids"]), tuple(data["sessions"]), tuple(data["words"]),
                   {k: np.asarray(v, dtype=float) for k, v in data["components"].items()},
                   gathers=bool(data.get("gathers", False)), ts=tuple(data.get("ts", ())))

    def scores(self, weights: HybridWeights, use_topics: bool = True) -> dict[str, np.ndarray]:
        """Every component and the fused ``base`` and ``total``, as arrays (one pass)."""
        w, c, n = weights, self.components, len(self.ids)
        w_topic = w.topic if use_topics else 0.0
        s = dict(c)
        base = (w.dense * c["dense"] + w.lexical * c["lexical"] + w_topic * c["topic"]
                + w.time_window * c["time_window"] + w.decay * c["decay"])
        s["base"] = base
        context = (np.minimum(1.0, w.context_words / np.maximum(np.array(self.words), 1))
                   if w.context_words else np.ones(n))
        pos = {tid: i for i, tid in enumerate(self.ids)}
        neighbour = np.zeros(n)
        for i, tid in enumerate(self.ids):
            before, after = _neighbour_pair(tid)
            at = pos.get(before)
            if at is not None:
                neighbour[i] = context[at] * base[at]
            at = pos.get(after)
            if at is not None and base[at] > neighbour[i]:
                neighbour[i] = base[at]
        s["neighbour"] = neighbour
        group = self.groups
        order = np.lexsort((-base, group))           # by session, best base first
        rank = np.empty(n, dtype=int)
        starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
        for a, b in zip(starts, np.r_[starts[1:], len(order)], strict=True):
            rank[order[a:b]] = np.arange(b - a)
        top = rank < w.session_top
        sums = np.bincount(group, weights=base * top)
        counts = np.bincount(group, weights=top.astype(float))
        s["session"] = (sums / np.maximum(counts, 1))[group]
        s["total"] = (base + context * (w.neighbour * s["neighbour"] + w.session * s["session"])
                      + w.fact * c["fact"])
        return s

    def rank(self, weights: HybridWeights, k: int, use_topics: bool = True) -> list[int]:
        """Positions of the ``k`` best candidates under ``weights``, best first (ties: pool
        order)."""
        if not self.ids:
            return []
        return _ranked(self, self.scores(weights, use_topics)["total"], weights, k)


class HybridRetriever:
    """Finds a user's turns for a query with the fused score above."""

    def __init__(self, turns: TurnIndex, weights: HybridWeights | None = None,
                 scoring: ScoringConfig | None = None) -> None:
        self._turns = turns
        self.weights = weights or HybridWeights()
        self.scoring = scoring or ScoringConfig()

    def search(self, user_id: str, *, text: str, vector: np.ndarray, topics: Sequence[str],
               now: float, k: int, window: TimeWindow | None = None,
               exclude_session: str | None = None, facts: Sequence[FactPointer] = ()
               ) -> list[RetrievedMemory]:
        """The ``k`` best turns, best first, each with its component scores."""
        pool = self.pool(user_id, text=text, vector=vector, topics=topics, now=now, k=k,
                         window=window, exclude_session=exclude_session, facts=facts)
        if not pool.ids:
            return []
        scores = pool.scores(self.weights, self.scoring.use_topics)
        out = []
        for i in _ranked(pool, scores["total"], self.weights, k):
            c = pool.items[i]
            ts = float(c.meta.get("ts", now))
            comp = {name: round(float(values[i]), 4) for name, values in scores.items()}
            out.append(RetrievedMemory(kind="turn", id=c.id, text=c.text,
                                       session_id=c.meta.get("session_id"), ts=ts,
                                       age=format_age(now - ts), speaker=c.meta.get("speaker"),
                                       scores=comp,
                                       reason=self._reason(comp)))
        return out

    def pool(self, user_id: str, *, text: str, vector: np.ndarray, topics: Sequence[str],
             now: float, k: int, window: TimeWindow | None = None,
             exclude_session: str | None = None, facts: Sequence[FactPointer] = ()) -> TurnPool:
        """The candidates :meth:`search` ranks for a query (the union of the dense and BM25
        candidates, their neighbours and the turns facts point at), with their unweighted
        components. Only ``candidates``, ``piece_margin`` and ``k`` shape it."""
        w = self.weights
        n = max(w.candidates, 2 * k)
        pool: dict[str, _Cand] = {}
        for hit in self._turns.search(user_id, vector, n, exclude_session=exclude_session,
                                      piece_margin=w.piece_margin):
            pool[hit.id] = _Cand(hit.id, hit.text, hit.metadata, dense=hit.similarity)
        lexical = self._turns.search_lexical(user_id, text, n)
        best = max((h.score for h in lexical), default=0.0) or 1.0
        lex = {h.turn_id: h.score / best for h in lexical}
        wanted = set(lex) - set(pool)
        for cid in list(pool) + list(lex):
            wanted.update(i for i in _neighbour_ids(cid) if i not in pool)
        fact_sim: dict[str, float] = {}
        for fact in facts:
            for tid in fact.turn_ids:
                fact_sim[tid] = max(fact_sim.get(tid, 0.0), fact.similarity)
                if tid not in pool:
                    wanted.add(tid)
        for tid, (sim, meta, body) in self._turns.similarities(
                user_id, vector, sorted(wanted), fresh=True, piece_margin=w.piece_margin).items():
            if exclude_session and meta.get("session_id") == exclude_session:
                continue
            pool[tid] = _Cand(tid, body, meta, dense=sim)
        cands = tuple(pool.values())
        ts = np.array([float(c.meta.get("ts", now)) for c in cands])
        use_topics = bool(w.topic) and self.scoring.use_topics
        components = {
            "dense": np.array([c.dense for c in cands]),
            "lexical": np.array([lex.get(c.id, 0.0) for c in cands]),
            "topic": (np.array([topic_overlap(topics, c.meta.get("topics") or [])
                                for c in cands]) if use_topics else np.zeros(len(cands))),
            "time_window": window.membership(ts) if window else np.zeros(len(cands)),
            "decay": np.exp(-np.maximum(now - ts, 0.0) / self.scoring.tau_s),
            "fact": np.array([fact_sim.get(c.id, 0.0) for c in cands]),
        }
        return TurnPool(tuple(c.id for c in cands),
                        tuple(str(c.meta.get("session_id")) for c in cands),
                        tuple(len(c.text.split()) for c in cands), components, cands,
                        gathers=gathers(text), ts=tuple(float(t) for t in ts))

    @staticmethod
    def _reason(s: Mapping[str, float]) -> str:
        parts = [f"{name} {s[name]:.2f}" for name in ("dense", "lexical", "neighbour", "session")
                 if s.get(name)]
        if s.get("time_window"):
            parts.append("inside the query's time window" if s["time_window"] >= 1 else
                         f"near the time the query names ({s['time_window']:.2f})")
        if s.get("fact"):
            parts.append(f"a stored fact points here ({s['fact']:.2f})")
        return "; ".join(parts)
