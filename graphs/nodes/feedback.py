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

from graphs.corrections import about_the_request
from graphs.nodes.session import scratch
from graphs.services import Services
from graphs.state import StoredFeedback, TurnContext, TurnState
from graphs.trace import ImplicitFeedback, Trace
from memory.errors import InvalidInputError
from personas.bank import Observation

__all__ = ["make_capture_feedback", "make_feedback", "store_feedback"]


def store_feedback(services: Services, context: TurnContext, state: TurnState, text: str
                   ) -> StoredFeedback:
    """Store ``text`` as a correction of the thread's last request; returns what was stored."""
    request = state.get("last_request")
    if not request:
        raise InvalidInputError("There is no earlier message to correct: feedback applies to "
                                "the agent's last reply, so chat first, then give feedback.")
    scope, now = context.scope, context.now
    record = services.memory.feedback.add(scope, request, text, now,
                                          understanding=state.get("last_reply"),
                                          turn_id=state.get("last_turn_id"))
    trait_text = None
    trait = services.user_extractor.extract(text) if services.config.personas.enabled else None
    if trait and not about_the_request(trait.text):  # only a fact the correction states
        kept = services.personas.observe_many(
            scope, [Observation("user", trait, now,
                                tuple(filter(None, [state.get("last_turn_id")])))],
            state.get("session_no", 0), correction=True)
        trait_text = " ".join(t.text for t in kept)
    return StoredFeedback(id=record.id, request=request, feedback=record.feedback,
                          trait=trait_text)


def make_feedback(services: Services):
    def feedback(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        context = runtime.context
        stored = store_feedback(services, context, state, state["text"])
        trace = Trace(run="feedback", user_id=context.user_id, now=context.now,
                      session_id=state.get("session_id"))
        return {**scratch(), "stored_feedback": stored, "trace": trace}

    return feedback


def make_capture_feedback(services: Services):
    def capture_feedback(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        stored = store_feedback(services, runtime.context, state, state["text"])
        note = ImplicitFeedback(turn_text=state["text"], feedback_id=stored.id,
                                request=stored.request, feedback=stored.feedback,
                                trait=stored.trait)
        return {"stored_feedback": stored,
                "trace": state["trace"].model_copy(update={"implicit_feedback": note})}

    return capture_feedback
