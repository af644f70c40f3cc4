"""Conversations: threads of one user, each with its own sessions and short-term context, all
feeding and reading the same long-term memory. Through the Python API, the OpenAI route (the
official client, a real server) and the terminal chat's commands."""

from __future__ import annotations

import openai
import pytest
from conftest import DAY, T0
from fakes import RecordingChatModel
from test_service import _Server

from agent import ConflictError, InvalidInputError, NotFoundError
from agent.chat_loop import ChatLoop
from agent.service import create_app
from graphs import thread_config


@pytest.fixture
def bot(make_bot):
    return make_bot(chat_model=RecordingChatModel(replies=["Noted."]),
                    personas={"extractor": "rules"})


def _stm(bot, user, conversation=None):
    return [t.text for t in bot.memories(user, conversation=conversation).session_turns]


def test_conversations_keep_their_own_context_and_share_what_the_user_said(bot):
    bot.chat("ann", "My cat is called Pixel.", at=T0)
    work = bot.create_conversation("ann", "Work", at=T0 + 5)
    reply = bot.chat("ann", "What is my cat called?", at=T0 + 10, conversation=work.id)
    assert reply.conversation == work.id and reply.session_id == f"{work.id}:s0001"
    recalled = [m.text for m in reply.trace.retrieved]
    assert "My cat is called Pixel." in recalled  # the other conversation's turn, recalled
    assert "My cat is called Pixel." in " ".join(reply.trace.user_traits)
    assert _stm(bot, "ann") == ["My cat is called Pixel.", "Noted."]
    assert _stm(bot, "ann", work.id) == ["What is my cat called?", "Noted."]
    ids = bot.memory.turns.list("ann")
    assert len({t.id for t in ids}) == 4  # ids derive from per-conversation session ids
    assert {t.conversation for t in ids} == {"", work.id}


def test_each_conversation_has_its_own_session_boundaries(bot):
    work = bot.create_conversation("bo", conversation_id="work", at=T0)
    bot.chat("bo", "I play the cello.", at=T0)
    bot.chat("bo", "I work as a nurse.", at=T0 + 60, conversation="work")
    # two days later in the default conversation: its session closes, work's stays open
    later = bot.chat("bo", "Hello again.", at=T0 + 2 * DAY)
    assert later.trace.session_boundary.startswith("gap") and later.session_id == "s0002"
    events = bot.memory.events.list("bo")
    assert [(e.session_id, e.conversation) for e in events] == [("s0001", "")]
    assert _stm(bot, "bo", work.id) == ["I work as a nurse.", "Noted."]
    event = bot.end_session("bo", conversation="work", at=T0 + 2 * DAY + 5)
    assert event.conversation == "work" and event.session_id == "work:s0001"
    assert event.turn_ids == ("bo/work:s0001/0", "bo/work:s0001/1")


def test_create_list_rename_delete(bot):
    assert bot.list_conversations("cy") == []
    first = bot.create_conversation("cy", "Holidays", at=T0)
    second = bot.create_conversation("cy", conversation_id="recipes", at=T0 + 1)
    bot.chat("cy", "I love the Algarve.", at=T0 + 10, conversation=first.id)
    bot.chat("cy", "My sister is called Ana.", at=T0 + 20)
    listed = bot.list_conversations("cy")
    assert [c.id for c in listed] == ["default", first.id, "recipes"]  # latest write first
    assert listed[0].title == "My sister is called Ana."  # a title from the first message
    assert bot.rename_conversation("cy", "recipes", "Soups").title == "Soups"
    with pytest.raises(ConflictError, match="already has a conversation"):
        bot.create_conversation("cy", conversation_id="recipes")
    with pytest.raises(InvalidInputError, match="conversation id"):
        bot.create_conversation("cy", conversation_id="no:colons")
    assert bot.delete_conversation("cy", first.id) is True
    assert [c.id for c in bot.list_conversations("cy")] == ["default", second.id]
    assert all(t.conversation != first.id for t in bot.memory.turns.list("cy"))
    assert not bot.graph.get_state(thread_config("cy", first.id)).values
    # what was learnt there stays with the user
    assert "I love the Algarve." in [t.text for t in bot.persona("cy")]


def test_an_unknown_conversation_is_refused_and_nothing_is_stored(bot):
    with pytest.raises(NotFoundError, match="create it first"):
        bot.chat("dee", "Hello.", at=T0, conversation="nope")
    with pytest.raises(NotFoundError):
        bot.ingest("dee", [{"speaker": "dee", "text": "Hi.", "at": T0}], conversation="nope")
    assert not bot.known_user("dee")


def test_a_data_dir_from_before_conversations_is_the_default_conversation(bot, make_bot, tmp_path):
    bot.chat("eve", "I live in Porto.", at=T0)
    # what an old data dir holds: the thread and the turns, no conversation record
    bot.memory.stores.records.delete("eve", "conversation", ["default"])
    listed = bot.list_conversations("eve")
    assert [c.id for c in listed] == ["default"] and listed[0].updated_at == T0
    reply = bot.chat("eve", "Where do I live?", at=T0 + 30)
    assert reply.session_id == "s0001" and _stm(bot, "eve")[:2] == ["I live in Porto.", "Noted."]


def test_forget_removes_every_conversation(bot):
    bot.create_conversation("fay", conversation_id="a", at=T0)
    bot.chat("fay", "I run marathons.", at=T0, conversation="a")
    bot.chat("fay", "I bake bread.", at=T0 + 1)
    assert bot.forget("fay") is True
    for conv in ("", "a"):
        assert not bot.graph.get_state(thread_config("fay", conv)).values
    assert bot.list_conversations("fay") == [] and not bot.known_user("fay")


def test_the_openai_route_takes_the_conversation_and_memory_survives_a_restart(make_bot, tmp_path):
    data = tmp_path / "srv"
    bot = make_bot(chat_model=RecordingChatModel(replies=["Noted."]), data_dir=data,
                   personas={"extractor": "rules"})
    with _Server(create_app(bot)) as http:
        client = openai.OpenAI(base_url=f"{http.base_url}/v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="kindred", user="gus", messages=[
            {"role": "user", "content": "My dog is called Biscuit."}])
        made = http.post("/v1/users/gus/conversations", json={"title": "Walks"}).json()
        second = client.chat.completions.create(
            model="kindred", user="gus", extra_headers={"X-Kindred-Conversation": made["id"]},
            messages=[{"role": "user", "content": "What is my dog called?"}])
        trace = http.get(f"/v1/traces/{second.id}", params={"user": "gus"}).json()
        assert any("Biscuit" in m["text"] for m in trace["retrieved"])
        with pytest.raises(openai.NotFoundError, match="create it first"):
            client.chat.completions.create(model="kindred", user="gus",
                                           metadata={"conversation_id": "missing"},
                                           messages=[{"role": "user", "content": "Hi"}])
        listed = http.get("/v1/users/gus/conversations").json()
        assert {c["id"] for c in listed} == {"default", made["id"]}
    bot.close()
    again = make_bot(chat_model=RecordingChatModel(replies=["Noted."]), data_dir=data,
                     personas={"extractor": "rules"})
    with _Server(create_app(again)) as http:
        client = openai.OpenAI(base_url=f"{http.base_url}/v1", api_key="x", max_retries=0)
        third = client.chat.completions.create(
            model="kindred", user="gus", extra_headers={"X-Kindred-Conversation": made["id"]},
            messages=[{"role": "user", "content": "And the dog's name again?"}])
        trace = http.get(f"/v1/traces/{third.id}", params={"user": "gus"}).json()
        assert trace["session_id"] == f"{made['id']}:s0001"  # the same open session
        assert "Biscuit" in " ".join(trace["user_traits"])
        assert http.delete(f"/v1/users/gus/conversations/{made['id']}").status_code == 204
        assert [c["id"] for c in http.get("/v1/users/gus/conversations").json()] == ["default"]


def test_the_terminal_chat_switches_conversations(bot):
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    loop = ChatLoop(bot, "hal", Console(file=out, width=120, force_terminal=False))
    loop.handle("My cat is called Pixel.")
    loop.handle("/conversations new Work stuff")
    assert loop.conversation.startswith("c-")
    loop.handle("I work as a nurse.")
    loop.handle("/conversations")
    listing = out.getvalue()
    assert "Work stuff" in listing and "My cat is called Pixel." in listing
    loop.handle("/conversations switch default")
    assert loop.conversation == "default"
    with pytest.raises(NotFoundError, match="No conversation 'nope'"):
        loop.handle("/conversations switch nope")  # run() prints it as an error line
    assert loop.conversation == "default"
    assert _stm(bot, "hal") == ["My cat is called Pixel.", "Noted."]
