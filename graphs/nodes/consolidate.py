"""``consolidate``: a finished session becomes one long-term event (LD-Agent).

Runs only when the session just ended. It reads the session's turns from the durable turn index
(not from the checkpoint, which keeps only the recent ones), summarises them, and stores the event
with the session's topics, the time of its last turn and its turn ids. The event id is derived from
the session, so running it twice (a retried turn) replaces rather than duplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import Said, TurnContext, TurnState
from memory.scope import Scope
from memory.types import Event, Turn
from personas.retraction import take_back

__all__ = ["consolidate_session", "event_id_for", "make_consolidate", "summaries_ahead"]


def event_id_for(user_id: str, session_id: str) -> str:
    return f"{user_id}/{session_id}/event"


def consolidate_session(services: Services, scope: Scope, session_id: str, session_no: int,
                        conversation: str = "") -> tuple[Event | None, list[str]]:
    """Summarise one finished session into its event (None when it holds no turn), and expire
    the short-term traits it did not rehearse (their ids are returned with the event). Also
    what a restart runs for a session whose consolidation a crash interrupted (see
    ``agent/repair.py``): the event id derives from the session, so it is never doubled."""
    memory = services.memory
    turns = memory.turns.list(scope, session_id)
    if not turns:
        return None, []
    summary = _summary(services.summariser.summarise(_standing(services, scope, turns)), turns)
    counts = Counter(t for turn in turns for t in turn.topics)
    event = Event(id=event_id_for(scope.user, session_id), session_id=session_id,
                  summary=summary, topics=tuple(t for t, _ in counts.most_common()),
                  ts=turns[-1].ts, turn_ids=tuple(t.id for t in turns),
                  conversation=conversation)
    unit = memory.unit()
    memory.events.add(scope, event, unit=unit)
    # MaLP: a session ended, so short-term traits that were not rehearsed may expire; in the
    # event's unit of work, so a kill leaves both or neither (a resumed consolidation redoes both)
    expired = services.personas.flush(scope, session_no, event.ts, unit=unit)
    unit.commit()
    return event, expired


def _standing(services: Services, scope: Scope, turns: Sequence[Turn]) -> list[Turn]:
    """The turns whose words still stand, for the event to tell: not a message that only takes
    something back ("Just kidding!" told as "that just kidding"), nor one whose trait the user
    took back (a user turn gives one trait). Found driving the terminal demo: the event of a
    session read "Sam said … that they can't swim, sadly and that just kidding.", the very fact
    taken back, as a fact."""
    gone: set[str] = set()
    if services.config.personas.enabled:
        later = services.personas.later_changes(scope, [t.id for t in turns])
        gone = {turn_id for turn_id, changes in later.items()
                if any(c.what == "taken back" for c in changes)}
    return [t for t in turns if t.id not in gone
            and not (t.role == "user" and (back := take_back(t.text)) is not None
                     and not back.after)]


def _summary(summary: str, turns: Sequence[Turn]) -> str:
    return summary or turns[-1].text  # a session of small talk: its last words


def summaries_ahead(services: Services, sessions: Sequence[Sequence[Said]]) -> list[str]:
    """The summaries of the sessions a bulk ingest will close (as far as the summariser tells
    without a model call), for the caller to encode in one batch; the event store then finds
    their vectors in the embedder's cache.

    Why: each consolidation encoded its one summary alone, ~9 ms; a LongMemEval haystack closes
    ~50 sessions. A summary that turns out otherwise (a session the runs cut elsewhere) is only
    a vector encoded for nothing: the event is stored with the vector of its own summary."""
    out: list[str] = []
    for said in sessions:
        turns = [Turn(id=f"ahead/{n}", session_id="ahead", idx=n, role=s.role,
                      speaker=s.speaker, text=s.text, ts=s.ts)
                 for n, s in enumerate(x for x in said if x.text)]
        summary = services.summariser.summarise_ahead(turns) if turns else None
        if summary is not None:
            out.append(_summary(summary, turns))
    return out


def make_consolidate(services: Services):
    def consolidate(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        scope, session_id = runtime.context.scope, state.get("ended_session")
        if not session_id:
            return {"closed_event": None}
        event, expired = consolidate_session(services, scope, session_id,
                                             state.get("session_no", 0),
                                             runtime.context.conversation)
        if event is None:
            return {"closed_event": None}
        return {"closed_event": event,
                "trace": state["trace"].model_copy(update={"consolidated_event": event,
                                                           "traits_expired": expired})}

    return consolidate
