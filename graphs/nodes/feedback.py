"""``feedback``: the graph's second entry point, for a user's correction (MemPrompt).

The correction is keyed by the request it corrects (the user's previous message in this thread)
and stored with the agent's understanding of it (its reply). When the correction states a fact
about the user ("actually, my sister is called Ana"), the persona bank learns it too, superseding
what it contradicts.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.errors import InvalidInputError

__all__ = ["make_feedback"]


def make_feedback(services: Services):
    def feedback(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        user_id, now = runtime.context.user_id, runtime.context.now
        request = state.get("last_request")
        if not request:
            raise InvalidInputError("There is no earlier message to correct: feedback applies to "
                                    "the agent's last reply, so chat first, then give feedback.")
        record = services.memory.feedback.add(user_id, request, state["text"], now,
                                              understanding=state.get("last_reply"),
                                              turn_id=state.get("last_turn_id"))
        trace: dict[str, Any] = {"run": "feedback", "user_id": user_id, "now": now,
                                 "session_id": state.get("session_id"), "timings_ms": {},
                                 "feedback_stored": {"id": record.id, "request": request,
                                                     "feedback": record.feedback}}
        trait = services.user_extractor.extract(state["text"])
        if trait:
            stored = services.personas.observe(user_id, "user", trait, now,
                                               tuple(filter(None, [state.get("last_turn_id")])))
            trace["user_trait"] = {"id": stored.id, "text": stored.text}
        return {"trace": trace, "reply": "", "retrieved": [], "messages": []}

    return feedback
