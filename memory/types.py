"""Plain value objects shared by the memory stores, the graph and the API.

Pydantic models so they validate on the way in, serialise into LangGraph's checkpoints, and print
well in traces.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Event", "LaterChange", "RetrievedMemory", "Role", "Turn"]

Role = Literal["user", "agent"]


class Turn(BaseModel):
    """One utterance: LD-Agent's short-term record ``{idx, time, text}`` plus who said it."""

    model_config = ConfigDict(frozen=True)

    id: str
    session_id: str
    idx: int = Field(ge=0, description="position in its session")
    role: Role
    speaker: str = Field(description="display name: the user id, the agent name, or a dataset name")
    text: str
    ts: float = Field(description="seconds since the epoch, from the caller's clock or the data")
    topics: tuple[str, ...] = ()
    conversation: str = Field(default="", description="the thread it was said in (\"\": the "
                                                      "user's default conversation)")


class Event(BaseModel):
    """A finished session, summarised: LD-Agent's long-term event record."""

    model_config = ConfigDict(frozen=True)

    id: str
    session_id: str
    summary: str
    topics: tuple[str, ...] = ()
    ts: float = Field(description="time of the session's last turn")
    turn_ids: tuple[str, ...] = ()
    conversation: str = Field(default="", description="the thread the session was in")


class LaterChange(BaseModel):
    """A fact a recalled turn said that no longer holds: the user took it back ("I was just
    kidding"), or a newer one replaced it ("I moved to Lisbon" after "I live in Porto")."""

    what: Literal["taken back", "changed"]
    said: str = Field(description="the fact (trait) the turn gave")
    now: str | None = Field(default=None, description="what holds now (changed)")

    def describe(self, quote=repr) -> str:
        """"later taken back: 'X'" or "since changed: 'Y'" (``quote`` renders a text)."""
        return (f"later taken back: {quote(self.said)}" if self.what == "taken back"
                else f"since changed: {quote(self.now or '')}")


class RetrievedMemory(BaseModel):
    """A memory chosen for the prompt, with every score that chose it (for ``Reply.trace``)."""

    kind: Literal["event", "turn", "trait", "feedback"]
    id: str
    text: str
    session_id: str | None = None
    ts: float | None = None
    age: str | None = Field(default=None, description='"N days M hours ago" as LD-Agent shows it')
    speaker: str | None = Field(default=None, description="who said it (turns)")
    scores: dict[str, float] = Field(default_factory=dict)
    reason: str = ""
    turn_ids: list[str] = Field(default_factory=list,
                                description="the turns an event or fact points back to")
    later: list[LaterChange] = Field(default_factory=list, description=(
        "what became of the facts a turn said: taken back, or changed since"))
