"""Kindred behind the OpenAI Chat Completions API: ``POST /v1/chat/completions``, ``GET /v1/models``.

A chatbot that already speaks the OpenAI API points its client at Kindred and gets memory:

* the Kindred user is the request's ``user`` field (OpenAI's own) or the ``X-Kindred-User``
  header, of the tenant the API key belongs to; none is a 400 that says how to send one;
* the conversation is the ``X-Kindred-Conversation`` header or ``metadata.conversation_id``
  (default: the user's default conversation); an unknown one is a 404 saying how to create it;
* the last message is the user's new turn, the only one stored; a client may send the whole
  history on every call: it is never stored again, and when it is sent it becomes the prompt's
  recent context (so an edited or regenerated message is answered as the client sees it);
* ``system`` (and ``developer``) messages are the app's instructions: shown to the model as
  such, never put into memory;
* ``temperature`` and ``max_tokens`` reach the model (every draft of the reply, a regenerated one
  too); ``finish_reason`` is "length" when the model was cut at the token limit; other OpenAI
  fields are accepted and ignored;
* the reply's ``id`` is its trace: ``GET /v1/traces/{id}`` explains it (what was recalled and why,
  the exact prompt).

Streaming follows the official clients' format (``chat.completion.chunk`` objects with
``choices[0].delta``, a last chunk with ``finish_reason``, then ``data: [DONE]``). An OpenAI
client cannot retract text, so the reply is checked first (the review and the persona check run
before any of it is sent) and then streamed: a withdrawn draft never reaches the client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.kindred import Kindred
from agent.reply import Reply, Trace
from agent.service.auth import scope_of
from memory.errors import BadRequestError, InvalidInputError, NotFoundError

__all__ = ["MODELS", "ChatCompletionIn", "ChatMessageIn", "ContentPart", "add_openai_routes"]

MODELS = ("kindred",)  # what `model` may name: Kindred with its configured chat model behind it


class ContentPart(BaseModel):
    """One part of a message's content (text parts are read; others are ignored)."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionIn(BaseModel):
    """The OpenAI request; unknown OpenAI fields are accepted and ignored (``extra="allow"``)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="kindred (GET /v1/models)")
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(default=None, description="whose memory (or X-Kindred-User)")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    metadata: dict[str, str] | None = None
    stream_options: dict[str, Any] | None = None


def _text(message: ChatMessageIn) -> str:
    if isinstance(message.content, str):
        return message.content
    return "\n".join(p.text for p in message.content or [] if p.type == "text" and p.text)


def _split(messages: list[ChatMessageIn]) -> tuple[str, str | None, list[tuple[str, str]] | None]:
    """The new turn, the app's instructions and the client's history of the conversation."""
    if messages[-1].role != "user" or not _text(messages[-1]).strip():
        raise InvalidInputError("The last message must be the user's, with text: Kindred answers "
                                "it and stores it (earlier messages are the conversation so far).")
    instructions = "\n".join(_text(m) for m in messages if m.role in ("system", "developer")
                             and _text(m).strip()) or None
    history = [("user" if m.role == "user" else "agent", _text(m)) for m in messages[:-1]
               if m.role in ("user", "assistant") and _text(m).strip()]
    return _text(messages[-1]), instructions, history or None


def _usage(bot: Kindred, reply: Reply) -> dict[str, int]:
    count = bot.memory.tokens.count
    prompt = sum(count(m["content"]) for m in reply.trace.messages)
    completion = count(reply.text)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _finish(reply: Reply) -> str:
    """"length" when the model stopped at the token limit (the client's ``max_tokens`` or the
    configured one), else "stop", as OpenAI's clients read it."""
    return reply.trace.finish_reason or "stop"


def _chunks(text: str) -> list[str]:
    """The reply in word-sized pieces, as a model would stream it."""
    words = text.split(" ")
    return [w + (" " if n < len(words) - 1 else "") for n, w in enumerate(words)]


def add_openai_routes(app: FastAPI, bot: Kindred) -> None:
    """``/v1/chat/completions``, ``/v1/models`` and ``/v1/traces/{id}`` on ``app``."""

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        """The models an OpenAI client may name (Kindred, with its chat model behind it)."""
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0,
                                            "owned_by": "kindred",
                                            "description": f"memory on {bot.model_name}"}
                                           for name in MODELS]}

    @app.post("/v1/chat/completions", responses={200: {"content": {"text/event-stream": {}}}})
    def chat_completions(request: Request, body: ChatCompletionIn,
                         x_kindred_user: str | None = Header(default=None),
                         x_kindred_conversation: str | None = Header(default=None)) -> Any:
        """One turn in the OpenAI Chat Completions format (``stream`` for server-sent events)."""
        user = body.user or x_kindred_user
        if not user:
            raise BadRequestError("Say whose memory this is: set the request's `user` field (for "
                              "example `user=\"alice\"` in the openai client) or the "
                              "X-Kindred-User header.")
        conversation = (x_kindred_conversation
                        or (body.metadata or {}).get("conversation_id") or None)
        if body.model not in MODELS:
            raise NotFoundError(f"Unknown model {body.model!r}: GET /v1/models lists the ones "
                                   f"served ({', '.join(MODELS)}).")
        text, instructions, history = _split(body.messages)
        sampling = {k: v for k, v in (("temperature", body.temperature),
                                      ("max_tokens", body.max_completion_tokens
                                       or body.max_tokens)) if v is not None}
        reply = bot.chat(scope_of(request, user), text, conversation=conversation,
                         instructions=instructions, history=history, sampling=sampling or None)
        completion_id, created = f"chatcmpl-{reply.trace.id}", int(time.time())
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _sse(reply, completion_id, created, body.model,
                     _usage(bot, reply) if include_usage else None),
                media_type="text/event-stream")
        return {"id": completion_id, "object": "chat.completion", "created": created,
                "model": body.model,
                "choices": [{"index": 0, "finish_reason": _finish(reply), "logprobs": None,
                             "message": {"role": "assistant", "content": reply.text}}],
                "usage": _usage(bot, reply)}

    @app.get("/v1/traces/{trace_id}", response_model=Trace)
    def trace(request: Request, trace_id: str, user: str | None = Query(default=None),
              x_kindred_user: str | None = Header(default=None)) -> Trace:
        """Why a reply said what it said: pass its id (``chatcmpl-…``) and its user."""
        who = user or x_kindred_user
        if not who:
            raise BadRequestError("Say whose trace: add ?user=… or the X-Kindred-User header.")
        return bot.trace(scope_of(request, who), trace_id.removeprefix("chatcmpl-"))


def _sse(reply: Reply, completion_id: str, created: int, model: str,
         usage: dict[str, int] | None) -> Iterator[bytes]:
    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                              "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    yield event({"role": "assistant", "content": ""})
    for piece in _chunks(reply.text):
        yield event({"content": piece})
    yield event({}, _finish(reply))
    if usage is not None:
        yield (f"data: {json.dumps({'id': completion_id, 'object': 'chat.completion.chunk', 'created': created, 'model': model, 'choices': [], 'usage': usage})}\n\n").encode()  # noqa: E501
    yield b"data: [DONE]\n\n"


