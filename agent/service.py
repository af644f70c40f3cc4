"""The HTTP service: the Python API over JSON, for chatbots written in any language.

    kindred serve --port 8765            # or: uvicorn --factory agent.service:app_from_settings

Every route is a thin wrapper over one :class:`agent.Kindred` method, so the service validates,
stores and isolates users exactly as the Python API does. Why sync routes: Kindred's calls are
blocking (model, stores) and serialise per user; FastAPI runs sync routes in its thread pool, so
different users are served in parallel and one user's turns keep their order.

Errors map to status codes by kind (bad input 422, unknown user 404, configuration or model missing
503, anything else of Kindred's 500) with ``{"error": <kind>, "detail": <what to do>}`` as the body.
When ``KINDRED_SERVICE__TOKEN`` is set every route but ``/health`` needs ``Authorization: Bearer``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi_offline import FastAPIOffline
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.http_errors import BodyLimit, ErrorOut, error_line, install_error_shape
from agent.kindred import Kindred
from agent.reply import FeedbackReceipt, MemoryView, Reply, Retraction, Utterance
from memory.types import Event
from personas.bank import Trait

__all__ = ["API_PREFIX", "EndSessionIn", "ForgetOut", "IngestIn", "IngestOut", "MessageIn",
           "TraitIn", "app_from_settings", "create_app"]

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


def create_app(bot: Kindred, *, token: str | None = None, owns_bot: bool = False) -> FastAPI:
    """An ASGI app serving ``bot``. ``token``: the bearer token every route except /health needs;
    ``owns_bot``: close the bot's stores when the server shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_bot:
            bot.close()

    # the docs' Swagger UI and ReDoc assets are served by the app itself: /docs works offline
    app = FastAPIOffline(title="Kindred", version="0.1.0", lifespan=lifespan,
                         description="A dialogue agent that remembers the people it talks to.",
                         responses={code: {"model": ErrorOut, "description": what}
                                    for code, what in ((401, "no or wrong token"),
                                                       (404, "unknown user or route"),
                                                       (413, "body too large"),
                                                       (422, "bad input: nothing stored"),
                                                       (500, "unexpected failure (error id)"),
                                                       (503, "model, store or settings "
                                                             "unavailable"))})
    install_error_shape(app)
    app.add_middleware(BodyLimit, max_bytes=bot.settings.service.max_body_bytes)

    def _auth(authorization: str | None = Header(default=None)) -> None:
        if token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given, token):
            raise _Unauthorised()

    @app.exception_handler(_Unauthorised)
    async def _unauthorised(request: Request, exc: _Unauthorised) -> JSONResponse:
        return JSONResponse({"error": "Unauthorised",
                             "detail": "send 'Authorization: Bearer <KINDRED_SERVICE__TOKEN>'"},
                            status_code=401)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": bot.model_name}

    prefix = API_PREFIX + "/users/{user_id}"
    guarded = [Depends(_auth)]

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

    return app


class _Unauthorised(Exception):
    """A request without the service token (kept out of KindredError: it is not the agent's)."""


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


def app_from_settings() -> FastAPI:
    """The app for ``uvicorn --factory``: a Kindred built from ``KINDRED_*`` settings."""
    from agent.settings import Settings
    from memory.process import apply_process_defaults

    apply_process_defaults()  # the server owns its process (before the stores load torch)
    settings = Settings()
    token = settings.service.token.get_secret_value() if settings.service.token else None
    return create_app(Kindred(settings=settings), token=token, owns_bot=True)
