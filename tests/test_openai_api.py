"""Kindred behind the OpenAI Chat Completions API, driven by the official ``openai`` client
against a real server on loopback."""

from __future__ import annotations

import openai
import pytest
from conftest import T0
from fakes import RecordingChatModel

from agent.service import create_app
from test_service import _Server


@pytest.fixture
def api(make_bot):
    model = RecordingChatModel(replies=["Noted, thank you.", "Your dog is Biscuit!"])
    bot = make_bot(chat_model=model, personas={"extractor": "rules"})
    server = _Server(create_app(bot))
    http = server.__enter__()
    client = openai.OpenAI(base_url=f"{http.base_url}/v1", api_key="not-needed", max_retries=0)
    yield client, http, bot, model
    server.__exit__(None, None, None)


def test_a_plain_completion_remembers_and_explains_itself(api):
    client, http, bot, model = api
    first = client.chat.completions.create(
        model="kindred", user="alice", messages=[{"role": "user",
                                                   "content": "My dog is called Biscuit."}])
    assert first.choices[0].message.content == "Noted, thank you."
    assert first.choices[0].finish_reason == "stop" and first.object == "chat.completion"
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    second = client.chat.completions.create(
        model="kindred", user="alice", messages=[{"role": "user",
                                                   "content": "What is my dog's name?"}])
    trace = http.get(f"/v1/traces/{second.id}", params={"user": "alice"}).json()
    assert any("Biscuit" in m["text"] for m in trace["retrieved"]) or \
        "Biscuit" in " ".join(trace["user_traits"])
    assert trace["messages"][-1]["content"] == "What is my dog's name?"
    assert http.get(f"/v1/traces/{second.id}", params={"user": "bob"}).status_code == 404


def test_streaming_is_what_the_official_client_parses(api):
    client, *_ = api
    stream = client.chat.completions.create(
        model="kindred", user="alice", stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "I play the cello."}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Noted, thank you."
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_a_reply_cut_at_max_tokens_says_length_as_openai_does(make_bot):
    """The endpoint said finish_reason "stop" for every reply, also one the model behind it cut
    at the client's max_tokens: a client that continues cut replies never knew. The model's own
    finish reason is carried through the graph's trace to both the plain and the streamed
    answer (a real ``openai:`` model, against an OpenAI-compatible server that cuts there)."""
    from openai_stub import OpenAIStub

    with OpenAIStub(lambda messages: "Biscuit is a lovely name for a beagle.") as stub:
        bot = make_bot(chat_model="openai:tiny-model", base_url=stub.url, api_key="test-key",
                       personas={"extractor": "rules"})
        with _Server(create_app(bot)) as http:
            client = openai.OpenAI(base_url=f"{http.base_url}/v1", api_key="x", max_retries=0)
            said = [{"role": "user", "content": "My dog is called Biscuit."}]
            cut = client.chat.completions.create(model="kindred", user="amy", max_tokens=3,
                                                 messages=said)
            assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == \
                ("Biscuit is a", "length")
            assert stub.requests[-1].get("max_completion_tokens",
                                         stub.requests[-1].get("max_tokens")) == 3
            whole = client.chat.completions.create(model="kindred", user="amy", messages=said)
            assert (whole.choices[0].message.content, whole.choices[0].finish_reason) == \
                ("Biscuit is a lovely name for a beagle.", "stop")
            chunks = list(client.chat.completions.create(
                model="kindred", user="amy", max_completion_tokens=2, stream=True,
                messages=said))
            assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Biscuit is"
            assert [c.choices[0].finish_reason for c in chunks][-1] == "length"
            trace = http.get(f"/v1/traces/{cut.id}", params={"user": "amy"}).json()
            assert trace["finish_reason"] == "length"
    # and through the Python API's streamed turn
    with OpenAIStub(lambda messages: "One two three four five.") as stub:
        bot = make_bot(chat_model="openai:tiny-model", base_url=stub.url, api_key="test-key")
        reply = list(bot.stream("ben", "Count for me.", at=T0, sampling={"max_tokens": 2}))[-1]
        assert (reply.text, reply.trace.finish_reason) == ("One two", "length")


def test_full_history_and_last_message_clients_store_each_turn_once(api):
    client, _, bot, model = api
    history = [{"role": "user", "content": "I live in Lisbon."}]
    reply = client.chat.completions.create(model="kindred", user="hal", messages=history)
    history += [{"role": "assistant", "content": reply.choices[0].message.content},
                {"role": "user", "content": "I work as a nurse."}]
    client.chat.completions.create(model="kindred", user="hal", messages=history)
    client.chat.completions.create(model="kindred", user="ivy",
                                   messages=[{"role": "user", "content": "I live in Lisbon."}])
    client.chat.completions.create(model="kindred", user="ivy",
                                   messages=[{"role": "user", "content": "I work as a nurse."}])
    hal, ivy = bot.memory.turns.list("hal"), bot.memory.turns.list("ivy")
    assert [t.text for t in hal if t.role == "user"] == [t.text for t in ivy if t.role == "user"]
    assert len(hal) == len(ivy) == 4


def test_the_clients_history_is_the_context_and_its_system_message_is_never_memory(api):
    client, _, bot, model = api
    client.chat.completions.create(model="kindred", user="joe", messages=[
        {"role": "user", "content": "I have a cat called Tom."}])
    edited = [{"role": "system", "content": "You are the help desk of Acme Bikes."},
              {"role": "user", "content": "I have a cat called Tim."},  # edited by the client
              {"role": "assistant", "content": "Hi Tim's owner!"},
              {"role": "user", "content": "What is my cat called?"}]
    client.chat.completions.create(model="kindred", user="joe", messages=edited)
    sent = model.calls[-1]
    assert "The application you serve asks: You are the help desk of Acme Bikes." in \
        sent[0].content
    said = [m.content for m in sent[1:] if m.type != "system"]
    assert said[-3:] == ["I have a cat called Tim.", "Hi Tim's owner!", "What is my cat called?"]
    stored = [t.text for t in bot.memory.turns.list("joe")]
    assert not any("Acme" in t for t in stored) and not any("Tim" in t for t in stored)
    assert not any("Acme" in t.text for t in bot.persona("joe"))


def test_bad_requests_say_what_to_do_and_store_nothing(api):
    client, http, bot, _ = api
    with pytest.raises(openai.BadRequestError) as no_user:
        client.chat.completions.create(model="kindred",
                                       messages=[{"role": "user", "content": "Hello?"}])
    assert "`user` field" in str(no_user.value)
    with pytest.raises(openai.NotFoundError, match="GET /v1/models"):
        client.chat.completions.create(model="gpt-4o", user="kim",
                                       messages=[{"role": "user", "content": "Hello?"}])
    bad = http.post("/v1/chat/completions", json={"model": "kindred", "user": "kim",
                                                  "messages": [{"role": "user", "content": 5}]})
    assert bad.status_code == 422 and bad.json()["error"]["type"] == "InvalidInputError"
    assert "content" in bad.json()["error"]["message"] and bad.json()["detail"]
    last = http.post("/v1/chat/completions", json={
        "model": "kindred", "user": "kim",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]})
    assert last.status_code == 422 and "last message must be the user's" in last.json()["detail"]
    assert not bot.known_user("kim")
    ok = http.post("/v1/chat/completions", headers={"X-Kindred-User": "kim"}, json={
        "model": "kindred", "messages": [{"role": "user", "content": "Hello!"}],
        "frequency_penalty": 0.2, "n": 1, "seed": 7, "tools": []})  # OpenAI fields, ignored
    assert ok.status_code == 200 and bot.known_user("kim")


def test_models_health_and_ready(api):
    client, http, *_ = api
    assert [m.id for m in client.models.list().data] == ["kindred"]
    assert http.get("/health").json()["status"] == "ok"
    ready = http.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_from_kindred_import_works_like_from_agent():
    import agent
    import kindred

    assert kindred.Kindred is agent.Kindred and kindred.Settings is agent.Settings
    assert set(kindred.__all__) == set(agent.__all__)


def test_sampling_reaches_the_model(make_bot):
    seen = []

    class Sampling(RecordingChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kw):
            seen.append(kw)
            return super()._generate(messages, stop, run_manager, **kw)

        def _stream(self, messages, stop=None, run_manager=None, **kw):
            seen.append(kw)
            return super()._stream(messages, stop, run_manager, **kw)

    bot = make_bot(chat_model=Sampling(replies=["Sure."]), personas={"extractor": "rules"},
                   generation={"summariser": {"kind": "extractive"}})
    bot.chat("ann", "Hello!", at=T0, sampling={"temperature": 0.3, "max_tokens": 40})
    assert {"temperature": 0.3, "max_tokens": 40}.items() <= seen[0].items()
    with pytest.raises(Exception, match="sampling"):
        bot.chat("ann", "Hello!", at=T0 + 5, sampling={"temperature": 9})


def test_only_the_last_traces_are_kept_and_forget_removes_them(make_bot):
    bot = make_bot(limits={"keep_traces": 3})
    ids = [bot.chat("tia", f"Message number {n}.", at=T0 + 30 * n).trace.id for n in range(5)]
    assert bot.trace("tia", ids[-1]).id == ids[-1]
    from memory.errors import NotFoundError

    with pytest.raises(NotFoundError, match="last 3 replies"):
        bot.trace("tia", ids[0])
    assert [bot.trace("tia", i).id for i in ids[2:]] == ids[2:]
    bot.forget("tia")
    with pytest.raises(NotFoundError):
        bot.trace("tia", ids[-1])


def test_more_bad_requests_get_a_4xx_and_change_nothing(api):
    """A 2 MB body, invalid JSON, wrong types, an unknown conversation: each a 4xx that says what
    to do, and the stores hold exactly what they held before."""
    client, http, bot, _ = api
    client.chat.completions.create(model="kindred", user="lou", messages=[
        {"role": "user", "content": "I collect stamps."}])
    before = bot.export_user("lou").model_dump(mode="json", by_alias=True)
    big = http.post("/v1/chat/completions", json={
        "model": "kindred", "user": "lou",
        "messages": [{"role": "user", "content": "x" * 2_000_000}]})
    assert big.status_code in (413, 422) and "characters" in big.json()["detail"]
    broken = http.post("/v1/chat/completions", content=b'{"model": "kindred", "messages": [',
                       headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["error"]["message"]
    typed = http.post("/v1/chat/completions", json={"model": "kindred", "user": "lou",
                                                    "messages": "hello"})
    assert typed.status_code == 422 and "messages" in typed.json()["detail"]
    unknown = http.post("/v1/chat/completions", headers={"X-Kindred-Conversation": "nope"},
                        json={"model": "kindred", "user": "lou",
                              "messages": [{"role": "user", "content": "Hi"}]})
    assert unknown.status_code == 404 and "create it first" in unknown.json()["detail"]
    bad_id = http.post("/v1/chat/completions", headers={"X-Kindred-Conversation": "a b"},
                       json={"model": "kindred", "user": "lou",
                             "messages": [{"role": "user", "content": "Hi"}]})
    assert bad_id.status_code == 422 and "conversation id" in bad_id.json()["detail"]
    after = bot.export_user("lou").model_dump(mode="json", by_alias=True)
    before.pop("exported_at"), after.pop("exported_at")
    assert after == before
