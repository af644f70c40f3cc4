"""The test fake must itself behave: it records prompts and replies as scripted."""

from fakes import RecordingChatModel
from langchain_core.messages import HumanMessage


def test_recording_model_cycles_replies_and_records_prompts():
    model = RecordingChatModel(replies=["one", "two"])
    assert model.invoke([HumanMessage("a")]).content == "one"
    assert model.invoke([HumanMessage("b")]).content == "two"
    assert model.invoke([HumanMessage("c")]).content == "one"
    assert [c[0].content for c in model.calls] == ["a", "b", "c"]


def test_recording_model_streams_the_same_text_and_uses_respond():
    model = RecordingChatModel(respond=lambda msgs: f"echo {msgs[-1].content}")
    assert "".join(c.content for c in model.stream([HumanMessage("hi")])).strip() == "echo hi"
    assert len(model.calls) == 1
