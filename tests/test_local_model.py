"""The embedded default model: SmolLM2-135M from its PyPI package, on both backends.

transformers dequantises the GGUF once and streams through PyTorch; llama.cpp runs the GGUF as it
is. Both must stream, be deterministic and honour stop strings, since evaluations rely on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agent.llamacpp_model import LlamaCppChatModel, prepare_f16_gguf
from agent.local_model import GGUF_FILE, LocalChatModel, gguf_path, prepare_local_weights
from agent.models import is_capable, is_local, make_chat_model
from agent.settings import Settings

pytestmark = pytest.mark.slow  # loads the 135M model: `make test-fast` leaves these out

CACHE = Path("~/.cache/kindred/models").expanduser()  # shared with `make chat`: converted once


@pytest.fixture(scope="module", params=["transformers", "llamacpp"])
def model(request):
    if request.param == "llamacpp":
        return LlamaCppChatModel(max_new_tokens=12).load()
    return LocalChatModel(cache_dir=str(CACHE), max_new_tokens=12).load()


def test_the_gguf_ships_in_its_package_and_converts_to_a_cached_folder():
    assert gguf_path().name == GGUF_FILE and gguf_path().stat().st_size > 50_000_000
    folder = prepare_local_weights(CACHE)
    assert (folder / "READY").is_file() and (folder / "model.safetensors").is_file()
    assert prepare_local_weights(CACHE) == folder  # the second call reuses the cache


def _streamed(model, messages, max_new_tokens: int, *, invoked: bool = False):
    """The streamed pieces under another token limit (and the invoked reply, with ``invoked``)."""
    before = model.max_new_tokens
    try:
        model.max_new_tokens = max_new_tokens
        pieces = [c.content for c in model.stream(messages) if c.content]
        return (pieces, model.invoke(messages).content) if invoked else pieces
    finally:
        model.max_new_tokens = before


def test_local_model_streams_sentences_deterministically(model):
    messages = [SystemMessage("You are a helpful assistant."),
                HumanMessage("Tell me a long story about a dog called Max.")]
    chunks, invoked = _streamed(model, messages, 90, invoked=True)
    assert len(chunks) >= 2 and all(isinstance(c, str) for c in chunks)  # sentence by sentence
    text = "".join(chunks)
    assert text.strip() and invoked == text and _streamed(model, messages, 90) == chunks


def test_a_reply_cut_by_the_token_limit_ends_at_its_last_full_sentence(model):
    """The 135M model ran on to the limit, and replies ended "…when Max was": what is streamed
    is whole sentences, and the unfinished one at the limit is left out (or, when no sentence
    was finished, kept with an ellipsis)."""
    chunks = _streamed(model, [HumanMessage("Tell me a long story about a dog called Max.")], 50)
    text = "".join(chunks).rstrip()
    assert text and text[-1] in '.!?…"”)', text
    assert all(re.search(r"[.!?…][\"'”’)\]]*$|\n$", c) for c in chunks[:-1] if c), chunks


def test_a_cut_reply_says_length_and_the_callers_limit_holds(model):
    """Why a reply ended reaches the caller as OpenAI's ``finish_reason`` ("length" at the
    limit, "stop" otherwise: the service's finish_reason reads it), and a caller's
    ``max_tokens`` (an OpenAI client's) is the limit, on both backends: transformers used its
    own 120 whatever the client asked."""
    story = [HumanMessage("Tell me a long story about a dog called Max.")]
    cut = model.invoke(story, max_tokens=50)
    assert cut.response_metadata["finish_reason"] == "length"
    assert cut.content == "".join(_streamed(model, story, 50))  # the same limit as configured
    whole = model.invoke([HumanMessage("Say hello.")], max_tokens=100)
    assert whole.content.strip() and whole.response_metadata["finish_reason"] == "stop"


def test_local_model_honours_stop_strings(model):
    messages = [HumanMessage("Tell me about the sea.")]
    full = model.invoke(messages).content
    assert len(full) > 6
    stop = full[len(full) // 2: len(full) // 2 + 2]  # greedy decoding: the same text comes again
    cut = model.invoke(messages, stop=[stop]).content
    assert cut == full[: full.find(stop)]


def test_registry_builds_the_local_model_and_treats_it_as_not_capable(tmp_path):
    settings = Settings(model_cache_dir=tmp_path, data_dir=tmp_path,
                        generation={"max_new_tokens": 33})
    default = make_chat_model("local", settings)  # llama.cpp is installed by `make install`
    assert isinstance(default, LlamaCppChatModel) and default.max_new_tokens == 33
    forced = make_chat_model("local:transformers", settings)
    assert isinstance(forced, LocalChatModel) and forced.max_new_tokens == 33
    assert isinstance(make_chat_model("local:llamacpp", settings), LlamaCppChatModel)
    for built in (default, forced):
        assert is_local(built) and not is_capable(built)
    fake = make_chat_model("fake", Settings(data_dir=tmp_path))
    assert not is_capable(fake) and not is_local(fake)


def test_llamacpp_backend_answers_in_the_gguf_chat_format():
    """The GGUF's own chat template is used: the reply is the assistant's turn, not the prompt."""
    model = LlamaCppChatModel(max_new_tokens=20).load()
    text = model.invoke([SystemMessage("You are a helpful assistant."),
                         HumanMessage("What is the capital of France? One word.")]).content
    assert "Paris" in text and "<|im_start|>" not in text and "What is the capital" not in text


def test_kindred_chats_and_streams_on_the_default_local_model(tmp_path):
    """The README's first command runs this path: the default model through the whole turn graph."""
    from agent import Kindred

    with Kindred(data_dir=tmp_path / "data", chat_model="local", model_cache_dir=CACHE,
                 generation={"max_new_tokens": 90}) as bot:
        assert isinstance(bot.chat_model, LlamaCppChatModel)
        pieces = [p for p in bot.stream("ana", "Hi, I'm Ana and I keep bees in my garden.")
                  if isinstance(p, str)]
        assert len(pieces) >= 2 and "".join(pieces).strip()
        texts = [t.text for t in bot.memories("ana").session_turns]
        assert texts[0] == "Hi, I'm Ana and I keep bees in my garden." and len(texts) == 2
        assert any("bees" in t.text for t in bot.persona("ana", "user"))


def test_any_gguf_file_runs_on_llamacpp_by_path(tmp_path):
    """`gguf:<path>` picks another GGUF chat model; a path with no file is one clear error."""
    from memory.errors import ModelUnavailableError

    settings = Settings(model_cache_dir=tmp_path, data_dir=tmp_path)
    model = make_chat_model(f"gguf:{tmp_path / 'missing.gguf'}", settings)
    assert isinstance(model, LlamaCppChatModel) and is_local(model)
    assert model.model_name == "missing.gguf (llama.cpp)"
    with pytest.raises(ModelUnavailableError, match="No GGUF file"):
        model.load()
    real = make_chat_model(f"gguf:{prepare_f16_gguf(CACHE)}", settings).load()
    assert real.invoke([HumanMessage("Say hello.")]).content.strip()
