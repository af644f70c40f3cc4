"""Recall: what Kindred remembers for a query, with every score that chose it.

One function, used by the graph's ``retrieve`` node, by ``Kindred.recall`` and so by every
evaluation: a benchmark measures exactly what a chat turn retrieves.

* events (finished sessions) by LD-Agent's topic scoring (semantic + noun overlap, time decay);
* raw turns of earlier sessions by the hybrid score of :mod:`memory.hybrid` (dense, BM25, time
  window, neighbours, session evidence, and the stored facts and events that point at them), or by
  LD-Agent's scoring when ``turn_scoring`` is ``ld-agent``; turns below ``turn_min_score`` are not
  worth a prompt and are left out;
* the closest correction in the feedback memory (MemPrompt).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from graphs.services import Services
from graphs.trace import FeedbackUsed, TimeWindowView
from memory.hybrid import FactPointer, HybridRetriever, TurnPool
from memory.retrieval import score_hits
from memory.scope import Scope
from memory.timeexpr import resolve_time_window
from memory.types import RetrievedMemory

__all__ = ["DEFAULT", "Recall", "recall", "turn_pool"]


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: float = _Default()  # type: ignore[assignment]  # "the configured turn_min_score"


class Recall(BaseModel):
    """What was recalled for one query, ranked, each memory with its component scores."""

    query: str
    now: float
    events: list[RetrievedMemory] = Field(default_factory=list)
    turns: list[RetrievedMemory] = Field(default_factory=list)
    feedback: FeedbackUsed | None = None
    query_topics: list[str] = Field(default_factory=list)
    time_window: TimeWindowView | None = None

    @property
    def memories(self) -> list[RetrievedMemory]:
        """Events first, then turns, each best first (the order the prompt shows them in)."""
        return [*self.events, *self.turns]


def recall(services: Services, scope: Scope, text: str, now: float, *, k: int | None = None,
           exclude_session: str | None = None, min_score: float | None = DEFAULT,
           feedback: bool = True, count_hit: bool = True,
           qvec: np.ndarray | None = None, q_topics: Sequence[str] | None = None) -> Recall:
    """Recall for ``text`` at ``now``: ``k`` turns (default ``turns_k``) above ``min_score``
    (default ``turn_min_score``; None keeps the whole ranking, as recall@k needs), events,
    and the correction that applies. ``exclude_session``: the open session, already in context."""
    memory, cfg = services.memory, services.config.retrieval
    k = cfg.turns_k if k is None else k
    qvec = memory.embedder.embed([text])[0] if qvec is None else qvec
    window = resolve_time_window(text, now)
    found = Recall(query=text, now=now,
                   time_window=(TimeWindowView(start=window.start, end=window.end,
                                               expression=window.expression,
                                               centre=window.centre) if window else None))
    if cfg.use_events:
        found.events, q_topics = _events(services, scope, text, qvec, q_topics, now)
        turns = _turns(services, scope, text, qvec, list(q_topics), now, k, found.events,
                       exclude_session, window)
        floor = cfg.turn_min_score if min_score is DEFAULT else min_score
        if floor is not None and cfg.turn_scoring == "hybrid":
            turns = [t for t in turns if t.scores["total"] >= floor]
        found.turns = _with_later_changes(services, scope, turns)
    found.query_topics = list(q_topics or [])
    if feedback and services.config.feedback.enabled:
        match = memory.feedback.lookup(scope, text, query_vector=qvec, count_hit=count_hit)
        if match:
            found.feedback = FeedbackUsed(id=match.record.id, request=match.record.request,
                                          feedback=match.record.feedback,
                                          score=round(match.score, 4), mode=match.mode)
    return found


def turn_pool(services: Services, scope: Scope, text: str, now: float, *,
              k: int | None = None) -> TurnPool:
    """The hybrid turn candidates :func:`recall` would rank for ``text`` at ``now``, with their
    unweighted components: ranking the pool with the configured weights gives recall's turns
    (before the score floor); ranking it with others is how weights are chosen."""
    memory, cfg = services.memory, services.config.retrieval
    k = cfg.turns_k if k is None else k
    qvec = memory.embedder.embed([text])[0]
    events, q_topics = _events(services, scope, text, qvec, None, now)
    return HybridRetriever(memory.turns, cfg.hybrid, cfg.scoring).pool(
        scope, text=text, vector=qvec, topics=list(q_topics), now=now, k=k,
        window=resolve_time_window(text, now), facts=_facts(services, scope, qvec, events))


def _events(services: Services, scope: Scope, text: str, qvec, q_topics: Sequence[str] | None,
            now: float) -> tuple[list[RetrievedMemory], Sequence[str]]:
    """The events recalled for the query, and its nouns (parsed only when something uses them)."""
    memory, cfg = services.memory, services.config.retrieval
    event_hits = memory.events.search(scope, qvec, cfg.candidates)
    needs_topics = bool(event_hits) or bool(cfg.hybrid.topic) or cfg.turn_scoring == "ld-agent"
    if q_topics is None:  # spaCy costs ~5 ms a query: only when something uses the nouns
        q_topics = memory.topics.topics(text) if needs_topics else []
    return score_hits(event_hits, q_topics, now, cfg.scoring, "event", cfg.events_k), q_topics


def _facts(services: Services, scope: Scope, qvec, events: list[RetrievedMemory]
           ) -> list[FactPointer]:
    """The recalled events and the matching persona traits, as pointers to their turns."""
    cfg = services.config.retrieval
    facts = [FactPointer(tuple(ev.turn_ids), ev.scores.get("semantic", 0.0), "event")
             for ev in events if ev.turn_ids]
    if services.config.personas.enabled:
        for trait, similarity in services.personas.search(scope, qvec, cfg.facts_k):
            if similarity >= cfg.fact_min_similarity and trait.source_turn_ids:
                facts.append(FactPointer(trait.source_turn_ids, similarity, "trait"))
    return facts


def _with_later_changes(services: Services, scope: Scope, turns: list[RetrievedMemory]
                        ) -> list[RetrievedMemory]:
    """``turns``, each with what became of the facts it said that no longer hold (taken back
    by a "just kidding", or changed since): the turn is still recalled, as said, but not as a
    fact of today."""
    if not turns or not services.config.personas.enabled:
        return turns
    later = services.personas.later_changes(scope, [t.id for t in turns])
    return [t.model_copy(update={"later": later[t.id]}) if t.id in later else t for t in turns]


def _turns(services: Services, scope: Scope, text: str, qvec, q_topics: list[str], now: float,
           k: int, events: list[RetrievedMemory], exclude_session: str | None,
           window) -> list[RetrievedMemory]:
    cfg, memory = services.config.retrieval, services.memory
    if cfg.turn_scoring == "ld-agent":
        return score_hits(memory.turns.search(scope, qvec, cfg.candidates, exclude_session),
                          q_topics, now, cfg.scoring, "turn", k)
    retriever = HybridRetriever(memory.turns, cfg.hybrid, cfg.scoring)
    return retriever.search(scope, text=text, vector=qvec, topics=q_topics, now=now, k=k,
                            window=window, exclude_session=exclude_session,
                            facts=_facts(services, scope, qvec, events))
