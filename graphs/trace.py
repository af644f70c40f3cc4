"""The trace of a run: why the agent said what it said, for people (``/why``, ``Reply.trace``).

The trace only explains: what a run produced (the reply, stored turn ids, stored feedback, the
closed event) travels in the state's own typed fields (:mod:`graphs.state`), never read back out
of here. Every field is declared and unknown ones are refused, so a typo in a node is an error.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from memory.types import Event, RetrievedMemory

__all__ = ["ChatMessage", "FeedbackUsed", "ImplicitFeedback", "PersonaCheck", "ReplyReview",
           "StoredTrait", "TimeWindowView", "Trace", "TraitNote"]


class ChatMessage(TypedDict):
    """One message exactly as sent to the chat model."""

    role: Literal["system", "user", "assistant"]
    content: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TraitNote(_Strict):
    """A trait as found in an utterance (before the bank merges it)."""

    text: str
    subject: str = "other"


class StoredTrait(_Strict):
    """What the bank did with a trait at write-back."""

    id: str
    owner: Literal["user", "agent"]
    text: str
    count: int
    tier: str
    merged: bool

    @classmethod
    def of(cls, trait: Any) -> StoredTrait:
        """The view of a bank's :class:`~personas.bank.Trait`."""
        return cls(id=trait.id, owner=trait.owner, text=trait.text, count=trait.count,
                   tier=trait.tier, merged=trait.merged)


class FeedbackUsed(_Strict):
    """The correction MemPrompt's lookup joined to this request."""

    id: str
    request: str
    feedback: str
    score: float
    mode: str


class ImplicitFeedback(_Strict):
    """A turn recognised as a correction of the previous reply, and what it stored."""

    turn_text: str
    feedback_id: str
    request: str
    feedback: str
    trait: str | None = None


class PersonaCheck(_Strict):
    """The check of the reply against the agent's card and established traits."""

    trait: str | None = None
    contradiction: dict[str, str] | None = None
    regenerated: bool = False
    first_reply: str | None = None
    still_inconsistent: bool = False


class ReplyReview(_Strict):
    """What the review of the draft found: copied instructions (stripped), a repeated reply, the
    user's message said back (``echoed``: the message)."""

    leaked: list[str] = Field(default_factory=list)
    repeated: str | None = None
    echoed: str | None = None
    regenerated: bool = False
    first_reply: str | None = None
    still_repeated: bool = False  # the retry repeated too: only its new sentences were kept
    said_before: list[str] = Field(default_factory=list)  # cut: said before, the rest was new


class TimeWindowView(_Strict):
    start: float
    end: float
    expression: str
    centre: float | None = None  # an estimate ("two weeks ago"): its bonus peaks here

    def describe(self) -> str:
        """The window in words, for ``/why``: which dates a turn had to lie in to gain."""
        text = f'time named: "{self.expression}" = {_day(self.start)} to {_day(self.end)}'
        if self.centre is not None:
            text += f", nearest {_day(self.centre)} counting most"
        return text


class Trace(_Strict):
    """What was retrieved and why, what was stored, the exact prompt, the timings."""

    id: str = ""
    run: str = "turn"
    user_id: str = ""
    now: float = 0.0
    session_id: str | None = None
    session_boundary: str = ""
    consolidated_event: Event | None = None
    traits_expired: list[str] = Field(default_factory=list)
    user_trait: TraitNote | None = None
    implicit_feedback: ImplicitFeedback | None = None
    query_topics: list[str] = Field(default_factory=list)
    time_window: TimeWindowView | None = None
    retrieved: list[RetrievedMemory] = Field(default_factory=list)
    feedback: FeedbackUsed | None = None
    user_traits: list[str] = Field(default_factory=list)
    agent_traits: list[str] = Field(default_factory=list)
    messages: list[ChatMessage] = Field(default_factory=list)
    budget: dict[str, int] = Field(default_factory=dict)
    reply_review: ReplyReview | None = None
    persona_check: PersonaCheck | None = None
    traits_found: int = 0
    traits_stored: list[StoredTrait] = Field(default_factory=list)
    traits_retracted: list[StoredTrait] = Field(default_factory=list)  # taken back by the user
    turn_ids: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    prompts_version: str = ""
    model: str = ""
    finish_reason: str = ""  # why the sent reply's model call ended: "stop", or "length" (cut)

    @property
    def memory_section(self) -> str:
        """The system messages sent to the model (the instructions and the <memory> block)."""
        return "\n".join(m["content"] for m in self.messages if m["role"] == "system")

    def explain(self) -> str:
        """A plain-text account of the trace, for ``/why`` and logs."""
        lines = [f"session {self.session_id} ({self.session_boundary})"]
        if self.consolidated_event:
            lines.append(f"previous session became an event: {self.consolidated_event.summary}")
        lines.append(f"query topics: {', '.join(self.query_topics) or '(none)'}")
        if self.time_window:
            lines.append(self.time_window.describe())
        if not self.retrieved:
            lines.append("retrieved: nothing passed the thresholds")
        for m in self.retrieved:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in m.scores.items())
            lines.append(f"- {m.kind} from {m.session_id}, {m.age}: {_clip(m.text, 80)} [{scores}]")
            for change in m.later:
                lines.append(f"  {change.describe(str)}")
        if self.feedback:
            lines.append(f"feedback used (score {self.feedback.score:.2f}): "
                         f"{self.feedback.feedback}")
        if self.user_traits:
            lines.append("user traits: " + "; ".join(self.user_traits))
        if self.traits_retracted:
            lines.append("taken back by the user: "
                         + "; ".join(t.text for t in self.traits_retracted))
        review = self.reply_review
        if review and (review.leaked or review.repeated or review.echoed):
            lines.append("draft " + ("repeated an earlier reply" if review.repeated else
                                     "said the user's message back" if review.echoed else
                                     "copied the prompt's instructions (stripped)")
                         + ("; regenerated" if review.regenerated else "")
                         + (", and the retry repeated too: only what was new in it was kept"
                            if review.still_repeated else ""))
        if review and review.said_before:
            lines.append("cut from the reply, said before: " + " ".join(review.said_before))
        check = self.persona_check
        if check and check.regenerated:
            found = check.contradiction or {}
            lines.append(f"first draft withdrawn: \"{found.get('trait')}\" contradicts "
                         f"\"{found.get('fact')}\" ({found.get('reason')}); regenerated"
                         + (", still inconsistent" if check.still_inconsistent else ""))
        if self.timings_ms:
            lines.append("timings: " + ", ".join(f"{k} {v:.0f} ms"
                                                 for k, v in self.timings_ms.items()))
        return "\n".join(lines)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:")
    return (cut or text[:limit]) + "…"
