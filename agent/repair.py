"""Repair on open: the record store is the log; vectors are derived from it and put right.

Why: a turn is written to the records (and their words, in the same SQLite transaction) first and
to the vector index after (:mod:`memory.unit`), so a process killed between the two leaves records
whose vectors are missing: a turn that is never found by meaning, an event that is never
recalled. And a session is marked closed in its thread before its event is written, so a kill in
between left a closed session without an event, for good (measured: 2 of 13 kills during
``end_session``). When Kindred opens a data dir it therefore compares, user by user, the ids in
the records with those in each vector collection: missing vectors are derived again from the
records, vectors without a record (a ``forget`` or delete cut short) are removed, and every closed
session that has turns but no event is consolidated now. Everything it does is idempotent (ids
derive from the records), so a kill during the repair is repaired by the next open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from graphs import thread_config
from graphs.nodes import consolidate_session, event_id_for, session_id_for
from memory.conversations import stored_id
from memory.feedback import FeedbackMemory
from memory.scope import Scope
from memory.turns import TurnIndex
from personas.bank import record_trait

if TYPE_CHECKING:  # pragma: no cover
    from agent.kindred import Kindred

__all__ = ["RepairReport", "repair"]


@dataclass
class RepairReport:
    """What one repair put right (all zeros on a data dir that needed nothing)."""

    vectors_added: dict[str, int] = field(default_factory=dict)
    vectors_removed: dict[str, int] = field(default_factory=dict)
    words_added: int = 0
    events_made: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.vectors_added or self.vectors_removed or self.words_added
                    or self.events_made)


def repair(bot: Kindred, progress: Callable[[int, int], Any] | None = None) -> RepairReport:
    """Put every user's stores right (see the module docstring); ``progress(done, total)``
    after each user."""
    report = RepairReport()
    scopes = list(bot.memory.stores.records.scopes())
    for n, scope in enumerate(scopes, 1):
        with bot._lock(scope):  # a replica may be mid-turn for this user
            _vectors(bot, scope, report)
            _sessions(bot, scope, report)
        if progress is not None:
            progress(n, len(scopes))
    return report


def _count(counts: dict[str, int], kind: str, n: int) -> None:
    if n:
        counts[kind] = counts.get(kind, 0) + n


def _vectors(bot: Kindred, scope: Scope, report: RepairReport) -> None:
    stores, memory = bot.memory.stores, bot.memory
    # turns: vectors and words
    turns = stores.records.list(scope, "turn")
    held = {item["id"] for item in stores.vectors.get("turns", scope)}
    wanted = {r.id for r in turns}
    missing = [TurnIndex.to_turn(r) for r in turns if r.id not in held]
    worded = set(stores.lexical.ids(scope))
    unworded = [TurnIndex.to_turn(r) for r in turns if r.id not in worded and r.id in held]
    pieces_held = {item["id"] for item in stores.vectors.get("pieces", scope)}
    for start in range(0, len(missing), 256):
        memory.turns.add(scope, missing[start:start + 256])  # with their pieces
    if unworded:
        memory.turns.add(scope, unworded)
    _count(report.vectors_added, "turns", len(missing))
    report.words_added += len(unworded)
    _drop(bot, "turns", scope, held - wanted, report)
    _pieces(bot, scope, [TurnIndex.to_turn(r) for r in turns], {t.id for t in missing},
            pieces_held, report)
    # events
    events = {e.id: e for e in memory.events.list(scope)}
    held = {item["id"] for item in stores.vectors.get("events", scope)}
    for event_id in events.keys() - held:
        memory.events.add(scope, events[event_id])
    _count(report.vectors_added, "events", len(events.keys() - held))
    _drop(bot, "events", scope, held - events.keys(), report)
    # traits: active ones have a vector
    traits = [record_trait(r) for r in stores.records.list(scope, "trait")]
    active = {t.id for t in traits if t.status == "active"}
    held = {item["id"] for item in stores.vectors.get("traits", scope)}
    lacking = [t for t in traits if t.id in active - held]
    if lacking:
        bot.personas.restore(scope, lacking)
    _count(report.vectors_added, "traits", len(lacking))
    _drop(bot, "traits", scope, held - active, report)
    # feedback
    records = {r.id: r for r in stores.records.list(scope, "feedback")}
    held = {item["id"] for item in stores.vectors.get("feedback", scope)}
    lacking_fb = [FeedbackMemory.from_record(records[i]) for i in records.keys() - held]
    memory.feedback.restore(scope, lacking_fb)
    _count(report.vectors_added, "feedback", len(lacking_fb))
    _drop(bot, "feedback", scope, held - records.keys(), report)


def _pieces(bot: Kindred, scope: Scope, turns: list, stored_again: set[str], held: set[str],
            report: RepairReport) -> None:
    """Long turns whose piece vectors are missing are stored again (the same ids: idempotent);
    pieces of no turn are removed. ``stored_again``: turns the repair just stored, with their
    pieces (their pieces are wanted, not orphans: dropping them left a long turn found by its
    first piece only until the next open); ``held``: the piece ids stored before that."""
    wanted = {turn.id: [pid for pid, _ in bot.memory.turns.pieces_of(turn)] for turn in turns}
    lacking = [t for t in turns if t.id not in stored_again and not held.issuperset(wanted[t.id])]
    for start in range(0, len(lacking), 256):
        bot.memory.turns.add(scope, lacking[start:start + 256])
    # every wanted piece not held before was stored now (with its turn, or just above)
    _count(report.vectors_added, "pieces", sum(len(set(ids) - held) for ids in wanted.values()))
    _drop(bot, "pieces", scope, held - {p for ids in wanted.values() for p in ids}, report)


def _drop(bot: Kindred, collection: str, scope: Scope, ids: set[str],
          report: RepairReport) -> None:
    if ids:
        bot.memory.stores.vectors.delete(collection, scope, sorted(ids))
        bot.memory.drop_caches(scope)
        _count(report.vectors_removed, collection, len(ids))


def _sessions(bot: Kindred, scope: Scope, report: RepairReport) -> None:
    """Consolidate every closed session of every conversation that has turns but no event."""
    events = {e.id for e in bot.memory.events.list(scope)}
    convs = {"", *(stored_id(c.id) for c in bot.conversations.list(scope))}
    for conv in sorted(convs):
        values = bot.graph.get_state(thread_config(scope, conv)).values
        number = values.get("session_no", 0)
        open_session = values.get("session_id")
        last_closed = number - 1 if open_session else number
        for n in range(1, last_closed + 1):  # every one: a kill can leave any behind
            session_id = session_id_for(n, conv)
            if event_id_for(scope.user, session_id) in events:
                continue
            event, _ = consolidate_session(bot._services, scope, session_id, number, conv)
            if event is not None:
                report.events_made.append(event.id)
