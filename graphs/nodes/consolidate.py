"""``consolidate``: a finished session becomes one long-term event (LD-Agent).

Runs only when the session just ended. It reads the session's turns from the durable turn index
(not from the checkpoint, which keeps only the recent ones), summarises them, and stores the event
with the session's topics, the time of its last turn and its turn ids. The event id is derived from
the session, so running it twice (a retried turn) replaces rather than duplicates.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.types import Event

__all__ = ["event_id_for", "make_consolidate"]


def event_id_for(user_id: str, session_id: str) -> str:
    return f"{user_id}/{session_id}/event"


def make_consolidate(services: Services):
    memory = services.memory

    def consolidate(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        scope, session_id = runtime.context.scope, state.get("ended_session")
        trace = state["trace"]
        turns = memory.turns.list(scope, session_id) if session_id else []
        if not turns:
            return {"closed_event": None}
        summary = services.summariser.summarise(turns) or turns[-1].text
        counts = Counter(t for turn in turns for t in turn.topics)
        event = Event(id=event_id_for(scope.user, session_id), session_id=session_id,
                      summary=summary, topics=tuple(t for t, _ in counts.most_common()),
                      ts=turns[-1].ts, turn_ids=tuple(t.id for t in turns),
                      conversation=runtime.context.conversation)
        memory.events.add(scope, event)
        # MaLP: a session ended, so short-term traits that were not rehearsed may expire
        expired = services.personas.flush(scope, state.get("session_no", 0), event.ts)
        return {"closed_event": event,
                "trace": trace.model_copy(update={"consolidated_event": event,
                                                  "traits_expired": expired})}

    return consolidate
