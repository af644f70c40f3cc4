"""``write_back``: store the turn pair, the user's trait, and the agent's traits from its reply.

Everything this turn changes in the durable stores happens here, after generation, so a failed
generation stores nothing. Agent traits are extracted from the reply only now (LD-Agent: extracting
before would leak the reply into its own prompt). Turn ids are ``user/session/idx``, so a retried
turn overwrites rather than duplicates.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.short_term import next_index
from memory.types import Turn
from personas.extract.base import ExtractedTrait

__all__ = ["make_write_back", "turn_id_for"]


def turn_id_for(user_id: str, session_id: str, idx: int) -> str:
    return f"{user_id}/{session_id}/{idx}"


def make_write_back(services: Services):
    memory, cfg = services.memory, services.config

    def write_back(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        user_id, now = runtime.context.user_id, runtime.context.now
        session_id, stm = state["session_id"], list(state.get("stm") or [])
        trace = dict(state.get("trace") or {})
        texts = [state["text"], state.get("reply") or ""]
        topics = memory.topics.topics_many(texts)
        idx = next_index([Turn(**t) for t in stm[-1:]])
        turns = [
            Turn(id=turn_id_for(user_id, session_id, idx), session_id=session_id, idx=idx,
                 role="user", speaker=user_id, text=texts[0], ts=now, topics=tuple(topics[0])),
            Turn(id=turn_id_for(user_id, session_id, idx + 1), session_id=session_id,
                 idx=idx + 1, role="agent", speaker=services.card.name, text=texts[1], ts=now,
                 topics=tuple(topics[1])),
        ]
        memory.turns.add(user_id, [t for t in turns if t.text])
        stored: dict[str, Any] = {}
        if state.get("user_trait"):
            trait = services.personas.observe(user_id, "user",
                                              ExtractedTrait(**state["user_trait"]), now,
                                              (turns[0].id,))
            stored["user"] = {"id": trait.id, "text": trait.text, "count": trait.count,
                              "tier": trait.tier, "merged": trait.merged}
        if cfg.use_persona and texts[1]:
            agent_trait = services.agent_extractor.extract(texts[1])
            if agent_trait:
                trait = services.personas.observe(user_id, "agent", agent_trait, now,
                                                  (turns[1].id,))
                stored["agent"] = {"id": trait.id, "text": trait.text, "count": trait.count}
        stm = (stm + [t.model_dump() for t in turns])[-cfg.stm_keep:]
        trace.update(turn_ids=[t.id for t in turns], traits_stored=stored)
        return {"stm": stm, "last_ts": now, "last_request": texts[0], "last_reply": texts[1],
                "last_turn_id": turns[0].id, "trace": trace}

    return write_back
