"""``write_back``: store the turns, the traits they carry, and the agent's traits from its reply.

Everything a run changes in the durable stores happens here, after generation, so a failed
generation stores nothing. For a chat turn the batch is the user's message and the reply; for an
``observe`` run (replayed dialogue, no generation) it is the given utterances, embedded in one
batch. Agent traits of a chat turn are extracted from the reply only now (LD-Agent: extracting
before would leak the reply into its own prompt). Turn ids are ``user/session/idx``, so a retried
run overwrites rather than duplicates.
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


def _utterances(state: TurnState, services: Services, user_id: str, now: float) -> list[dict]:
    if state.get("kind") == "observe":
        return list(state.get("batch") or [])
    return [{"role": "user", "speaker": user_id, "text": state["text"], "ts": now},
            {"role": "agent", "speaker": services.card.name, "text": state.get("reply") or "",
             "ts": now}]


def make_write_back(services: Services):
    memory, cfg = services.memory, services.config

    def write_back(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        user_id, now = runtime.context.user_id, runtime.context.now
        session_id, stm = state["session_id"], list(state.get("stm") or [])
        trace = dict(state.get("trace") or {})
        utts = _utterances(state, services, user_id, now)
        topics = memory.topics.topics_many([u["text"] for u in utts])
        idx = next_index([Turn(**t) for t in stm[-1:]])
        turns = [Turn(id=turn_id_for(user_id, session_id, idx + i), session_id=session_id,
                      idx=idx + i, role=u["role"], speaker=u["speaker"], text=u["text"],
                      ts=u["ts"], topics=tuple(topics[i])) for i, u in enumerate(utts)]
        memory.turns.add(user_id, [t for t in turns if t.text])
        pending = list(state.get("pending_traits") or [])
        found = state.get("agent_trait")  # the reply's trait, read by check_persona
        if state.get("kind") != "observe" and cfg.use_persona and found:
            pending.append({"pos": 1, "owner": "agent", **found})
        stored = []
        for item in pending:
            turn = turns[item["pos"]]
            trait = services.personas.observe(user_id, item["owner"],
                                              ExtractedTrait(item["text"], item["subject"]),
                                              turn.ts, (turn.id,),
                                              session_no=state.get("session_no", 0))
            stored.append({"id": trait.id, "owner": trait.owner, "text": trait.text,
                           "count": trait.count, "tier": trait.tier, "merged": trait.merged})
        stm = (stm + [t.model_dump() for t in turns])[-cfg.stm_keep:]
        trace.update(turn_ids=[t.id for t in turns], traits_stored=stored)
        last_user = next((t for t in reversed(turns) if t.role == "user"), None)
        update: dict[str, Any] = {"stm": stm, "last_ts": turns[-1].ts, "trace": trace,
                                  "pending_traits": [], "batch": []}
        if state.get("kind") != "observe":
            update.update(last_request=turns[0].text, last_reply=turns[1].text,
                          last_turn_id=turns[0].id)
        elif last_user is not None:
            update.update(last_request=last_user.text, last_reply=None,
                          last_turn_id=last_user.id)
        return update

    return write_back
