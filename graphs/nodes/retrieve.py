"""``retrieve``: what the agent should remember now.

The recall itself (events, turns, the applicable correction) is :func:`graphs.recall.recall`, the
same call ``Kindred.recall`` and the evaluations make; this node adds the persona banks (the user's
traits, with the one just said, and the agent's) and leaves out the open session, whose turns are
in the prompt's context already.

The query's encode was started by ``perceive`` (with the key of the turn ``write_back`` will store
for the message), beside the trait extractor's parse: this node finds it done or waits for it.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.recall import recall
from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.scope import Scope

__all__ = ["make_retrieve", "ordered_traits"]


def ordered_traits(traits) -> list[str]:
    """Long-term tier first, then the most mentioned, then the most recent (MaLP's rehearsal)."""
    return [t.text for t in sorted(traits, key=lambda t: (t.tier != "long", -t.count,
                                                          -t.last_seen))]


def _traits(services: Services, scope: Scope, pending, retracting=()
            ) -> tuple[list[str], list[str]]:
    """The user's traits (with the one just said, not yet stored; without those the message
    takes back, not yet ended) and the agent's traits."""
    user: list[str] = []
    agent = list(services.card.background)
    if services.config.personas.enabled:
        # one read of the bank for both owners
        both = [t for t in services.personas.list(scope) if t.id not in retracting]
        user = ordered_traits(t for t in both if t.owner == "user")
        if pending and pending.text not in user:
            user.insert(0, pending.text)
        agent += [t for t in ordered_traits(t for t in both if t.owner == "agent")
                  if t not in agent]
    return user, agent


def make_retrieve(services: Services):
    memory = services.memory

    def retrieve(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        scope, now, text = runtime.context.scope, runtime.context.now, state["text"]
        qvec = memory.embedder.embed([text])[0]
        found = recall(services, scope, text, now, exclude_session=state.get("session_id"),
                       qvec=qvec, q_topics=memory.topics.topics(text),
                       count_hit=state.get("kind") != "preview")
        user_traits, agent_traits = _traits(services, scope, state.get("user_trait"),
                                            set(state.get("retracting") or ()))
        trace = state["trace"].model_copy(update={
            "query_topics": found.query_topics, "retrieved": found.memories,
            "feedback": found.feedback, "user_traits": user_traits, "agent_traits": agent_traits,
            "time_window": found.time_window})
        return {"recall": found, "user_traits": user_traits, "agent_traits": agent_traits,
                "trace": trace}

    return retrieve
