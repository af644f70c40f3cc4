"""The state that flows through one run of the turn graph, and the run's context.

State holds plain data only (dicts, lists, strings, floats) so LangGraph's checkpointer can save it
without custom serialisers. What persists between runs of a user's thread: the current session
(id, number, short-term turns) and what the last exchange was (so feedback knows what it corrects).
Everything else is per-run scratch, reset at the start of each run by ``perceive``.

The run's context (:class:`TurnContext`) carries the user id and the time: never a global, never
the wall clock inside a node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict

__all__ = ["RunKind", "TurnContext", "TurnState"]

RunKind = Literal["turn", "observe", "feedback", "end_session"]


@dataclass(frozen=True)
class TurnContext:
    """Per-run values: whose memory, and what time it is (from the caller or the data)."""

    user_id: str
    now: float


class TurnState(TypedDict, total=False):
    # input of a run
    kind: RunKind
    text: str
    batch: list[dict[str, Any]]        # observe: utterances {speaker, text, ts, role} to store
    # persisted across runs (the user's thread)
    session_id: str
    session_no: int
    stm: list[dict[str, Any]]          # current session's turns, as memory.types.Turn dicts
    last_ts: float | None
    last_request: str | None
    last_reply: str | None
    last_turn_id: str | None
    # per-run scratch
    ended_session: str | None          # session that this run closes (to consolidate)
    is_correction: bool                # this turn corrects the previous reply (implicit feedback)
    event: dict[str, Any] | None       # event made by consolidation in this run
    user_trait: dict[str, Any] | None  # trait extracted from this utterance (stored at write-back)
    pending_traits: list[dict[str, Any]]  # {pos, owner, text, subject}: stored at write-back
    query_topics: list[str]
    retrieved: list[dict[str, Any]]    # memory.types.RetrievedMemory dicts
    feedback_match: dict[str, Any] | None
    user_traits: list[str]             # what the prompt's USER_TRAITS section may show
    agent_traits: list[str]            # card background + established agent traits
    messages: list[dict[str, str]]     # exactly what was sent to the chat model
    reply: str
    agent_trait: dict[str, Any] | None  # the reply's trait, found by check_persona (None: none)
    trace: dict[str, Any]
