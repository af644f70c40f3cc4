"""End to end through the LangGraph pipeline, with real stores and a fake chat model."""

from __future__ import annotations

import asyncio

import pytest
from conftest import DAY, T0
from fakes import RecordingChatModel

from agent import Reply
from graphs import NODE_NAMES, draw_mermaid


def test_a_fact_becomes_an_event_and_comes_back_in_a_later_session_and_after_restart(
        make_bot, tmp_path):
    data = tmp_path / "shared-data"
    bot = make_bot(data_dir=data)
    bot.chat("alice", "My dog is called Biscuit.", at=T0)
    bot.chat("alice", "He is a beagle and loves the park.", at=T0 + 60)
    # an idle gap longer than β (600 s) ends session 1
    reply = bot.chat("alice", "What is my dog's name?", at=T0 + 2 * DAY)
    assert reply.session_id == "s0002"
    assert reply.trace.session_boundary.startswith("gap")
    event = reply.trace.consolidated_event
    assert event.session_id == "s0001" and "Biscuit" in event.summary
    assert event.turn_ids[0] == "alice/s0001/0" and "dog" in event.topics
    found = [m for m in reply.trace.retrieved if m.kind == "event"]
    assert found and found[0].session_id == "s0001"
    assert set(found[0].scores) == {"semantic", "topic", "decay", "total"}
    memory_section = reply.trace.memory_section.split("<memory>\n")[1].split("About alice:")[0]
    assert "Biscuit" in memory_section and "2 days 0 hours ago" in memory_section
    bot.close()

    restarted = make_bot(data_dir=data)  # a new process would see the same data dir
    again = restarted.chat("alice", "Do you remember my dog?", at=T0 + 2 * DAY + 60)
    assert again.session_id == "s0002"  # the session survived the restart (checkpointer)
    section = again.trace.memory_section.split("<memory>\n")[1].split("About alice:")[0]
    assert "Biscuit" in section
    # the previous message of this session is in the chat context sent to the model
    assert any(m["content"] == "What is my dog's name?" for m in again.trace.messages)

    other = restarted.chat("bob", "Do you remember my dog?", at=T0 + 3 * DAY)
    assert other.trace.retrieved == [] and other.trace.user_traits == []
    assert "Biscuit" not in " ".join(m["content"] for m in other.trace.messages)
    assert "You remember nothing about this yet" in other.trace.memory_section
    assert "<memory>" not in other.trace.memory_section


def test_the_model_receives_exactly_the_traced_messages(make_bot):
    model = RecordingChatModel(replies=["Nice to meet you."])
    bot = make_bot(chat_model=model, persona_extractor="rules", summariser="extractive")
    reply = bot.chat("carol", "I work as a nurse.", at=T0)
    assert reply.text == "Nice to meet you."
    sent = [(m.type, m.content) for m in model.calls[-1]]
    traced = [({"system": "system", "user": "human", "assistant": "ai"}[m["role"]], m["content"])
              for m in reply.trace.messages]
    assert sent == traced
    assert "I work as a nurse." in reply.trace.memory_section  # the trait, in USER_TRAITS
    assert set(reply.trace.timings_ms) >= {"perceive", "retrieve", "generate", "write_back"}


def test_explicit_end_session_and_time_comes_from_the_caller(make_bot):
    bot = make_bot()
    bot.chat("dan", "I grew up in Lisbon.", at=T0)
    event = bot.end_session("dan", at=T0 + 30)
    assert event is not None and event.ts == T0 and "Lisbon" in event.summary
    assert bot.end_session("dan", at=T0 + 40) is None  # nothing left to end
    reply = bot.chat("dan", "Where did I grow up?", at=T0 + 50)  # only 20 s later, new session
    assert reply.session_id == "s0002" and reply.trace.now == T0 + 50
    assert [t.ts for t in bot.memories("dan").session_turns] == [T0 + 50, T0 + 50]


def test_persona_bank_persists_and_feeds_the_prompt(make_bot, tmp_path):
    bot = make_bot(data_dir=tmp_path / "p")
    bot.chat("erin", "I have two cats.", at=T0)
    bot.chat("erin", "I have two cats, you know.", at=T0 + 10)
    traits = bot.persona("erin")
    assert len(traits) == 1 and traits[0].count == 2
    bot.close()
    bot2 = make_bot(data_dir=tmp_path / "p")
    reply = bot2.chat("erin", "Any advice for a busy week?", at=T0 + DAY)
    assert "I have two cats." in reply.trace.user_traits
    assert "I have two cats." in reply.trace.memory_section


def test_feedback_is_stored_and_used_for_a_similar_request(make_bot):
    bot = make_bot()
    bot.chat("fay", "Recommend a restaurant for tonight.", at=T0)
    receipt = bot.feedback("fay", "I am vegetarian, so no steakhouses.", at=T0 + 5)
    assert receipt.request == "Recommend a restaurant for tonight."
    assert receipt.trait.startswith("I am vegetarian")  # feedback also feeds persona
    reply = bot.chat("fay", "Can you recommend a restaurant for tonight?", at=T0 + DAY)
    assert reply.trace.feedback and reply.trace.feedback.feedback.startswith("I am vegetarian")
    assert "they corrected you" in reply.trace.memory_section  # the correction, as memory
    assert reply.trace.messages[-1]["content"] == "Can you recommend a restaurant for tonight?"
    unrelated = bot.chat("fay", "What time is it in Tokyo?", at=T0 + DAY + 5)
    assert unrelated.trace.feedback is None


def test_a_capable_model_also_summarises_and_extracts_traits(make_bot):
    from graphs import prompts

    def respond(messages):
        text = messages[-1].content
        if text.startswith(prompts.EXTRACT_PERSONA.split("{")[0][:40]):
            return "NO_TRAIT" if "weather" in text else "I am a keen sailor."
        if text.startswith(prompts.SUMMARISE_SESSION.split("\n")[0]):
            return "Mo talked about sailing."
        return "Sounds fun!"

    bot = make_bot(chat_model=RecordingChatModel(respond=respond))
    bot.chat("mo", "I sail every weekend.", at=T0)
    bot.chat("mo", "Nice weather today.", at=T0 + 5)
    assert [t.text for t in bot.persona("mo")] == ["I am a keen sailor."]
    assert bot.end_session("mo", at=T0 + 10).summary == "Mo talked about sailing."


def test_feedback_before_any_message_is_refused(make_bot):
    from agent import InvalidInputError

    bot = make_bot()
    with pytest.raises(InvalidInputError, match="chat first"):
        bot.feedback("gus", "That was wrong.")


def test_forget_removes_every_trace(make_bot):
    bot = make_bot()
    bot.chat("hal", "My name is Hal and I live in Oslo.", at=T0)
    bot.chat("hal", "I love skiing.", at=T0 + DAY)
    bot.feedback("hal", "I meant cross-country skiing.", at=T0 + DAY + 1)
    bot.chat("ivy", "I love skiing too.", at=T0)
    assert bot.forget("hal") is True
    assert not bot.known_user("hal")
    assert bot.memory.turns.count("hal") == 0 and bot.memory.events.list("hal") == []
    assert bot.memory.feedback.list("hal") == []
    assert bot.personas.list("hal", include_history=True) == []
    for kind in ("turns", "events", "traits", "feedback"):
        assert bot.memory.stores.vectors.count(kind, "hal") == 0
    assert bot.memory.turns.count("ivy") == 2  # the other user is untouched
    assert bot.forget("hal") is False
    fresh = bot.chat("hal", "Hello again.", at=T0 + 2 * DAY)
    assert fresh.session_id == "s0001" and fresh.trace.retrieved == []


def test_stream_yields_tokens_then_the_reply(make_bot):
    bot = make_bot(chat_model=RecordingChatModel(replies=["one two three"]))
    items = list(bot.stream("jo", "Hello there.", at=T0))
    assert isinstance(items[-1], Reply)
    assert "".join(items[:-1]).strip() == "one two three" == items[-1].text
    assert len(items) >= 4  # streamed word by word


def test_async_twins_share_the_implementation(make_bot):
    bot = make_bot()

    async def run():
        r = await bot.achat("kim", "I play the cello.", at=T0)
        chunks = [c async for c in bot.astream("kim", "Tell me a joke.", at=T0 + 5)]
        ev = await bot.aend_session("kim", at=T0 + 10)
        return r, chunks, ev

    reply, chunks, event = asyncio.run(run())
    assert reply.session_id == "s0001" and isinstance(chunks[-1], Reply)
    assert event is not None and "cello" in event.summary


def test_graph_draws_every_node():
    diagram = draw_mermaid()
    assert diagram.startswith("---") or "graph TD" in diagram
    for node in NODE_NAMES:
        assert node in diagram


def test_ablation_switches_remove_their_stage(make_bot):
    bot = make_bot(use_events=False, use_persona=False)
    bot.chat("lee", "My dog is called Rex.", at=T0)
    reply = bot.chat("lee", "What is my dog called?", at=T0 + DAY)
    assert reply.trace.retrieved == [] and reply.trace.user_traits == []
    assert bot.personas.list("lee") == []


def test_after_forget_no_store_and_no_file_kindred_writes_holds_the_user(make_bot, tmp_path,
                                                                        bot_backend,
                                                                        tmp_path_factory):
    """After ``forget``, every store is scanned for a unique marker and the user's id: every
    Chroma collection (ids, documents, metadata of every scope), and on PostgreSQL every table
    of the deployment's schema (records, words, scope versions, checkpoints and their blobs); on
    SQLite every byte of the files Kindred itself writes (records, FTS5 tables and their shadow
    tables, threads, their WAL files, the lock) holds neither, and no byte of Chroma's own files
    holds the marker: Chroma keeps deleted rows in its write-ahead log and free pages, so it is
    never given a memory's words (ids and vectors only; its ids carry the user's id)."""
    data = tmp_path / "scan"
    bot = make_bot(data_dir=data, personas={"extractor": "rules"})
    for n in range(4):
        bot.chat("zorblax", f"My secret word is quokkamarker number {n}.", at=T0 + 60 * n)
    bot.feedback("zorblax", "Remember quokkamarker better.", at=T0 + 300)
    bot.create_conversation("zorblax", "quokkamarker trip", conversation_id="trip", at=T0 + 301)
    bot.chat("zorblax", "The quokkamarker trip was fun.", at=T0 + 302, conversation="trip")
    bot.end_session("zorblax", at=T0 + 400)
    bot.chat("ivy", "I like tea.", at=T0)
    url = bot.settings.storage.database_url
    if url:
        assert b"quokkamarker" in _postgres_bytes(url)  # the scan below can see it
    bot.forget("zorblax")
    for kind in ("turns", "events", "traits", "feedback"):
        assert bot.memory.stores.vectors.get(kind, "zorblax") == []
    chroma = bot.memory.stores.vectors._client
    held = 0
    for col in chroma.list_collections():
        items = chroma.get_collection(col.name).get(include=["documents", "metadatas"])
        held += len(items["ids"])
        assert "quokkamarker" not in repr(items) and "zorblax" not in repr(items), col.name
    assert held >= 2  # ivy's turn and the reply are still there
    if url:
        body = _postgres_bytes(url)
        assert b"quokkamarker" not in body and b"zorblax" not in body and b"ivy" in body
    on_server = bool(bot.settings.storage.chroma_host)
    bot.close()
    # the Chroma server's directory (shared by the session's tests; the marker is this test's)
    server_files = [p for d in tmp_path_factory.getbasetemp().glob("chroma-server*")
                    for p in d.rglob("*") if p.is_file()] if on_server else []
    assert bool(server_files) == on_server
    for path in server_files:
        assert b"quokkamarker" not in path.read_bytes(), path
    if url:
        return
    scanned = set()
    for path in data.rglob("*"):
        if not path.is_file():
            continue
        body = path.read_bytes()
        scanned.add(path.relative_to(data).parts[0])
        assert b"quokkamarker" not in body, path
        if "chroma" not in path.parts:
            assert b"zorblax" not in body, path
    assert {"kindred.db", "threads.db"} <= scanned and ("chroma" in scanned) != on_server


def _postgres_bytes(url: str) -> bytes:
    """Every value of every table of the URL's schema, as bytes (text encoded, blobs raw)."""
    import psycopg

    out = bytearray()
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'")]
        assert {"kindred_records", "kindred_lex_terms", "checkpoints", "checkpoint_blobs"} <= set(
            tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    out += value if isinstance(value, bytes | memoryview) else (
                        str(value).encode())
    return bytes(out)


def test_a_turn_encodes_what_it_stores_ahead_and_in_few_batches(make_bot, embedder):
    """perceive starts encoding the query and the key of the user's turn, check_persona the
    reply's key, beside the parses (``memory.embeddings.prefetch``); retrieve then embeds the
    query alone and write_back the turns with the trait the message carries in one call; the
    bank finds the trait cached too."""
    from fakes import RecordingEmbedder

    recording = RecordingEmbedder(embedder)
    bot = make_bot(embedder=recording, persona_extractor="rules", summariser="extractive")
    text = "I adopted a greyhound called Pixel last week."
    embedder.clear_cache()
    reply = bot.chat("ann", text, at=T0)
    assert [t.text for t in bot.persona("ann", "user")] == [reply.trace.user_trait.text]
    trait = reply.trace.user_trait.text
    assert recording.prefetched == [[text, f"ann: {text}"], [f"{bot.agent_name}: {reply.text}"]]
    assert recording.calls[0] == [text]  # retrieve: the query
    batch = recording.calls[1]  # write_back: the turns (both encoded ahead) and the trait
    assert batch == [f"ann: {text}", f"{bot.agent_name}: {reply.text}", trait]
    assert recording.calls[2:] == [[trait]]  # the bank's look-up, a hit in the cache
    assert bot.preview("ann", "What is my dog called?", at=T0 + 30).text
    assert recording.prefetched[-1] == ["What is my dog called?"]  # the query alone: no key
    assert recording.calls[-1] == ["What is my dog called?"]  # preview stores nothing


def test_chat_runs_the_turn_in_the_callers_thread_and_stream_still_streams(make_bot):
    """``chat`` asks the graph for its final values only, so LangGraph runs every node inline;
    asking for tokens ("messages") makes it run them in a thread pool started per run (a chat
    turn paid the pool's thread starts and GIL hand-offs for tokens nobody read)."""
    import threading

    seen: list[int] = []

    def respond(messages) -> str:
        seen.append(threading.get_ident())
        return f"Noted, and this is reply number {len(seen)}."

    bot = make_bot(chat_model=RecordingChatModel(respond=respond))
    reply = bot.chat("alice", "My dog is called Biscuit.", at=T0)
    assert seen and set(seen) == {threading.get_ident()}
    streamed = list(bot.stream("alice", "He is a beagle.", at=T0 + 60))
    tokens = [item for item in streamed if isinstance(item, str)]
    assert len(tokens) > 1 and "".join(tokens).strip() == streamed[-1].text
    assert isinstance(streamed[-1], Reply) and streamed[-1].trace.turn_ids == [
        "alice/s0001/2", "alice/s0001/3"]
    assert reply.trace.turn_ids == ["alice/s0001/0", "alice/s0001/1"]
