"""Fakes we wrote for tests: a chat model with scripted replies that records every prompt it gets,
and an embedder that records the batches it is asked for (the real one does the work).

langchain-core's fakes return scripted output but do not keep what they were sent; the tests that
check prompts need both. Each is tested itself in ``test_fakes.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr


class RecordingChatModel(BaseChatModel):
    """Replies with ``respond(messages)`` (or cycles ``replies``) and records every call."""

    replies: list[str] = ["OK."]
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _options: list[dict[str, Any]] = PrivateAttr(default_factory=list)
    _respond: Callable[[list[BaseMessage]], str] | None = PrivateAttr(default=None)

    def __init__(self, respond: Callable[[list[BaseMessage]], str] | None = None, **kw: Any):
        super().__init__(**kw)
        self._respond = respond

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        return self._calls

    @property
    def options(self) -> list[dict[str, Any]]:
        """The options each call was made with (``temperature`` for a sampled retry)."""
        return self._options

    def _text(self, messages: list[BaseMessage], options: dict[str, Any]) -> str:
        self._calls.append(list(messages))
        self._options.append(dict(options))
        if self._respond is not None:
            return self._respond(messages)
        return self.replies[(len(self._calls) - 1) % len(self.replies)]

    def _generate(self, messages, stop=None, run_manager=None, **kw: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(
            content=self._text(messages, kw)))])

    def _stream(self, messages, stop=None, run_manager: CallbackManagerForLLMRun | None = None,
                **kw: Any) -> Iterator[ChatGenerationChunk]:
        for word in self._text(messages, kw).split(" "):
            piece = word + " "
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


class RecordingEmbedder:
    """The real embedder (``inner``), recording the texts of every ``embed`` call it gets, and
    of every ``prefetch`` (encodes started ahead) in ``prefetched``."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.dim, self.calls, self.prefetched = inner, inner.dim, [], []

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts)

    def prefetch(self, texts):
        self.prefetched.append(list(texts))
        self.inner.prefetch(texts)

    def __getattr__(self, name: str) -> Any:  # clear_cache and the like: the real embedder's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
