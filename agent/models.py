"""Chat models by name: ``local``, ``fake``, ``openai:<model>``, ``ollama:<model>``.

``local`` is SmolLM2-135M from its PyPI package, run by llama.cpp when ``llama-cpp-python`` is
installed (several times faster) and by transformers otherwise; ``local:llamacpp`` and
``local:transformers`` pick the backend explicitly; ``gguf:<path>`` runs any other GGUF chat model
file on llama.cpp (its own chat template).

Any langchain-core ``BaseChatModel`` instance works too; names are a shorthand for the common ones.
``openai:`` talks to any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio...) given a
base URL; it and ``ollama:`` need their optional packages (``pip install 'kindred[openai]'``).
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agent.llamacpp_model import LlamaCppChatModel, llamacpp_available
from agent.local_model import LocalChatModel
from agent.settings import Settings
from memory.errors import ModelUnavailableError

__all__ = ["FAKE_REPLIES", "MODEL_NAMES", "is_capable", "is_local", "make_chat_model", "model_label"]

MODEL_NAMES = ("local", "local:llamacpp", "local:transformers", "fake", "gguf:<path>",
               "openai:<model>", "ollama:<model>")

# What the ``fake`` model says, in turn: deterministic output for tests and demos.
FAKE_REPLIES = [
    "Thanks for telling me, I will remember that.",
    "That sounds important to you. Tell me more?",
    "I see. What else is on your mind?",
]


def make_chat_model(spec: str | BaseChatModel, settings: Settings) -> BaseChatModel:
    """A chat model from a name (see module docstring) or the instance itself."""
    if isinstance(spec, BaseChatModel):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ModelUnavailableError(f"Chat model must be a name or a BaseChatModel, got {spec!r}. "
                                    f"Names: {', '.join(MODEL_NAMES)}.")
    name = spec.strip()
    if name == "local:llamacpp" or (name == "local" and llamacpp_available()):
        return LlamaCppChatModel(cache_dir=str(settings.model_cache_dir),
                                 max_new_tokens=settings.generation.max_new_tokens)
    if name in ("local", "local:transformers"):
        return LocalChatModel(cache_dir=str(settings.model_cache_dir),
                              max_new_tokens=settings.generation.max_new_tokens)
    if name == "fake":
        return FakeListChatModel(responses=list(FAKE_REPLIES))
    if name.startswith("gguf:") and name[5:].strip():
        return LlamaCppChatModel(gguf_path=name[5:].strip(), cache_dir=str(settings.model_cache_dir),
                                 max_new_tokens=settings.generation.max_new_tokens)
    kind, _, model = name.partition(":")
    if kind == "openai" and model:
        return _openai(model, settings)
    if kind == "ollama" and model:
        return _ollama(model, settings)
    raise ModelUnavailableError(f"Unknown chat model {name!r}. Use one of: "
                                f"{', '.join(MODEL_NAMES)}, or pass a BaseChatModel instance.")


def _openai(model: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ModelUnavailableError("openai: models need langchain-openai: "
                                    "`pip install 'kindred[openai]'`.") from exc
    key = (settings.api_key.get_secret_value() if settings.api_key
           else os.environ.get("OPENAI_API_KEY", "not-needed-for-local-servers"))
    kwargs: dict[str, Any] = {"model": model, "api_key": key,
                              "timeout": settings.generation.timeout_s,
                              "max_retries": settings.generation.max_retries}
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    return ChatOpenAI(**kwargs)


def _ollama(model: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise ModelUnavailableError("ollama: models need langchain-ollama: "
                                    "`pip install 'kindred[ollama]'`.") from exc
    kwargs: dict[str, Any] = {"model": model}
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    return ChatOllama(**kwargs)


def is_capable(model: BaseChatModel) -> bool:
    """Whether the model can be trusted with summaries and persona extraction.

    The tiny local model and the fakes cannot (their summaries would be invented or canned); any
    other model is assumed capable. Override with ``generation.summariser.kind`` and ``personas.extractor``.
    """
    from langchain_core.language_models import fake_chat_models

    return not (is_local(model) or type(model).__module__ == fake_chat_models.__name__)


def is_local(model: BaseChatModel) -> bool:
    """Whether the model is the embedded SmolLM2 (either backend): it has a ``load()`` to call
    before the first turn, and it is not capable."""
    return isinstance(model, (LocalChatModel, LlamaCppChatModel))


def model_label(model: BaseChatModel) -> str:
    """A short name for traces and reports."""
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    return f"{type(model).__name__}:{name}" if isinstance(name, str) else type(model).__name__
