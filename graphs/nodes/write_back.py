"""``write_back``: store the turns, the traits they carry, and the agent's traits from its reply.

Everything a run changes in the durable stores happens here, after generation, so a failed
generation stores nothing. For a chat turn the utterances are the user's message (with the trait
``extract_persona`` found) and the reply (with the trait ``check_persona`` found: LD-Agent
extracts the agent's traits only after replying, or the reply would leak into its own prompt); for
an ``observe`` run (replayed dialogue, no generation) they are the given batch, each with its own
trait. The turns and their traits are one unit of work (:mod:`memory.unit`): a run's writes land
together or not at all (a kill between them left turns without their traits). The traits are
observed in order, so one can merge with a trait said a moment before in the same run. Traits the
message took back ("I was just kidding") are ended in the same unit. Turn ids
are ``user/session/idx``, so a retried run overwrites rather than duplicates.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import Said, TurnContext, TurnState, stm_of
from graphs.trace import StoredTrait
from memory.short_term import next_index
from memory.text import parse_span
from memory.turns import TurnIndex
from memory.types import Turn
from personas.bank import Observation, facts_of

__all__ = ["make_write_back", "turn_id_for"]


def turn_id_for(user_id: str, session_id: str, idx: int) -> str:
    return f"{user_id}/{session_id}/{idx}"


def _said(state: TurnState, services: Services, user_id: str, now: float) -> list[Said]:
    if state.get("kind") == "observe":
        return list(state.get("batch") or [])
    agent_trait = state.get("agent_trait") if services.config.personas.enabled else None
    return [Said(role="user", speaker=user_id, text=state["text"], ts=now,
                 trait=state.get("user_trait")),
            Said(role="agent", speaker=services.card.name, text=state.get("reply") or "",
                 ts=now, trait=agent_trait)]


def make_write_back(services: Services):
    memory, cfg = services.memory, services.config

    def write_back(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        scope, now = runtime.context.scope, runtime.context.now
        session_id, stm = state["session_id"], stm_of(state)
        said = _said(state, services, scope.user, now)
        topics = memory.topics.topics_many([parse_span(s.role, s.text) for s in said])
        idx = next_index(stm[-1:])
        turns = [Turn(id=turn_id_for(scope.user, session_id, idx + i), session_id=session_id,
                      idx=idx + i, role=s.role, speaker=s.speaker, text=s.text, ts=s.ts,
                      topics=tuple(topics[i]), conversation=runtime.context.conversation)
                 for i, s in enumerate(said)]
        kept = [t for t in turns if t.text]
        traits = [fact.text for s in said if s.trait is not None for fact in facts_of(s.trait)] \
            if cfg.personas.enabled else []
        # one encode for what the run stores: its turns and the traits they carry (the bank
        # finds the traits' vectors in the embedder's cache). A chat turn's two turns and a
        # trait cost 8.0 ms in one batch, 10.5 ms as two; a replay's turns are cache hits
        vectors = memory.embedder.embed([TurnIndex.key_text(t) for t in kept] + traits)
        unit = memory.unit()
        memory.turns.add(scope, kept, vectors[:len(kept)], unit=unit)
        carried = [(s, turn) for s, turn in zip(said, turns, strict=True)
                   if s.trait is not None and cfg.personas.enabled]
        observed = services.personas.observe_many(
            scope, [Observation(s.role, s.trait, turn.ts, (turn.id,)) for s, turn in carried],
            state.get("session_no", 0), unit=unit, retracting=state.get("retracting") or (),
            at=now)
        unit.commit()
        stored = [StoredTrait.of(t) for t in observed]
        stm = (stm + turns)[-cfg.session.stm_keep:]
        ids = [t.id for t in turns]
        trace = state["trace"].model_copy(update={"turn_ids": ids, "traits_stored": stored})
        update: dict[str, Any] = {"stm": stm, "last_ts": turns[-1].ts, "trace": trace,
                                  "stored_turn_ids": ids, "batch": []}
        last_user = next((t for t in reversed(turns) if t.role == "user"), None)
        if state.get("kind") != "observe":
            update.update(last_request=turns[0].text, last_reply=turns[1].text,
                          last_turn_id=turns[0].id)
        elif last_user is not None:
            update.update(last_request=last_user.text, last_reply=None,
                          last_turn_id=last_user.id)
        return update

    return write_back
