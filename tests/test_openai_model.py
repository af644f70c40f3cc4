"""`openai:<model>` against a real HTTP server on loopback speaking the OpenAI protocol."""

from __future__ import annotations

import json
import urllib.request

from graphs import prompts

from conftest import T0
from openai_stub import OpenAIStub


def _respond(messages):
    text = messages[-1]["content"]
    if text.startswith(prompts.EXTRACT_PERSONA[:40]):
        return "I am a keen sailor."
    if text.startswith(prompts.SUMMARISE_SESSION.split("\n")[0]):
        return "Zoe talked about sailing."
    return "Fair winds, Zoe!"


def test_the_stub_speaks_the_protocol():
    with OpenAIStub(lambda msgs: "hi there") as stub:
        req = urllib.request.Request(f"{stub.url}/chat/completions", method="POST",
                                     data=json.dumps({"model": "m", "messages": [
                                         {"role": "user", "content": "x"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
        body = json.loads(urllib.request.urlopen(req, timeout=10).read())
    assert body["choices"][0]["message"]["content"] == "hi there"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert stub.requests[0]["messages"][0]["content"] == "x"
    with OpenAIStub(lambda msgs: "one two three four") as stub:
        req = urllib.request.Request(f"{stub.url}/chat/completions", method="POST",
                                     data=json.dumps({"model": "m", "max_tokens": 2, "messages": [
                                         {"role": "user", "content": "x"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
        body = json.loads(urllib.request.urlopen(req, timeout=10).read())
    assert (body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]) == \
        ("one two", "length")


def test_kindred_talks_to_an_openai_compatible_server(make_bot):
    with OpenAIStub(_respond) as stub:
        bot = make_bot(chat_model="openai:tiny-model", base_url=stub.url, api_key="test-key")
        chunks = list(bot.stream("zoe", "I sail every weekend.", at=T0))
        reply = chunks[-1]
        assert reply.text == "Fair winds, Zoe!" and len(chunks) > 2  # streamed
        sent = [r for r in stub.requests if r["messages"][0]["role"] == "system"][-1]
        assert sent["model"] == "tiny-model"
        assert [m["content"] for m in sent["messages"]] == \
            [m["content"] for m in reply.trace.messages]
        # a capable model also extracts traits and writes session summaries
        assert [t.text for t in bot.persona("zoe")] == ["I am a keen sailor."]
        assert bot.end_session("zoe", at=T0 + 5).summary == "Zoe talked about sailing."
