"""``retrieve``: what the agent should remember now.

* events (finished sessions) by LD-Agent's topic scoring (semantic + noun overlap, time decay);
* raw turns of earlier sessions by the hybrid score of :mod:`memory.hybrid` (dense, BM25, time
  window, neighbours, session evidence, and the stored facts and events that point at them), or by
  LD-Agent's scoring when ``turn_scoring`` is ``ld-agent``;
* the user's and the agent's traits from the persona banks;
* the closest correction in the feedback memory (MemPrompt).

The current session's turns are not searched: they are in the prompt's context already.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.hybrid import FactPointer, HybridRetriever
from memory.retrieval import score_hits
from memory.timeexpr import resolve_time_window

__all__ = ["make_retrieve", "retrieve_turns", "recall_memories"]


def _ordered(traits) -> list[str]:
    """Long-term tier first, then the most mentioned, then the most recent (MaLP's rehearsal)."""
    return [t.text for t in sorted(traits, key=lambda t: (t.tier != "long", -t.count,
                                                          -t.last_seen))]


def _traits(services: Services, user_id: str, pending: dict | None) -> tuple[list[str], list[str]]:
    """The user's traits (with the one just said, not yet stored) and the agent's traits."""
    user: list[str] = []
    if services.config.use_persona:
        user = _ordered(services.personas.list(user_id, "user"))
        if pending and pending["text"] not in user:
            user.insert(0, pending["text"])
    agent = list(services.card.background)
    if services.config.use_persona:
        agent += [t for t in _ordered(services.personas.list(user_id, "agent")) if t not in agent]
    return user, agent


def retrieve_turns(services: Services, user_id: str, text: str, qvec, q_topics: list[str],
                   now: float, k: int, *, events: list | None = None,
                   exclude_session: str | None = None):
    """Turns for a query, as the graph retrieves them (shared with the evaluation)."""
    cfg = services.config
    memory = services.memory
    if cfg.turn_scoring == "ld-agent":
        return score_hits(memory.turns.search(user_id, qvec, cfg.candidates, exclude_session),
                          q_topics, now, cfg.scoring, "turn", k)
    facts: list[FactPointer] = []
    for ev in events or []:
        ids = tuple(ev.get("turn_ids") or ())
        if ids:
            facts.append(FactPointer(ids, ev["scores"].get("semantic", 0.0), "event"))
    if cfg.use_persona:
        for hit in memory.index.query("traits", user_id, qvec, 5):
            if hit.similarity >= cfg.fact_min_similarity:
                trait = services.personas.get(user_id, hit.id)
                if trait and trait.source_turn_ids:
                    facts.append(FactPointer(trait.source_turn_ids, hit.similarity, "trait"))
    retriever = HybridRetriever(memory.turns, cfg.hybrid)
    return retriever.search(user_id, text=text, vector=qvec, topics=q_topics, now=now, k=k,
                            window=resolve_time_window(text, now),
                            exclude_session=exclude_session, facts=facts)


def recall_memories(services: Services, user_id: str, text: str, now: float, k_turns: int, *,
                    exclude_session: str | None = None, qvec=None, q_topics=None):
    """Events and turns for a query, exactly as a chat turn retrieves them (events, then turns
    boosted by the events and traits that point at them). Shared with the evaluations."""
    memory, cfg = services.memory, services.config
    qvec = memory.embedder.embed([text])[0] if qvec is None else qvec
    event_hits = memory.events.search(user_id, qvec, cfg.candidates)
    needs_topics = bool(event_hits) or cfg.hybrid.topic or cfg.turn_scoring == "ld-agent"
    if q_topics is None:  # spaCy costs ~5 ms a query: only when something will use the nouns
        q_topics = memory.topics.topics(text) if needs_topics else []
    events = score_hits(event_hits, q_topics, now, cfg.scoring, "event", cfg.events_k)
    turns = retrieve_turns(services, user_id, text, qvec, q_topics, now, k_turns,
                           events=[{"turn_ids": e.turn_ids, "scores": e.scores} for e in events],
                           exclude_session=exclude_session)
    return events, turns


def make_retrieve(services: Services):
    memory, cfg = services.memory, services.config

    def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        user_id, now, text = runtime.context.user_id, runtime.context.now, state["text"]
        trace = dict(state.get("trace") or {})
        qvec = memory.embedder.embed([text])[0]
        q_topics = memory.topics.topics(text)
        retrieved = []
        if cfg.use_events:
            events, turns = recall_memories(services, user_id, text, now, cfg.turns_k,
                                            exclude_session=state.get("session_id"),
                                            qvec=qvec, q_topics=q_topics)
            retrieved += events
            retrieved += [t for t in turns if cfg.turn_scoring != "hybrid"
                          or t.scores["total"] >= cfg.turn_min_score]
        match = None
        if cfg.use_feedback:
            found = memory.feedback.lookup(user_id, text, query_vector=qvec)
            if found:
                match = {"id": found.record.id, "request": found.record.request,
                         "feedback": found.record.feedback, "score": round(found.score, 4),
                         "mode": found.mode}
        user_traits, agent_traits = _traits(services, user_id, state.get("user_trait"))
        window = resolve_time_window(text, now)
        retrieved_dicts = [m.model_dump() for m in retrieved]
        trace.update(query_topics=q_topics, retrieved=retrieved_dicts, feedback=match,
                     user_traits=user_traits, agent_traits=agent_traits,
                     time_window=({"start": window.start, "end": window.end,
                                   "expression": window.expression} if window else None))
        return {"query_topics": q_topics, "retrieved": retrieved_dicts, "feedback_match": match,
                "user_traits": user_traits, "agent_traits": agent_traits, "trace": trace}

    return retrieve

