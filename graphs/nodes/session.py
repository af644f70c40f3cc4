"""Session nodes: ``perceive`` opens each turn, ``close_session`` ends a session on request.

``perceive`` decides the session boundary (LD-Agent: a gap longer than β ends the session) and
resets the per-run scratch. A message dated before the previous turn is refused: replayed data must
come in order, and a clock running backwards would corrupt the time decay of every memory.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.corrections import detect_correction, maybe_correction
from graphs.services import Services
from graphs.state import TurnContext, TurnState
from memory.errors import InvalidInputError
from memory.short_term import session_expired

__all__ = ["make_close_session", "make_perceive", "session_id_for"]


def session_id_for(number: int) -> str:
    """Session ids are ordinal per user (``s0001``...), so replays are reproducible."""
    return f"s{number:04d}"


def _scratch() -> dict[str, Any]:
    return {"ended_session": None, "is_correction": False, "event": None, "user_trait": None,
            "agent_trait": None,
            "pending_traits": [],
            "query_topics": [],
            "retrieved": [], "feedback_match": None, "messages": [], "reply": ""}


def _is_correction(services: Services, state: TurnState, boundary: str) -> bool:
    """Rules first; a capable model (if configured) judges the turns that only look like one.
    A correction only makes sense of a reply in the same, continuing session."""
    cfg, text = services.config, state.get("text") or ""
    if not (state.get("kind", "turn") == "turn" and boundary == "continues" and cfg.use_feedback
            and cfg.implicit_feedback and state.get("last_request")):
        return False
    if detect_correction(text):
        return True
    judge = services.correction_judge
    return bool(judge and maybe_correction(text)
                and judge(state["last_request"], state.get("last_reply") or "", text))


def make_perceive(services: Services):
    beta = services.config.beta_s

    def perceive(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        now = runtime.context.now
        last_ts = state.get("last_ts")
        if last_ts is not None and now < last_ts:
            raise InvalidInputError(
                f"This message is dated {now:.0f}, before the previous turn ({last_ts:.0f}). "
                "Send messages in time order (check the `at` values of a replayed dialogue).")
        session_id, number = state.get("session_id"), state.get("session_no", 0)
        stm = list(state.get("stm") or [])
        update = _scratch()
        boundary = "continues"
        if session_id is None:
            number, boundary = number + 1, "new session"
            session_id, stm = session_id_for(number), []
        elif stm and session_expired(last_ts, now, beta):
            update["ended_session"] = session_id
            number, boundary = number + 1, f"gap {now - last_ts:.0f}s > β {beta:.0f}s"
            session_id, stm = session_id_for(number), []
        update["is_correction"] = _is_correction(services, state, boundary)
        update.update(session_id=session_id, session_no=number, stm=stm,
                      trace={"run": state.get("kind", "turn"), "user_id": runtime.context.user_id,
                             "now": now, "session_id": session_id, "session_boundary": boundary,
                             "timings_ms": {}})
        return update

    return perceive


def make_close_session(services: Services):
    def close_session(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        session_id = state.get("session_id")
        had_turns = bool(state.get("stm"))
        update = _scratch()
        update.update(stm=[], session_id=None,
                      ended_session=session_id if (session_id and had_turns) else None,
                      trace={"run": "end_session", "user_id": runtime.context.user_id,
                             "now": runtime.context.now, "session_id": session_id,
                             "session_boundary": "ended on request", "timings_ms": {}})
        return update

    return close_session
