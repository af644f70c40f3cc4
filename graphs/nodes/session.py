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
from graphs.state import TurnContext, TurnState, stm_of
from graphs.trace import Trace
from memory.embeddings import prefetch
from memory.errors import InvalidInputError
from memory.short_term import session_expired
from memory.turns import TurnIndex

__all__ = ["make_close_session", "make_perceive", "scratch", "session_id_for"]


def session_id_for(number: int, conversation: str = "") -> str:
    """Session ids are ordinal per thread (``s0001``... in the default conversation,
    ``work:s0001``... in conversation ``work``), so replays are reproducible and the ids of turns
    and events (which derive from them) never meet across a user's conversations (a conversation
    id cannot hold ':')."""
    return f"{conversation}:s{number:04d}" if conversation else f"s{number:04d}"


def scratch() -> dict[str, Any]:
    """The per-run fields and results, as every run starts them."""
    return {"ended_session": None, "is_correction": False, "user_trait": None, "retracting": [],
            "agent_trait": None, "recall": None, "user_traits": [], "agent_traits": [],
            "messages": [], "reply": "", "stored_turn_ids": [], "stored_feedback": None,
            "closed_event": None}


def _is_correction(services: Services, state: TurnState, boundary: str) -> bool:
    """Rules first; a capable model (if configured) judges the turns that only look like one.
    A correction only makes sense of a reply in the same, continuing session."""
    cfg, text = services.config.feedback, state.get("text") or ""
    if not (state.get("kind", "turn") == "turn" and boundary == "continues" and cfg.enabled
            and cfg.implicit and state.get("last_request")):
        return False
    if detect_correction(text):
        return True
    judge = services.correction_judge
    return bool(judge and maybe_correction(text)
                and judge(state["last_request"], state.get("last_reply") or "", text))


def _opens_session(state: TurnState) -> bool:
    batch = state.get("batch") or []
    return state.get("kind") == "observe" and bool(batch) and batch[0].opens_session


def _encode_ahead(services: Services, state: TurnState, user_id: str) -> None:
    """Start encoding the query ``retrieve`` will embed and the message's key ``write_back``
    will store, while this turn's nodes parse and read (see ``memory.embeddings.prefetch``):
    a turn's encodes ran one after the other with its parses on a machine with a second core
    idle."""
    kind, text = state.get("kind", "turn"), state.get("text") or ""
    if kind in ("turn", "preview") and text:
        prefetch(services.memory.embedder,
                 [text, *([TurnIndex.key_of(user_id, text)] if kind == "turn" else [])])


def make_perceive(services: Services):
    beta = services.config.session.beta_s

    def perceive(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        now = runtime.context.now
        last_ts = state.get("last_ts")
        if last_ts is not None and now < last_ts:
            raise InvalidInputError(
                f"This message is dated {now:.0f}, before the previous turn ({last_ts:.0f}). "
                "Send messages in time order (check the `at` values of a replayed dialogue).")
        _encode_ahead(services, state, runtime.context.user_id)
        session_id, number = state.get("session_id"), state.get("session_no", 0)
        stm = stm_of(state)
        update = scratch()
        boundary = "continues"
        if session_id is None:
            number, boundary = number + 1, "new session"
            session_id, stm = session_id_for(number, runtime.context.conversation), []
        elif stm and (session_expired(last_ts, now, beta) or _opens_session(state)):
            update["ended_session"] = session_id
            number += 1
            boundary = (f"gap {now - last_ts:.0f}s > β {beta:.0f}s"
                        if session_expired(last_ts, now, beta)
                        else "new session (the replay says so)")
            session_id, stm = session_id_for(number, runtime.context.conversation), []
        update["is_correction"] = _is_correction(services, state, boundary)
        update.update(session_id=session_id, session_no=number, stm=stm,
                      trace=Trace(run=state.get("kind", "turn"), user_id=runtime.context.user_id,
                                  now=now, session_id=session_id, session_boundary=boundary))
        return update

    return perceive


def make_close_session(services: Services):
    def close_session(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        session_id = state.get("session_id")
        update = scratch()
        # consolidated whenever a session is open: it may hold turns the checkpoint's copy lacks
        # (a run killed after its turns were stored, before its checkpoint was), and
        # consolidation reads the turn index, where an empty session simply makes no event
        update.update(stm=[], session_id=None, ended_session=session_id or None,
                      trace=Trace(run="end_session", user_id=runtime.context.user_id,
                                  now=runtime.context.now, session_id=session_id,
                                  session_boundary="ended on request"))
        return update

    return close_session
