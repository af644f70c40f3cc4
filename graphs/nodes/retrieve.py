"""``retrieve``: what the agent should remember now (LD-Agent topic retrieval + MemPrompt lookup).

Long-term events and raw turns of earlier sessions are scored with LD-Agent's formula (semantic
similarity + noun overlap, times time decay); the user's traits and the agent's traits come from
the persona banks; a matching correction comes from the feedback memory. The current session's
turns are not searched: they are in the prompt's context already.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.retrieval import score_hits

__all__ = ["make_retrieve"]


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


def make_retrieve(services: Services):
    memory, cfg = services.memory, services.config

    def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        user_id, now, text = runtime.context.user_id, runtime.context.now, state["text"]
        trace = dict(state.get("trace") or {})
        qvec = memory.embedder.embed([text])[0]
        q_topics = memory.topics.topics(text)
        retrieved = []
        if cfg.use_events:
            retrieved += score_hits(memory.events.search(user_id, qvec, cfg.candidates),
                                    q_topics, now, cfg.scoring, "event", cfg.events_k)
            retrieved += score_hits(
                memory.turns.search(user_id, qvec, cfg.candidates,
                                    exclude_session=state.get("session_id")),
                q_topics, now, cfg.scoring, "turn", cfg.turns_k)
        match = None
        if cfg.use_feedback:
            found = memory.feedback.lookup(user_id, text, query_vector=qvec)
            if found:
                match = {"id": found.record.id, "request": found.record.request,
                         "feedback": found.record.feedback, "score": round(found.score, 4),
                         "mode": found.mode}
        user_traits, agent_traits = _traits(services, user_id, state.get("user_trait"))
        retrieved_dicts = [m.model_dump() for m in retrieved]
        trace.update(query_topics=q_topics, retrieved=retrieved_dicts, feedback=match,
                     user_traits=user_traits, agent_traits=agent_traits)
        return {"query_topics": q_topics, "retrieved": retrieved_dicts, "feedback_match": match,
                "user_traits": user_traits, "agent_traits": agent_traits, "trace": trace}

    return retrieve
