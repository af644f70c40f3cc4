"""What the API returns: replies with their trace, memory listings, feedback receipts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memory.types import Event, RetrievedMemory, Turn

__all__ = ["FeedbackReceipt", "MemoryView", "Reply", "Retraction", "Trace"]


class Utterance(BaseModel):
    """Something already said, for :meth:`agent.Kindred.ingest` (replayed dialogues)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    speaker: str = Field(min_length=1, max_length=128)
    text: Any
    at: Any = None
    role: Literal["user", "agent"] = "user"


class Retraction(BaseModel):
    """In a stream: the tokens sent so far were a draft the agent withdrew; the tokens that follow
    replace it. Sent when the draft contradicted the agent's persona card and was regenerated, so a
    client can clear the draft instead of showing two answers; the final ``Reply`` holds only the
    revision."""

    reason: str = Field(default="persona_check",
                        description="why: persona_check (the draft contradicted the agent's persona; "
                                    "Reply.trace.persona_check says how)")


class Trace(BaseModel):
    """Why the agent said what it said: what was retrieved and why, and the exact prompt."""

    model_config = ConfigDict(extra="allow")

    run: str = "turn"
    user_id: str = ""
    now: float = 0.0
    session_id: str | None = None
    session_boundary: str = ""
    consolidated_event: dict[str, Any] | None = None
    user_trait: dict[str, Any] | None = None
    query_topics: list[str] = Field(default_factory=list)
    retrieved: list[RetrievedMemory] = Field(default_factory=list)
    feedback: dict[str, Any] | None = None
    user_traits: list[str] = Field(default_factory=list)
    agent_traits: list[str] = Field(default_factory=list)
    messages: list[dict[str, str]] = Field(default_factory=list)
    budget: dict[str, Any] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    prompts_version: str = ""
    model: str = ""

    @property
    def memory_section(self) -> str:
        """The system message sent to the model (where MEMORY and USER_TRAITS live)."""
        return next((m["content"] for m in self.messages if m["role"] == "system"), "")

    def explain(self) -> str:
        """A plain-text account of the trace, for ``/why`` and logs."""
        lines = [f"session {self.session_id} ({self.session_boundary})"]
        if self.consolidated_event:
            lines.append(f"previous session became an event: {self.consolidated_event['summary']}")
        lines.append(f"query topics: {', '.join(self.query_topics) or '(none)'}")
        if not self.retrieved:
            lines.append("retrieved: nothing passed the thresholds")
        for m in self.retrieved:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in m.scores.items())
            lines.append(f"- {m.kind} from {m.session_id}, {m.age}: {m.text[:80]} [{scores}]")
        if self.feedback:
            lines.append(f"feedback used (score {self.feedback['score']:.2f}): "
                         f"{self.feedback['feedback']}")
        if self.user_traits:
            lines.append("user traits: " + "; ".join(self.user_traits))
        check = (self.model_extra or {}).get("persona_check") or {}
        if check.get("regenerated"):
            found = check.get("contradiction") or {}
            lines.append(f"first draft withdrawn: \"{found.get('trait')}\" contradicts "
                         f"\"{found.get('fact')}\" ({found.get('reason')}); regenerated"
                         + (", still inconsistent" if check.get("still_inconsistent") else ""))
        if self.timings_ms:
            lines.append("timings: " + ", ".join(f"{k} {v:.0f} ms"
                                                 for k, v in self.timings_ms.items()))
        return "\n".join(lines)


class Reply(BaseModel):
    """The agent's answer to one message."""

    text: str
    user_id: str
    session_id: str
    trace: Trace


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
    feedback: list[dict[str, Any]]
