"""The HTTP service: Kindred behind JSON routes, for chatbots written in any language.

    kindred serve --port 8765            # or: uvicorn --factory agent.service:app_from_settings

Rooms: ``users.py`` (the per-user routes, one per method of :class:`agent.Kindred`),
``openai.py`` (``/v1/chat/completions`` and ``/v1/models``, so an OpenAI client needs nothing
else), ``errors.py`` (one error shape, error ids, the body limit). Health: ``/health`` says the
process is alive, ``/ready`` that the stores answer and the model is loaded.

When ``KINDRED_SERVICE__TOKEN`` is set every route but ``/health`` and ``/ready`` needs
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from agent.kindred import Kindred
from agent.service.errors import BodyLimit, ErrorOut, install_error_shape
from agent.service.openai import add_openai_routes
from agent.service.users import API_PREFIX, add_user_routes

__all__ = ["API_PREFIX", "app_from_settings", "create_app"]

_RESPONSES = {code: {"model": ErrorOut, "description": what} for code, what in (
    (400, "a required header or field is missing"), (401, "no or wrong token"),
    (404, "unknown user, model or route"), (413, "body too large"),
    (422, "bad input: nothing stored"), (500, "unexpected failure (error id)"),
    (503, "model, store or settings unavailable"))}


class _Unauthorised(Exception):
    """A request without the service token (kept out of KindredError: it is not the agent's)."""


def create_app(bot: Kindred, *, token: str | None = None, owns_bot: bool = False) -> FastAPI:
    """An ASGI app serving ``bot``. ``token``: the bearer token every route except /health and
    /ready needs; ``owns_bot``: close the bot's stores when the server shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_bot:
            bot.close()

    # the docs' Swagger UI and ReDoc assets are served by the app itself: /docs works offline
    app = FastAPIOffline(title="Kindred", version="0.1.0", lifespan=lifespan,
                         description="A dialogue agent that remembers the people it talks to.",
                         responses=_RESPONSES)
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
        """Liveness: the process answers."""
        return {"status": "ok", "model": bot.model_name}

    @app.get("/ready")
    def ready() -> JSONResponse:
        """Readiness: the stores answer and the chat model is loaded (503 otherwise)."""
        problems = bot.readiness()
        body = {"status": "ready" if not problems else "not ready", "model": bot.model_name,
                "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    guarded = [Depends(_auth)]
    add_user_routes(app, bot, guarded)
    add_openai_routes(app, bot, guarded)
    return app


def app_from_settings() -> FastAPI:
    """The app for ``uvicorn --factory``: a Kindred built from ``KINDRED_*`` settings."""
    from agent.settings import Settings
    from memory.process import apply_process_defaults

    apply_process_defaults()  # the server owns its process (before the stores load torch)
    settings = Settings()
    token = settings.service.token.get_secret_value() if settings.service.token else None
    return create_app(Kindred(settings=settings), token=token, owns_bot=True)
