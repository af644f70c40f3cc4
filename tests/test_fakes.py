"""The test fakes must themselves behave: the model records prompts and replies as scripted, the
embedder records its calls and returns the real vectors."""

import numpy as np

from fakes import RecordingChatModel
from langchain_core.messages import HumanMessage


def test_recording_model_cycles_replies_and_records_prompts():
    model = RecordingChatModel(replies=["one", "two"])
    assert model.invoke([HumanMessage("a")]).content == "one"
    assert model.invoke([HumanMessage("b")]).content == "two"
    assert model.invoke([HumanMessage("c")]).content == "one"
    assert [c[0].content for c in model.calls] == ["a", "b", "c"]
    model.invoke([HumanMessage("d")], temperature=0.8)
    assert model.options == [{}, {}, {}, {"temperature": 0.8}]


def test_recording_model_streams_the_same_text_and_uses_respond():
    model = RecordingChatModel(respond=lambda msgs: f"echo {msgs[-1].content}")
    assert "".join(c.content for c in model.stream([HumanMessage("hi")])).strip() == "echo hi"
    assert len(model.calls) == 1


def test_recording_embedder_returns_the_real_vectors_and_records_each_call(embedder):
    from fakes import RecordingEmbedder

    recording = RecordingEmbedder(embedder)
    vectors = recording.embed(["My cat is called Pixel.", "I live in Porto."])
    assert recording.calls == [["My cat is called Pixel.", "I live in Porto."]]
    assert np.allclose(vectors, embedder.embed(["My cat is called Pixel.", "I live in Porto."]))
    assert recording.dim == embedder.dim
    recording.prefetch(["A text to encode ahead for the recording fake."])
    assert recording.prefetched == [["A text to encode ahead for the recording fake."]]
    assert len(recording.calls) == 1  # a prefetch is not an embed call
    assert np.allclose(recording.embed(["A text to encode ahead for the recording fake."]),
                       embedder.embed(["A text to encode ahead for the recording fake."]))
