"""The HTTP service: Kindred behind JSON routes, for chatbots written in any language.

    kindred serve --port 8765            # or: uvicorn --factory agent.service:app_from_settings

Rooms: ``users.py`` (the per-user routes, one per method of :class:`agent.Kindred`: turns,
conversations, the memory API, export and import), ``openai.py`` (``/v1/chat/completions`` and
``/v1/models``, so an OpenAI client needs nothing else), ``auth.py`` (API keys → tenants, checked
before the body is read), ``errors.py`` (one error shape, error ids, the body limit), ``web.py``
(the web chat at ``/``). Health: ``/health`` says the process is alive, ``/ready`` that the stores
answer and the model is loaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from agent.kindred import Kindred
from agent.service.auth import ApiKeys, Authenticate
from agent.service.errors import BodyLimit, ErrorOut, install_error_shape
from agent.service.openai import add_openai_routes
from agent.service.users import API_PREFIX, add_user_routes
from agent.service.web import add_web_routes

__all__ = ["API_PREFIX", "app_from_settings", "create_app"]

_RESPONSES = {code: {"model": ErrorOut, "description": what} for code, what in (
    (400, "a required header or field is missing"), (401, "no or wrong API key"),
    (404, "unknown user, conversation, model, item or route"), (409, "conflicts with what is "
                                                                     "stored"),
    (413, "body too large"), (422, "bad input: nothing stored"),
    (500, "unexpected failure (error id)"), (503, "model, store or settings unavailable"))}


def create_app(bot: Kindred, *, keys: ApiKeys | None = None, token: str | None = None,
               owns_bot: bool = False) -> FastAPI:
    """An ASGI app serving ``bot``. ``keys``: the API keys and their tenants (default: from
    ``bot.settings.service``); ``token``: one more key, of the default tenant; with no key at all
    the service is open (``kindred serve`` then binds loopback only). ``owns_bot``: close the
    bot's stores when the server shuts down."""
    keys = keys if keys is not None else ApiKeys.from_settings(bot.settings.service)
    if token is not None:
        keys.add(token, "default", min_length=1)

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
    app.add_middleware(Authenticate, keys=keys)  # outermost: the key before any byte of body
    app.state.keys = keys

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

    add_user_routes(app, bot)
    add_openai_routes(app, bot)
    add_web_routes(app, bot, needs_key=bool(keys))
    return app


def app_from_settings() -> FastAPI:
    """The app for ``uvicorn --factory``: a Kindred built from ``KINDRED_*`` settings."""
    from agent.settings import Settings
    from memory.process import apply_process_defaults

    apply_process_defaults()  # the server owns its process (before the stores load torch)
    return create_app(Kindred(settings=Settings()), owns_bot=True)
