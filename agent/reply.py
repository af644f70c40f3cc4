"""What the API returns: replies with their trace, recalls, memory listings, feedback receipts.

``Trace`` and ``Recall`` are the graph's own models (:mod:`graphs.trace`, :mod:`graphs.recall`),
re-exported here so that a user imports everything the API returns from one place.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphs.recall import Recall
from graphs.trace import Trace
from memory.feedback import FeedbackRecord
from memory.types import Event, LaterChange, RetrievedMemory, Turn

__all__ = ["FeedbackReceipt", "LaterChange", "MemoryView", "Recall", "Reply", "Retraction",
           "RetrievedMemory", "Trace", "Utterance"]


class Utterance(BaseModel):
    """Something already said, for :meth:`agent.Kindred.ingest` (replayed dialogues)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    speaker: str = Field(min_length=1, max_length=128)
    text: Any
    at: Any = None
    role: Literal["user", "agent"] = "user"
    session_start: bool = Field(
        default=False,
        description="this utterance opens a new session, whatever the time since the one "
                    "before (a replay that knows where its sessions begin): the session before "
                    "it is consolidated, as after a gap longer than β")


class Retraction(BaseModel):
    """In a stream: the tokens sent so far were a draft the agent withdrew; the tokens that follow
    replace it, so a client can clear the draft instead of showing two answers; the final
    ``Reply`` holds only the revision."""

    reason: Literal["persona_check", "repeat", "prompt_leak"] = Field(
        default="persona_check",
        description="why: persona_check (the draft contradicted the agent's persona, or "
                    "claimed the user's facts or name for the agent; "
                    "Reply.trace.persona_check says how), repeat (it repeated an earlier reply or "
                    "said the user's message back, and was regenerated), prompt_leak (it copied "
                    "the prompt's instructions: the revision is the draft without them); "
                    "Reply.trace.reply_review says more")


class Reply(BaseModel):
    """The agent's answer to one message."""

    text: str
    user_id: str
    session_id: str
    trace: Trace
    conversation: str = "default"


class FeedbackReceipt(BaseModel):
    """What a piece of feedback changed."""

    feedback_id: str
    request: str
    feedback: str
    trait: str | None = None


class MemoryView(BaseModel):
    """Everything Kindred holds about one user (what ``/memory`` shows)."""

    user_id: str
    session_id: str | None
    session_turns: list[Turn]
    events: list[Event]
    turn_count: int
    feedback: list[FeedbackRecord]
