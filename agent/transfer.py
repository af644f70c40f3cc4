"""Export and import: everything Kindred holds about one user, as one versioned JSON document.

Why records and threads, not vectors: the records are the log (:mod:`memory.unit`); words and
vectors are derived from them, so an import derives them again with the importing deployment's
embedder, and a document moves between data dirs, backends and embedders unchanged. The
conversation threads (the open session, its short-term turns, the last exchange) go with it, so an
imported user carries on mid-session where they were.

The document's JSON Schema is :func:`export_schema` (``docs/export.schema.json``,
``GET /v1/schemas/export``); ``schema`` names its version, and an import refuses a version it
does not know with what to do. A round trip (export, import elsewhere, export again) gives the same
document but for ``exported_at`` (tested).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs import thread_config
from memory.backends.base import Record
from memory.conversations import stored_id
from memory.errors import ConflictError, InvalidInputError
from memory.feedback import FeedbackMemory
from memory.scope import Scope
from memory.turns import TurnIndex
from memory.types import Event, Turn
from personas.bank import record_trait

if TYPE_CHECKING:  # pragma: no cover
    from agent.kindred import Kindred

__all__ = ["EXPORT_SCHEMA", "ExportDocument", "ExportedRecord", "ExportedThread",
           "export_schema", "export_user", "import_user", "parse_document"]

EXPORT_SCHEMA = "kindred.export/1"
# every kind of record a user holds, in the order an import restores them
_KINDS = ("conversation", "turn", "event", "trait", "feedback", "trace")
_THREAD_FIELDS = ("session_id", "session_no", "stm", "last_ts", "last_request", "last_reply",
                  "last_turn_id")


class ExportedRecord(BaseModel):
    """One stored item: its kind, id, lookup columns, and its fields (``value``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["conversation", "turn", "event", "trait", "feedback", "trace"]
    id: str = Field(min_length=1, max_length=400)
    ts: float = 0.0
    session: str = ""
    seq: int = 0
    status: str = ""
    tag: str = ""
    conversation: str = ""
    value: dict[str, Any]


class ExportedThread(BaseModel):
    """A conversation's thread: its open session and the last exchange."""

    model_config = ConfigDict(extra="forbid")

    conversation: str = Field(description="'default' or the conversation's id")
    session_id: str | None = None
    session_no: int = 0
    stm: list[Turn] = Field(default_factory=list)
    last_ts: float | None = None
    last_request: str | None = None
    last_reply: str | None = None
    last_turn_id: str | None = None


class ExportDocument(BaseModel):
    """Everything Kindred holds about one user."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_version: Literal["kindred.export/1"] = Field(EXPORT_SCHEMA, alias="schema")
    exported_at: float
    user: str
    tenant: str
    agent: str = Field(description="the agent's name when exported")
    records: list[ExportedRecord]
    threads: list[ExportedThread]


def export_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ExportDocument` (as published in docs/export.schema.json)."""
    schema = ExportDocument.model_json_schema(by_alias=True)
    schema["$id"] = "https://kindred.dev/schemas/export-1.json"
    return schema


def export_user(bot: Kindred, scope: Scope) -> ExportDocument:
    """The user's records of every kind and the threads of every conversation."""
    records = bot.memory.stores.records
    out = [ExportedRecord(kind=r.kind, id=r.id, ts=r.ts, session=r.session, seq=r.seq,  # type: ignore[arg-type]
                          status=r.status, tag=r.tag, conversation=r.conversation,
                          value=dict(r.value))
           for kind in _KINDS for r in records.list(scope, kind)]
    convs = {"", *(stored_id(r.id) for r in out if r.kind == "conversation")}
    threads = []
    for conv in sorted(convs):
        values = bot._thread_values(scope, conv)
        if values:
            threads.append(ExportedThread(conversation=conv or "default",
                                          **{k: values.get(k) for k in _THREAD_FIELDS
                                             if values.get(k) is not None}))
    return ExportDocument(exported_at=time.time(), user=scope.user, tenant=scope.tenant,
                          agent=bot.agent_name, records=out, threads=threads)


def parse_document(document: ExportDocument | dict[str, Any]) -> ExportDocument:
    if isinstance(document, ExportDocument):
        return document
    if not isinstance(document, dict):
        raise InvalidInputError("An import takes the JSON object an export wrote (a dict).")
    if document.get("schema") != EXPORT_SCHEMA:
        raise InvalidInputError(f"This document's schema is {document.get('schema')!r}; this "
                                f"version of Kindred reads {EXPORT_SCHEMA!r}: export it again "
                                "with a matching version (or upgrade Kindred).")
    try:
        return ExportDocument.model_validate(document)
    except ValidationError as exc:
        raise InvalidInputError(f"The export document is malformed: {exc}") from exc


def import_user(bot: Kindred, scope: Scope, document: ExportDocument | dict[str, Any], *,
                replace: bool = False) -> int:
    """Restore an export into ``scope``; returns how many records were restored. A user who
    already has memory is refused unless ``replace`` (which forgets them first)."""
    doc = parse_document(document)
    if bot.known_user(scope):
        if not replace:
            raise ConflictError(f"User {scope.user!r} already has memory here: import under "
                                "another user id, or pass replace=True (?replace=true) to "
                                "forget it first.")
        bot.forget(scope)
    by_kind: dict[str, list[Record]] = {kind: [] for kind in _KINDS}
    for r in doc.records:
        by_kind[r.kind].append(Record(r.kind, r.id, r.value, ts=r.ts, session=r.session,
                                      seq=r.seq, status=r.status, tag=r.tag,
                                      conversation=r.conversation))
    memory = bot.memory
    with bot._lock(scope):
        memory.stores.records.put(scope, by_kind["conversation"] + by_kind["trace"])
        turns = [TurnIndex.to_turn(r) for r in by_kind["turn"]]
        for start in range(0, len(turns), 256):
            memory.turns.add(scope, turns[start:start + 256])
        for r in by_kind["event"]:
            memory.events.add(scope, Event(id=r.id, session_id=r.session, ts=r.ts,
                                           summary=r.value["summary"],
                                           topics=tuple(r.value.get("topics") or ()),
                                           turn_ids=tuple(r.value.get("turn_ids") or ()),
                                           conversation=r.conversation))
        bot.personas.restore(scope, [record_trait(r) for r in by_kind["trait"]])
        memory.feedback.restore(scope, [FeedbackMemory.from_record(r)
                                        for r in by_kind["feedback"]])
        _restore_threads(bot, scope, doc.threads)
    return len(doc.records)


def _restore_threads(bot: Kindred, scope: Scope, threads: Sequence[ExportedThread]) -> None:
    for thread in threads:
        values = thread.model_dump(exclude={"conversation"})
        values["stm"] = list(thread.stm)
        bot.graph.update_state(thread_config(scope, stored_id(thread.conversation)), values,
                               as_node="write_back")
