"""The per-user routes (``/v1/users/{user}/…``): the Python API over JSON, route by route.

Every route is a thin wrapper over one :class:`agent.Kindred` method, so the service validates,
stores and isolates users exactly as the Python API does. Why sync routes: Kindred's calls are
blocking (model, stores) and serialise per user; FastAPI runs sync routes in its thread pool, so
different users are served in parallel and one user's turns keep their order.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.kindred import Kindred
from agent.service.errors import error_line
from agent.reply import FeedbackReceipt, MemoryView, Reply, Retraction, Utterance
from memory.types import Event
from personas.bank import Trait

__all__ = ["API_PREFIX", "EndSessionIn", "ForgetOut", "IngestIn", "IngestOut", "MessageIn",
           "TraitIn", "add_user_routes"]

API_PREFIX = "/v1"


class _Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo ('txt') is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


_AT = Field(default=None, description="when it was said: seconds since the epoch or an ISO-8601 "
                                      "date-time (2026-12-01T09:30:00Z); default now")


class MessageIn(_Strict):
    text: str = Field(description="the user's message")
    at: float | str | None = _AT


class EndSessionIn(_Strict):
    at: float | str | None = _AT


class IngestIn(_Strict):
    utterances: list[Utterance] = Field(min_length=1)


class TraitIn(_Strict):
    text: str
    at: float | str | None = _AT


class IngestOut(BaseModel):
    turn_ids: list[str]


class ForgetOut(BaseModel):
    user_id: str
    held_memory: bool


def add_user_routes(app: FastAPI, bot: Kindred, guarded: list[Any]) -> None:
    """The per-user routes: each a thin call into one method of ``bot``."""
    prefix = API_PREFIX + "/users/{user_id}"

    @app.post(prefix + "/chat", response_model=Reply, dependencies=guarded)
    def chat(user_id: str, body: MessageIn) -> Reply:
        """One turn: the agent's reply with its trace (what it remembered and why)."""
        return bot.chat(user_id, body.text, at=body.at)

    @app.post(prefix + "/chat/stream", dependencies=guarded,
              responses={200: {"content": {"application/x-ndjson": {}}}})
    def chat_stream(user_id: str, body: MessageIn) -> StreamingResponse:
        """The reply as NDJSON lines: ``{"token": …}`` as generated, then ``{"reply": Reply}``;
        ``{"retract": {"reason": …}}`` means the tokens so far were a withdrawn draft (clear them)."""
        items = bot.stream(user_id, body.text, at=body.at)  # validates before the first byte
        return StreamingResponse(_ndjson(items), media_type="application/x-ndjson")

    @app.post(prefix + "/feedback", response_model=FeedbackReceipt, dependencies=guarded)
    def feedback(user_id: str, body: MessageIn) -> FeedbackReceipt:
        """Correct the agent's last reply; later requests like it carry the correction."""
        return bot.feedback(user_id, body.text, at=body.at)

    @app.post(prefix + "/end_session", response_model=Event | None, dependencies=guarded)
    def end_session(user_id: str, body: EndSessionIn | None = None) -> Event | None:
        """Close the session now: it becomes a long-term event (null when it was empty)."""
        return bot.end_session(user_id, at=body.at if body else None)

    @app.post(prefix + "/ingest", response_model=IngestOut, dependencies=guarded)
    def ingest(user_id: str, body: IngestIn) -> IngestOut:
        """Store dialogue that already happened (imports, replays), without generating."""
        return IngestOut(turn_ids=bot.ingest(user_id, body.utterances))

    @app.get(prefix + "/memories", response_model=MemoryView, dependencies=guarded)
    def memories(user_id: str) -> MemoryView:
        return bot.memories(user_id)

    @app.get(prefix + "/persona", dependencies=guarded)
    def persona(user_id: str, owner: Literal["user", "agent"] = "user",
                history: bool = False) -> list[dict[str, Any]]:
        return [_trait(t) for t in bot.persona(user_id, owner, include_history=history)]

    @app.put(prefix + "/persona/{trait_id}", dependencies=guarded)
    def correct_trait(user_id: str, trait_id: str, body: TraitIn) -> dict[str, Any]:
        return _trait(bot.correct_trait(user_id, trait_id, body.text, at=body.at))

    @app.delete(prefix + "/persona/{trait_id}", status_code=204, dependencies=guarded)
    def delete_trait(user_id: str, trait_id: str) -> None:
        bot.delete_trait(user_id, trait_id)

    @app.delete(prefix, response_model=ForgetOut, dependencies=guarded)
    def forget(user_id: str) -> ForgetOut:
        """Remove every trace of the user from every store."""
        return ForgetOut(user_id=user_id, held_memory=bot.forget(user_id))


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
