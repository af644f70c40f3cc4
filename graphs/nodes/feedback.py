"""Feedback (MemPrompt): the graph's ``feedback`` entry point, and implicit corrections in a turn.

A correction is keyed by the request it corrects (the user's previous message in this thread) and
stored with the agent's understanding of it (its reply). When the correction states a fact about
the user ("actually, my sister is called Ana"), the persona bank learns it too, superseding what
it contradicts. Explicit feedback (``Kindred.feedback``, ``/feedback``) enters through
``feedback``; a chat turn recognised as a correction (:mod:`graphs.corrections`) goes through
``capture_feedback`` and then on to a normal reply.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.errors import InvalidInputError

__all__ = ["make_feedback", "make_capture_feedback", "store_feedback"]


def store_feedback(services: Services, user_id: str, state: TurnState, text: str,
                   now: float) -> dict[str, Any]:
    """Store ``text`` as a correction of the thread's last request; returns what was stored."""
    request = state.get("last_request")
    if not request:
        raise InvalidInputError("There is no earlier message to correct: feedback applies to "
                                "the agent's last reply, so chat first, then give feedback.")
    record = services.memory.feedback.add(user_id, request, text, now,
                                          understanding=state.get("last_reply"),
                                          turn_id=state.get("last_turn_id"))
    stored: dict[str, Any] = {"id": record.id, "request": request, "feedback": record.feedback}
    trait = services.user_extractor.extract(text) if services.config.use_persona else None
    if trait:
        kept = services.personas.observe(user_id, "user", trait, now,
                                         tuple(filter(None, [state.get("last_turn_id")])),
                                         session_no=state.get("session_no", 0),
                                         correction=True)
        stored["trait"] = {"id": kept.id, "text": kept.text}
    return stored


def make_feedback(services: Services):
    def feedback(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        user_id, now = runtime.context.user_id, runtime.context.now
        stored = store_feedback(services, user_id, state, state["text"], now)
        trace: dict[str, Any] = {"run": "feedback", "user_id": user_id, "now": now,
                                 "session_id": state.get("session_id"), "timings_ms": {},
                                 "feedback_stored": stored,
                                 "user_trait": stored.get("trait")}
        return {"trace": trace, "reply": "", "retrieved": [], "messages": []}

    return feedback


def make_capture_feedback(services: Services):
    def capture_feedback(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        trace = dict(state.get("trace") or {})
        stored = store_feedback(services, runtime.context.user_id, state, state["text"],
                                runtime.context.now)
        trace["implicit_feedback"] = {"turn_text": state["text"], **stored}
        return {"trace": trace}

    return capture_feedback
