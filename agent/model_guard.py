"""One clear error when the chat model fails, wherever in the turn it is called.

A turn calls the model from several nodes (a capable model also extracts traits, judges
corrections and summarises sessions), so a remote model that is down used to surface as a
638-line traceback from inside ``extract_persona``. :class:`GuardedChatModel` wraps the model the
graph calls: any failure of the model (connection refused, a timeout, an HTTP error, a reply with
no text) leaves it as :class:`~memory.errors.ModelUnavailableError` with the model, its URL and
what to do. The façade then puts the user's thread back as it was before the turn, so nothing is
half-stored, and the chat and the service say so in one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from memory.errors import KindredError, ModelUnavailableError

__all__ = ["GuardedChatModel"]


class GuardedChatModel(BaseChatModel):
    """Delegates to ``inner`` (with the caller's run manager, so streamed tokens reach LangGraph
    once) and turns its failures into :class:`ModelUnavailableError`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    label: str = ""

    @property
    def _llm_type(self) -> str:
        return f"guarded-{self.inner._llm_type}"

    def _where(self) -> str:
        url = getattr(self.inner, "openai_api_base", None) or getattr(self.inner, "base_url", None)
        return f"the model {self.label or type(self.inner).__name__}" + (f" at {url}" if url else "")

    def _failed(self, exc: Exception) -> ModelUnavailableError:
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        hint = ("check that the server is running and reachable (KINDRED_BASE_URL), or choose "
                "another model with --model")
        return ModelUnavailableError(f"{self._where()} did not answer ({type(exc).__name__}: "
                                     f"{text}); the turn was not stored. To fix: {hint}.")

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        try:
            result = self.inner._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except KindredError:
            raise
        except Exception as exc:  # any failure of the model's client: one clear error instead
            raise self._failed(exc) from exc
        if not result.generations or not isinstance(result.generations[0].message.content, str):
            raise ModelUnavailableError(f"{self._where()} did not answer (it returned no text: "
                                        f"{result.generations[:1]!r:.80}); the turn was not "
                                        "stored. Check the model's server and its settings.")
        return result

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            produced = False
            for chunk in self.inner._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
                produced = True
                yield chunk
            if not produced:
                raise ModelUnavailableError(f"{self._where()} did not answer (it returned no "
                                            "text); the turn was not stored. Check the model's "
                                            "server and its settings.")
        except KindredError:
            raise
        except NotImplementedError:  # a model that cannot stream answers in one piece
            result = self._generate(messages, stop, run_manager, **kwargs)
            from langchain_core.messages import AIMessageChunk

            yield ChatGenerationChunk(message=AIMessageChunk(
                content=result.generations[0].message.content))
        except Exception as exc:  # any failure of the model's client: one clear error instead
            raise self._failed(exc) from exc
