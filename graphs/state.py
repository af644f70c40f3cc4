"""The state that flows through one run of the turn graph, and the run's context.

Three parts, each typed:

* **persisted** across runs of a user's thread: the current session (id, number, short-term
  turns) and the last exchange (so feedback knows what it corrects);
* **per-run scratch**, reset at the start of every run: the utterances to store with the traits
  they carry, what was recalled, the prompt;
* **results** of the run (the reply, the stored turn ids, the stored feedback, the closed event),
  read by the façade from these fields, and the :class:`~graphs.trace.Trace`, which only explains.

Values are pydantic models and dataclasses; LangGraph's checkpointer saves them, and
:data:`CHECKPOINT_TYPES` lists the classes it may rebuild when a thread is loaded. The run's
context (:class:`TurnContext`) carries whose memory and the time: never a global, never the wall
clock inside a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from graphs.recall import Recall
from graphs.trace import ChatMessage, Trace
from memory.scope import Scope
from memory.types import Event, Role, Turn
from personas.extract.base import ExtractedTrait

__all__ = ["CHECKPOINT_TYPES", "RunKind", "Said", "StoredFeedback", "TurnContext", "TurnState",
           "stm_of"]

RunKind = Literal["turn", "observe", "preview", "feedback", "end_session"]


@dataclass(frozen=True)
class TurnContext:
    """Per-run values: whose memory, and what time it is (from the caller or the data). The
    rest are a client's for this one turn and are never stored: the app's own instructions (an
    OpenAI system message), the conversation as the client holds it (used as the prompt's recent
    context instead of the stored thread), and sampling options for the reply."""

    user_id: str
    now: float
    tenant: str = "default"
    conversation: str = ""  # the thread's stored id ("" for the user's default conversation)
    instructions: str | None = None
    history: tuple[tuple[str, str], ...] | None = None  # (role "user"|"agent", text)
    sampling: tuple[tuple[str, float | int], ...] = ()
    scope: Scope = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", Scope(user=self.user_id, tenant=self.tenant))


class Said(BaseModel):
    """An utterance to store, with the trait it carries (found before it is stored), so a turn
    and its trait travel together."""

    model_config = ConfigDict(frozen=True)

    role: Role
    speaker: str
    text: str
    ts: float
    trait: ExtractedTrait | None = None
    opens_session: bool = False  # a replay's own session edge (Utterance.session_start)


class StoredFeedback(BaseModel):
    """A correction as stored (explicit ``feedback`` or a turn recognised as one)."""

    model_config = ConfigDict(frozen=True)

    id: str
    request: str
    feedback: str
    trait: str | None = None


class TurnState(TypedDict, total=False):
    # input of a run
    kind: RunKind
    text: str
    batch: list[Said]                  # observe: utterances that already happened
    # persisted across runs (the user's thread)
    session_id: str | None
    session_no: int
    stm: list[Turn]                    # the current session's turns
    last_ts: float | None
    last_request: str | None
    last_reply: str | None
    last_turn_id: str | None
    # per-run scratch
    ended_session: str | None          # the session this run closes (to consolidate)
    is_correction: bool                # this turn corrects the previous reply (implicit feedback)
    user_trait: ExtractedTrait | None  # the user's trait in this utterance (chat turns)
    retracting: list[str]              # ids of the user's traits this message takes back
    agent_trait: ExtractedTrait | None  # the reply's own trait, read by check_persona
    recall: Recall | None
    user_traits: list[str]             # what the prompt's user section may show
    agent_traits: list[str]            # card background + established agent traits
    messages: list[ChatMessage]        # exactly what was sent to the chat model
    # results of the run
    reply: str
    stored_turn_ids: list[str]
    stored_feedback: StoredFeedback | None
    closed_event: Event | None
    trace: Trace


def stm_of(state: TurnState) -> list[Turn]:
    """The session's turns as :class:`Turn` (threads saved before typed state held dicts)."""
    return [t if isinstance(t, Turn) else Turn.model_validate(t) for t in state.get("stm") or []]


# classes the checkpointer may rebuild from a saved thread (nested models are rebuilt by
# pydantic from their parent, so only the outer classes need to be listed)
CHECKPOINT_TYPES: tuple[tuple[str, str], ...] = tuple(
    (cls.__module__, cls.__name__)
    for cls in (Turn, Event, Said, StoredFeedback, Trace, Recall, ExtractedTrait))
