"""The per-user routes (``/v1/users/{user}/…``): the Python API over JSON, route by route.

Every route is a thin wrapper over one :class:`agent.Kindred` method, so the service validates,
stores and isolates users exactly as the Python API does. The user is always of the caller's
tenant (:func:`agent.service.auth.scope_of`): a key cannot name another tenant's user. Why sync
routes: Kindred's calls are blocking (model, stores) and serialise per user; FastAPI runs sync
routes in its thread pool, so different users are served in parallel and one user's turns keep
their order.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.kindred import Kindred
from agent.memory_api import MemoryItem, MemoryKind, ScoredMemory
from agent.reply import FeedbackReceipt, MemoryView, Reply, Retraction, Utterance
from agent.service.auth import scope_of
from agent.service.errors import error_line
from agent.transfer import export_schema
from memory.conversations import Conversation
from memory.types import Event
from personas.bank import Trait

__all__ = ["API_PREFIX", "ConversationIn", "EditIn", "EndSessionIn", "ForgetOut", "ImportOut",
           "IngestIn", "IngestOut", "MessageIn", "RenameIn", "TraitIn", "UsersOut",
           "add_user_routes"]

API_PREFIX = "/v1"


class _Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo ('txt') is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


_AT = Field(default=None, description="when it was said: seconds since the epoch or an ISO-8601 "
                                      "date-time (2026-12-01T09:30:00Z); default now")
_CONV = Field(default=None, description="one of the user's conversations (default: 'default')")


class MessageIn(_Strict):
    text: str = Field(description="the user's message")
    at: float | str | None = _AT
    conversation: str | None = _CONV


class EndSessionIn(_Strict):
    at: float | str | None = _AT
    conversation: str | None = _CONV


class IngestIn(_Strict):
    utterances: list[Utterance] = Field(min_length=1)
    conversation: str | None = _CONV


class TraitIn(_Strict):
    text: str
    at: float | str | None = _AT


class EditIn(_Strict):
    text: str = Field(description="the item's new text")


class ConversationIn(_Strict):
    title: str | None = None
    id: str | None = Field(default=None, description="choose the id (default: a fresh c-…)")


class RenameIn(_Strict):
    title: str


class IngestOut(BaseModel):
    turn_ids: list[str]


class ForgetOut(BaseModel):
    user_id: str
    held_memory: bool


class ImportOut(BaseModel):
    user_id: str
    records: int


class UsersOut(BaseModel):
    tenant: str
    users: list[str]


def add_user_routes(app: FastAPI, bot: Kindred) -> None:
    """The per-user routes: each a thin call into one method of ``bot``."""
    prefix = API_PREFIX + "/users/{user_id}"

    @app.get(API_PREFIX + "/users", response_model=UsersOut)
    def users(request: Request) -> UsersOut:
        """The users of the caller's tenant that Kindred holds memory of."""
        tenant = scope_of(request, "probe").tenant
        return UsersOut(tenant=tenant, users=bot.users(tenant))

    @app.post(prefix + "/chat", response_model=Reply)
    def chat(request: Request, user_id: str, body: MessageIn) -> Reply:
        """One turn: the agent's reply with its trace (what it remembered and why)."""
        return bot.chat(scope_of(request, user_id), body.text, at=body.at,
                        conversation=body.conversation)

    @app.post(prefix + "/chat/stream", responses={200: {"content": {"application/x-ndjson": {}}}})
    def chat_stream(request: Request, user_id: str, body: MessageIn) -> StreamingResponse:
        """The reply as NDJSON lines: ``{"token": …}`` as generated, then ``{"reply": Reply}``;
        ``{"retract": {"reason": …}}`` means the tokens so far were a withdrawn draft (clear them)."""
        items = bot.stream(scope_of(request, user_id), body.text, at=body.at,
                           conversation=body.conversation)  # validates before the first byte
        return StreamingResponse(_ndjson(items), media_type="application/x-ndjson")

    @app.post(prefix + "/feedback", response_model=FeedbackReceipt)
    def feedback(request: Request, user_id: str, body: MessageIn) -> FeedbackReceipt:
        """Correct the agent's last reply; later requests like it carry the correction."""
        return bot.feedback(scope_of(request, user_id), body.text, at=body.at,
                            conversation=body.conversation)

    @app.post(prefix + "/end_session", response_model=Event | None)
    def end_session(request: Request, user_id: str,
                    body: EndSessionIn | None = None) -> Event | None:
        """Close the session now: it becomes a long-term event (null when it was empty)."""
        body = body or EndSessionIn()
        return bot.end_session(scope_of(request, user_id), at=body.at,
                               conversation=body.conversation)

    @app.post(prefix + "/ingest", response_model=IngestOut)
    def ingest(request: Request, user_id: str, body: IngestIn) -> IngestOut:
        """Store dialogue that already happened (imports, replays), without generating."""
        return IngestOut(turn_ids=bot.ingest(scope_of(request, user_id), body.utterances,
                                             conversation=body.conversation))

    # -- conversations
    @app.get(prefix + "/conversations", response_model=list[Conversation])
    def conversations(request: Request, user_id: str) -> list[Conversation]:
        """The user's conversations, most recently written first."""
        return bot.list_conversations(scope_of(request, user_id))

    @app.post(prefix + "/conversations", response_model=Conversation, status_code=201)
    def create_conversation(request: Request, user_id: str,
                            body: ConversationIn | None = None) -> Conversation:
        body = body or ConversationIn()
        return bot.create_conversation(scope_of(request, user_id), body.title,
                                       conversation_id=body.id)

    @app.patch(prefix + "/conversations/{conversation}", response_model=Conversation)
    def rename_conversation(request: Request, user_id: str, conversation: str,
                            body: RenameIn) -> Conversation:
        return bot.rename_conversation(scope_of(request, user_id), conversation, body.title)

    @app.delete(prefix + "/conversations/{conversation}", status_code=204)
    def delete_conversation(request: Request, user_id: str, conversation: str) -> None:
        """Delete the conversation's thread, turns and events (traits and corrections stay)."""
        bot.delete_conversation(scope_of(request, user_id), conversation)

    # -- what is remembered
    @app.get(prefix + "/memories", response_model=MemoryView)
    def memories(request: Request, user_id: str, conversation: str | None = None) -> MemoryView:
        """The conversation's open session, past events and corrections."""
        return bot.memories(scope_of(request, user_id), conversation=conversation)

    @app.get(prefix + "/memory/items", response_model=list[MemoryItem])
    def list_items(request: Request, user_id: str, kind: MemoryKind | None = None,
                   conversation: str | None = None, history: bool = False) -> list[MemoryItem]:
        """Every item of the user (turns, events, traits, feedback), oldest first."""
        return bot.list_memories(scope_of(request, user_id), kind, conversation=conversation,
                                 include_history=history)

    @app.get(prefix + "/memory/search", response_model=list[ScoredMemory])
    def search_items(request: Request, user_id: str,
                     q: str = Query(min_length=1, max_length=20_000),
                     k: int = Query(default=10, ge=1, le=200),
                     kind: list[MemoryKind] | None = Query(default=None)) -> list[ScoredMemory]:
        """Items of every kind ranked for ``q``, with the scores that ranked them."""
        return bot.search_memories(scope_of(request, user_id), q, k=k, kinds=kind)

    @app.get(prefix + "/memory/items/{kind}/{item_id:path}", response_model=MemoryItem)
    def get_item(request: Request, user_id: str, kind: MemoryKind, item_id: str) -> MemoryItem:
        return bot.get_memory(scope_of(request, user_id), kind, item_id)

    @app.patch(prefix + "/memory/items/{kind}/{item_id:path}", response_model=MemoryItem)
    def edit_item(request: Request, user_id: str, kind: MemoryKind, item_id: str,
                  body: EditIn) -> MemoryItem:
        """Replace the item's text (every store is brought in step)."""
        return bot.edit_memory(scope_of(request, user_id), kind, item_id, body.text)

    @app.delete(prefix + "/memory/items/{kind}/{item_id:path}", status_code=204)
    def delete_item(request: Request, user_id: str, kind: MemoryKind, item_id: str) -> None:
        bot.delete_memory(scope_of(request, user_id), kind, item_id)

    @app.get(prefix + "/export")
    def export(request: Request, user_id: str) -> dict[str, Any]:
        """Everything held about the user (JSON Schema: GET /v1/schemas/export)."""
        return bot.export_user(scope_of(request, user_id)).model_dump(mode="json", by_alias=True)

    @app.post(prefix + "/import", response_model=ImportOut)
    def import_(request: Request, user_id: str, document: dict[str, Any],
                replace: bool = False) -> ImportOut:
        """Restore an export under this user (409 if they have memory, unless ?replace=true)."""
        count = bot.import_user(scope_of(request, user_id), document, replace=replace)
        return ImportOut(user_id=user_id, records=count)

    @app.get(API_PREFIX + "/schemas/export")
    def schema() -> dict[str, Any]:
        """The JSON Schema of the export document."""
        return export_schema()

    @app.get(prefix + "/persona")
    def persona(request: Request, user_id: str, owner: Literal["user", "agent"] = "user",
                history: bool = False) -> list[dict[str, Any]]:
        return [_trait(t) for t in bot.persona(scope_of(request, user_id), owner,
                                               include_history=history)]

    @app.put(prefix + "/persona/{trait_id}")
    def correct_trait(request: Request, user_id: str, trait_id: str,
                      body: TraitIn) -> dict[str, Any]:
        return _trait(bot.correct_trait(scope_of(request, user_id), trait_id, body.text,
                                        at=body.at))

    @app.delete(prefix + "/persona/{trait_id}", status_code=204)
    def delete_trait(request: Request, user_id: str, trait_id: str) -> None:
        bot.delete_trait(scope_of(request, user_id), trait_id)

    @app.delete(prefix, response_model=ForgetOut)
    def forget(request: Request, user_id: str) -> ForgetOut:
        """Remove every trace of the user from every store."""
        return ForgetOut(user_id=user_id, held_memory=bot.forget(scope_of(request, user_id)))


def _trait(trait: Trait) -> dict[str, Any]:
    data = dataclasses.asdict(trait)
    data.pop("merged", None)  # a transient flag of the last observe, not part of the trait
    return data


def _ndjson(items: Iterator[str | Retraction | Reply]) -> Iterator[bytes]:
    """The stream as NDJSON lines. A failure after the first line ends the stream with one
    ``{"error": {"error", "detail"}}`` line and a clean end of the response (the status line was
    sent already), so the client knows, and the connection stays usable."""
    try:
        for item in items:
            if isinstance(item, Reply):
                payload: dict[str, Any] = {"reply": item.model_dump(mode="json")}
            elif isinstance(item, Retraction):
                payload = {"retract": item.model_dump(mode="json")}
            else:
                payload = {"token": item}
            yield (json.dumps(payload) + "\n").encode()
    except Exception as exc:  # the status line is sent: end the stream with the error, cleanly
        yield error_line(exc)
