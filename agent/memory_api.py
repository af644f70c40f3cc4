"""The memory API: every item Kindred holds about a user, listed, searched, read, edited, deleted.

Why one item shape for four kinds: a memory manager (the web panel, an admin tool, a user asking
"what do you know about me?") shows turns, events, traits and corrections side by side, and
edits them the same way. A :class:`MemoryItem` is the kind, the id, the text a person reads and
edits, and the kind's own fields. Search ranks items of every kind for a query with the scores
that ranked them: turns and events by the same recall a chat turn makes, traits and corrections
by the cosine of their text (a correction by the request it applies to).

Edits keep every store in step: an edited turn's words and vector are derived again from the new
text (and its copy in the conversation's short-term context is changed too), a corrected trait
keeps its old wording in the history, a deleted item is gone from every store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from agent.validation import check_text
from graphs import thread_config
from memory.errors import InvalidInputError, NotFoundError
from memory.feedback import FeedbackRecord
from memory.scope import Scope
from memory.types import Event, Turn
from personas.bank import Trait

if TYPE_CHECKING:  # pragma: no cover
    from agent.kindred import Kindred

__all__ = ["KINDS", "MemoryItem", "MemoryKind", "ScoredMemory", "delete_item", "edit_item",
           "get_item", "list_items", "search_items"]

MemoryKind = Literal["turn", "event", "trait", "feedback"]
KINDS: tuple[MemoryKind, ...] = ("turn", "event", "trait", "feedback")


class MemoryItem(BaseModel):
    """One remembered item of any kind, as a person reads it."""

    kind: MemoryKind
    id: str
    text: str = Field(description="a turn's words, an event's summary, a trait, a correction")
    ts: float
    conversation: str | None = Field(default=None, description="turns and events: their thread")
    fields: dict[str, Any] = Field(default_factory=dict, description="the kind's own fields")


class ScoredMemory(MemoryItem):
    """A search result: the item, its score, and the components that made it.

    ``score`` is the cosine of the query with the item (a correction: with the request it
    corrects), one scale for every kind, so results of different kinds can be ranked together;
    ``scores`` holds the components of the kind's own ranking (a turn's hybrid total and its
    parts, an event's LD-Agent score), which chose the candidates."""

    score: float
    scores: dict[str, float] = Field(default_factory=dict)
    reason: str = ""


def _conversation(stored: str) -> str:
    return stored or "default"


def _of_turn(t: Turn) -> MemoryItem:
    return MemoryItem(kind="turn", id=t.id, text=t.text, ts=t.ts,
                      conversation=_conversation(t.conversation),
                      fields={"role": t.role, "speaker": t.speaker, "session_id": t.session_id,
                              "idx": t.idx, "topics": list(t.topics)})


def _of_event(e: Event) -> MemoryItem:
    return MemoryItem(kind="event", id=e.id, text=e.summary, ts=e.ts,
                      conversation=_conversation(e.conversation),
                      fields={"session_id": e.session_id, "topics": list(e.topics),
                              "turn_ids": list(e.turn_ids)})


def _of_trait(t: Trait) -> MemoryItem:
    return MemoryItem(kind="trait", id=t.id, text=t.text, ts=t.last_seen,
                      fields={"owner": t.owner, "subject": t.subject, "status": t.status,
                              "tier": t.tier, "count": t.count, "first_seen": t.first_seen,
                              "valid_to": t.valid_to, "superseded_by": t.superseded_by,
                              "source_turn_ids": list(t.source_turn_ids)})


def _of_feedback(f: FeedbackRecord) -> MemoryItem:
    return MemoryItem(kind="feedback", id=f.id, text=f.feedback, ts=f.ts,
                      fields={"request": f.request, "understanding": f.understanding,
                              "hits": f.hits, "turn_id": f.turn_id})


def _kind(kind: Any) -> MemoryKind:
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown memory kind {kind!r}: use one of {', '.join(KINDS)}.")
    return kind


def list_items(bot: Kindred, scope: Scope, kind: str | None = None, *,
               conversation: str | None = None, include_history: bool = False
               ) -> list[MemoryItem]:
    """The user's items, oldest first, of one kind or all; ``conversation`` narrows turns and
    events to one thread; ``include_history`` adds superseded and expired traits."""
    kinds = KINDS if kind is None else (_kind(kind),)
    conv = None if conversation is None else bot._conversation(scope, conversation)
    out: list[MemoryItem] = []
    if "turn" in kinds:
        out += [_of_turn(t) for t in bot.memory.turns.list(scope)
                if conv is None or t.conversation == conv]
    if "event" in kinds:
        out += [_of_event(e) for e in bot.memory.events.list(scope)
                if conv is None or e.conversation == conv]
    if "trait" in kinds:
        out += [_of_trait(t) for t in bot.personas.list(scope, include_history=include_history)]
    if "feedback" in kinds:
        out += [_of_feedback(f) for f in bot.memory.feedback.list(scope)]
    return out


def search_items(bot: Kindred, scope: Scope, query: str, *, k: int = 10,
                 kinds: tuple[str, ...] | None = None, now: float) -> list[ScoredMemory]:
    """Items of every kind (or ``kinds``) ranked for ``query``, best first, at most ``k``."""
    wanted = KINDS if not kinds else tuple(_kind(x) for x in kinds)
    found = bot.recall(scope, query, at=now, k=k, min_score=None)
    out: list[ScoredMemory] = []
    if "turn" in wanted:
        turns = {t.id: t for t in bot.memory.turns.get(scope, [m.id for m in found.turns])}
        out += [ScoredMemory(**_of_turn(turns[m.id]).model_dump(),
                             score=m.scores.get("dense", m.scores.get("semantic", 0.0)),
                             scores=m.scores, reason=m.reason)
                for m in found.turns if m.id in turns]
    if "event" in wanted:
        for m in found.events:
            event = bot.memory.events.get(scope, m.id)
            if event is not None:
                out.append(ScoredMemory(**_of_event(event).model_dump(),
                                        score=m.scores.get("semantic", 0.0), scores=m.scores,
                                        reason=m.reason))
    vector = bot.memory.embedder.embed([query])[0]
    if "trait" in wanted:
        out += [ScoredMemory(**_of_trait(t).model_dump(), score=round(sim, 4),
                             scores={"semantic": round(sim, 4)}, reason="the trait's meaning")
                for t, sim in bot.personas.search(scope, vector, k)]
    if "feedback" in wanted:
        out += [ScoredMemory(**_of_feedback(r).model_dump(), score=round(sim, 4),
                             scores={"semantic": round(sim, 4)}, reason="the request it corrects")
                for r, sim in bot.memory.feedback.similar(scope, vector)]
    out.sort(key=lambda m: -m.score)
    return out[:k]


def get_item(bot: Kindred, scope: Scope, kind: str, item_id: str) -> MemoryItem:
    kind = _kind(kind)
    item: Any
    if kind == "turn":
        found = bot.memory.turns.get(scope, [item_id])
        item = _of_turn(found[0]) if found else None
    elif kind == "event":
        event = bot.memory.events.get(scope, item_id)
        item = _of_event(event) if event else None
    elif kind == "trait":  # its id, or a unique prefix of it (the short ids shown)
        held = bot.personas.list(scope, include_history=True)
        if any(t.id.startswith(item_id) for t in held) and len(item_id) >= 4:
            trait = bot.personas.get(scope, bot.personas.resolve(scope, item_id))
        else:
            trait = next((t for t in held if t.id == item_id), None)
        item = _of_trait(trait) if trait else None
    else:
        record = bot.memory.feedback.get(scope, item_id)
        item = _of_feedback(record) if record else None
    if item is None:
        raise NotFoundError(f"No {kind} {item_id[:80]!r} for this user: list them with "
                            f"list_memories(kind={kind!r}) or GET /v1/users/{{user}}/memories.")
    return item


def edit_item(bot: Kindred, scope: Scope, kind: str, item_id: str, text: str, *,
              now: float) -> MemoryItem:
    """Replace the text of one item; every store is brought in step with it."""
    text = check_text(text, max_chars=bot.settings.limits.max_message_chars, what="new text")
    current = get_item(bot, scope, kind, item_id)
    if current.kind == "turn":
        turn = bot.memory.turns.get(scope, [item_id])[0].model_copy(update={"text": text})
        bot.memory.turns.replace(scope, turn)
        _patch_thread(bot, scope, turn.conversation, item_id, turn)
        return _of_turn(turn)
    if current.kind == "event":
        event = bot.memory.events.get(scope, item_id)
        edited_event = event.model_copy(update={"summary": text})  # type: ignore[union-attr]
        bot.memory.events.add(scope, edited_event)
        return _of_event(edited_event)
    if current.kind == "trait":
        return _of_trait(bot.personas.correct(scope, current.id, text, now))
    record = bot.memory.feedback.get(scope, item_id)
    edited = FeedbackRecord(**{**record.__dict__, "feedback": text})  # type: ignore[union-attr]
    bot.memory.feedback.replace(scope, edited)
    return _of_feedback(edited)


def delete_item(bot: Kindred, scope: Scope, kind: str, item_id: str) -> None:
    """Delete one item from every store (a turn also from its conversation's short-term
    context, so the next reply cannot show it)."""
    current = get_item(bot, scope, kind, item_id)
    if current.kind == "turn":
        conv = bot.memory.turns.get(scope, [item_id])[0].conversation
        bot.memory.turns.delete(scope, [item_id])
        _patch_thread(bot, scope, conv, item_id, None)
    elif current.kind == "event":
        bot.memory.events.delete(scope, [item_id])
    elif current.kind == "trait":
        bot.personas.delete(scope, current.id)
    else:
        bot.memory.feedback.delete(scope, [item_id])


def _patch_thread(bot: Kindred, scope: Scope, conv: str, turn_id: str, turn: Turn | None) -> None:
    """Replace (or, with None, drop) the turn in the thread's short-term context."""
    config = thread_config(scope, conv)
    state = bot.graph.get_state(config)
    stm = list(state.values.get("stm") or [])
    ids = [(t.id if isinstance(t, Turn) else t.get("id")) for t in stm]
    if turn_id not in ids:
        return
    at = ids.index(turn_id)
    stm = stm[:at] + ([turn] if turn is not None else []) + stm[at + 1:]
    update: dict[str, Any] = {"stm": stm}
    if state.values.get("last_turn_id") == turn_id and turn is None:
        update.update(last_request=None, last_reply=None, last_turn_id=None)
    bot.graph.update_state(state.config, update, as_node="write_back")
