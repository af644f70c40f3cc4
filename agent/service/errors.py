"""One error shape for every HTTP answer that is not a success: ``{"error": kind, "detail": …}``.

Why one module: FastAPI answers validation errors as ``{"detail": [...]}``, unknown routes as
``{"detail": "Not Found"}`` and an unexpected exception as a plain-text 500 (after which uvicorn
drops the keep-alive connection). Here every one of them gets the same JSON shape, an unexpected
failure carries an ``error_id`` that the server log prints beside the traceback, and a request
body over the size limit is refused with 413 before it is read whole.

Kindred's own errors map to status codes by kind: a request missing who it is for 400, bad input
422, an unknown user, model or item 404, configuration, model or store unavailable 503, anything
else of Kindred's 500.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from memory.errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    KindredError,
    ModelUnavailableError,
    NotFoundError,
    StoreError,
)

__all__ = ["STATUS", "BodyLimit", "ErrorOut", "LastResort", "error_body", "error_line",
           "install_error_shape", "status_of"]

_log = logging.getLogger("kindred.service")

STATUS: tuple[tuple[type[KindredError], int], ...] = (
    (BadRequestError, 400), (InvalidInputError, 422), (NotFoundError, 404), (ConflictError, 409),
    (ConfigurationError, 503),
    (ModelUnavailableError, 503), (StoreError, 503), (KindredError, 500))
_HTTP_NAMES = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorised", 413: "TooLarge"}


class ErrorOut(BaseModel):
    """The body of every error answer (on the OpenAI routes ``error`` is OpenAI's object with the
    same kind as ``type`` and the detail as ``message``)."""

    error: str
    detail: str
    error_id: str | None = None


def status_of(exc: KindredError) -> int:
    return next(code for kind, code in STATUS if isinstance(exc, kind))


# routes an OpenAI client calls: their errors also carry OpenAI's {"error": {"message", …}}, the
# field the official clients show (the same kind and detail as everywhere else)
_OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")


def error_body(status: int, error: str, detail: str, path: str = "",
               error_id: str | None = None) -> dict[str, Any]:
    """The one error shape (with OpenAI's error object on the routes an OpenAI client calls)."""
    body: dict[str, Any] = ErrorOut(error=error, detail=detail,
                                    error_id=error_id).model_dump(exclude_none=True)
    if path.startswith(_OPENAI_PATHS):
        body["error"] = {"message": detail, "type": error, "code": status, "param": None}
    return body


def _json(status: int, error: str, detail: str, error_id: str | None = None,
          request: Request | None = None) -> JSONResponse:
    path = request.url.path if request is not None else ""
    return JSONResponse(error_body(status, error, detail, path, error_id), status_code=status)


def _unexpected(exc: BaseException, where: str) -> tuple[str, str]:
    """Log an unexpected failure with a fresh id; returns the id and what the client is told."""
    error_id = uuid.uuid4().hex[:12]
    _log.error("unexpected failure %s in %s", error_id, where, exc_info=exc)
    return error_id, (f"An unexpected error happened (error id {error_id}, in the server log): "
                      "nothing of this request was stored. Please report it with the id.")


def error_line(exc: BaseException) -> bytes:
    """The last line of a stream that failed after it started (NDJSON)."""
    if isinstance(exc, KindredError):
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
    else:
        error_id, detail = _unexpected(exc, "a stream")
        body = {"error": "InternalError", "detail": detail, "error_id": error_id}
    return (json.dumps({"error": body}) + "\n").encode()


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) + " (nothing was stored; see /docs for the request schema)."


def install_error_shape(app: FastAPI) -> None:
    """Handlers and a last-resort middleware that give every error the one JSON shape."""

    @app.exception_handler(KindredError)
    async def _kindred(request: Request, exc: KindredError) -> JSONResponse:
        return _json(status_of(exc), type(exc).__name__, str(exc), request=request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(422, "InvalidInputError", _validation_detail(exc), request=request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = _HTTP_NAMES.get(exc.status_code, f"HTTP{exc.status_code}")
        detail = str(exc.detail)
        if exc.status_code == 404:
            detail = f"No route {request.method} {request.url.path}: see /docs for the routes."
        return _json(exc.status_code, name, detail, request=request)

    app.add_middleware(LastResort)


class LastResort:
    """ASGI middleware: an unexpected exception before the answer started is one JSON 500 with
    an id, logged (after it started, the stream's own error line has said so).

    Why plain ASGI and not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs
    the rest of the app in a task of its own and passes the response through memory streams,
    milliseconds of event-loop work on every request of a service whose turns take tens."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except _TooLarge:
            raise  # BodyLimit answers it
        except Exception as exc:  # anything unexpected: one JSON 500 with an id, logged
            if started:
                raise
            request = Request(scope)
            error_id, detail = _unexpected(exc, f"{request.method} {request.url.path}")
            await _json(500, "InternalError", detail, error_id, request)(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is a 413, refused from its
    Content-Length before anything is read, or as soon as a body without one goes over."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: dict, receive: Callable, send: Callable) -> None:
        response = _json(413, "TooLarge", f"The request body is larger than {self.max_bytes:,} "
                         "bytes: send less per request (ingest in several calls), or raise "
                         "KINDRED_SERVICE__MAX_BODY_BYTES.")
        await response(scope, receive, send)


class _TooLarge(Exception):
    """Raised inside the app's receive when a body without a Content-Length goes over the limit."""
