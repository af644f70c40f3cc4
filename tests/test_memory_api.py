"""The memory API: list, search, get, edit and delete items of every kind, keeping every store in
step; export and import as one versioned JSON document (a round trip loses nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import T0
from fakes import RecordingChatModel
from test_service import _Server

from agent import ConflictError, InvalidInputError, NotFoundError
from agent.service import create_app
from agent.transfer import EXPORT_SCHEMA, export_schema
from agent import Scope

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "export.schema.json"


def _bot(make_bot, **kw):
    return make_bot(chat_model=RecordingChatModel(replies=["Noted."]),
                    personas={"extractor": "rules"}, **kw)


def _fill(bot, user="ada"):
    bot.chat(user, "My cat is called Pixel.", at=T0)
    bot.chat(user, "I work as a nurse in Lisbon.", at=T0 + 10)
    bot.feedback(user, "Keep it shorter, please.", at=T0 + 20)
    bot.end_session(user, at=T0 + 30)
    work = bot.create_conversation(user, "Work", conversation_id="work", at=T0 + 40)
    bot.chat(user, "My shift starts at seven.", at=T0 + 50, conversation=work.id)
    return work


def _document(bot, user):
    doc = bot.export_user(user).model_dump(mode="json", by_alias=True)
    doc.pop("exported_at")
    return doc


def test_items_of_every_kind_are_listed_and_narrowed(make_bot):
    bot = _bot(make_bot)
    _fill(bot)
    kinds = {m.kind for m in bot.list_memories("ada")}
    assert kinds == {"turn", "event", "trait", "feedback"}
    work_turns = bot.list_memories("ada", "turn", conversation="work")
    assert [m.text for m in work_turns] == ["My shift starts at seven.", "Noted."]
    event = bot.list_memories("ada", "event")[0]
    assert event.conversation == "default" and event.fields["turn_ids"]
    with pytest.raises(InvalidInputError, match="Unknown memory kind"):
        bot.list_memories("ada", "notes")


def test_search_ranks_items_of_every_kind_with_their_scores(make_bot):
    bot = _bot(make_bot)
    _fill(bot)
    found = bot.search_memories("ada", "what is my cat's name", k=6)
    assert found == sorted(found, key=lambda m: -m.score)
    kinds = {m.kind for m in found}
    assert {"turn", "trait"} <= kinds
    best_trait = next(m for m in found if m.kind == "trait")
    assert best_trait.text == "My cat is called Pixel." and best_trait.scores["semantic"] > 0.5
    turn = next(m for m in found if m.kind == "turn" and "Pixel" in m.text)
    assert {"dense", "lexical", "total"} <= set(turn.scores)
    only_feedback = bot.search_memories("ada", "shorter answers", kinds=["feedback"])
    assert [m.kind for m in only_feedback] == ["feedback"]


def test_editing_a_turn_rederives_its_words_and_vector_and_its_context(make_bot):
    bot = _bot(make_bot)
    _fill(bot)
    shift = next(m for m in bot.list_memories("ada", "turn", conversation="work")
                 if "shift" in m.text)
    edited = bot.edit_memory("ada", "turn", shift.id, "My shift starts at dawn.")
    assert edited.text == "My shift starts at dawn." and edited.id == shift.id
    assert shift.id in [h.turn_id for h in bot.memory.turns.search_lexical("ada", "dawn", 5)]
    assert not bot.memory.turns.search_lexical("ada", "seven", 5)  # nor as the next's context
    vec = bot.memory.embedder.embed(["ada: My shift starts at dawn."])[0]
    assert bot.memory.turns.search("ada", vec, 1)[0].id == shift.id
    session = bot.memories("ada", conversation="work").session_turns
    assert session[0].text == "My shift starts at dawn."  # the short-term copy too


def test_deleting_a_turn_removes_it_from_every_store_and_the_next_prompt(make_bot):
    model = RecordingChatModel(replies=["Noted."])
    bot = make_bot(chat_model=model, personas={"extractor": "rules"})
    bot.chat("bea", "My secret word is zanzibar.", at=T0)
    held = [m for m in bot.list_memories("bea") if "zanzibar" in m.text]
    assert {m.kind for m in held} == {"turn", "trait"}
    for item in held:
        bot.delete_memory("bea", item.kind, item.id)
    turn = next(m for m in held if m.kind == "turn")
    with pytest.raises(NotFoundError):
        bot.get_memory("bea", "turn", turn.id)
    assert not bot.memory.turns.search_lexical("bea", "zanzibar", 5)
    assert turn.id not in {i["id"] for i in bot.memory.stores.vectors.get("turns", "bea")}
    assert all("zanzibar" not in t.text for t in bot.memories("bea").session_turns)
    bot.chat("bea", "What was my secret word?", at=T0 + 5)
    assert "zanzibar" not in " ".join(str(m.content) for m in model.calls[-1])


def test_traits_events_and_feedback_are_edited_and_deleted(make_bot):
    bot = _bot(make_bot)
    _fill(bot)
    trait = next(m for m in bot.list_memories("ada", "trait") if "Pixel" in m.text)
    fixed = bot.edit_memory("ada", "trait", trait.id[:11], "My cat is called Pixie.")
    history = bot.list_memories("ada", "trait", include_history=True)
    old = next(m for m in history if m.id == trait.id)
    assert old.fields["status"] == "superseded" and old.fields["superseded_by"] == fixed.id
    event = bot.list_memories("ada", "event")[0]
    bot.edit_memory("ada", "event", event.id, "Ada talked about her night shifts.")
    assert bot.get_memory("ada", "event", event.id).text == "Ada talked about her night shifts."
    found = bot.search_memories("ada", "night shifts", kinds=["event"])
    assert found[0].id == event.id
    fb = bot.list_memories("ada", "feedback")[0]
    bot.edit_memory("ada", "feedback", fb.id, "Answer in one sentence.")
    assert bot.memory.feedback.get("ada", fb.id).feedback == "Answer in one sentence."
    for item in (fixed, event, fb):
        bot.delete_memory("ada", item.kind, item.id)
        with pytest.raises(NotFoundError):
            bot.get_memory("ada", item.kind, item.id)
    assert event.id not in {i["id"] for i in bot.memory.stores.vectors.get("events", "ada")}


def test_an_export_round_trip_loses_nothing(make_bot, tmp_path):
    bot = _bot(make_bot)
    _fill(bot)
    before = _document(bot, "ada")
    assert before["schema"] == EXPORT_SCHEMA and before["threads"]
    jsonschema.validate(bot.export_user("ada").model_dump(mode="json", by_alias=True),
                        export_schema())
    other = _bot(make_bot, data_dir=tmp_path / "other")
    restored = other.import_user("ada", json.loads(json.dumps(
        bot.export_user("ada").model_dump(mode="json", by_alias=True))))
    assert restored == len(before["records"])
    assert _document(other, "ada") == before
    for query in ("my cat", "where do I work", "shift"):
        a = [(m.id, m.scores["total"]) for m in bot.recall("ada", query, at=T0 + 60,
                                                            min_score=None).turns]
        b = [(m.id, m.scores["total"]) for m in other.recall("ada", query, at=T0 + 60,
                                                              min_score=None).turns]
        assert a == b
    # the imported user carries on mid-session in their conversation
    reply = other.chat("ada", "When does my shift start?", at=T0 + 70, conversation="work")
    assert reply.session_id == "work:s0001"
    assert reply.trace.turn_ids == ["ada/work:s0001/2", "ada/work:s0001/3"]


def test_imports_refuse_what_would_overwrite_or_cannot_be_read(make_bot, tmp_path):
    bot = _bot(make_bot)
    _fill(bot)
    doc = bot.export_user("ada").model_dump(mode="json", by_alias=True)
    with pytest.raises(ConflictError, match="replace=True"):
        bot.import_user("ada", doc)
    with pytest.raises(InvalidInputError, match="kindred.export/1"):
        bot.import_user("new", {**doc, "schema": "kindred.export/0"})
    with pytest.raises(InvalidInputError, match="malformed"):
        bot.import_user("new", {**doc, "records": [{"kind": "turn"}]})
    assert not bot.known_user("new")
    assert bot.import_user("ada", doc, replace=True) == len(doc["records"])
    assert bot.import_user(Scope("ada", "acme"), doc) == len(doc["records"])
    assert bot.users("acme") == ["ada"]


def test_the_published_schema_is_the_one_the_code_writes():
    assert json.loads(SCHEMA_FILE.read_text()) == export_schema(), \
        "docs/export.schema.json is stale: run `kindred memory schema > docs/export.schema.json`"


def test_the_memory_api_over_http_and_an_import_into_another_server(make_bot, tmp_path):
    bot = _bot(make_bot)
    _fill(bot)
    with _Server(create_app(bot)) as http:
        items = http.get("/v1/users/ada/memory/items", params={"kind": "trait"}).json()
        assert {i["text"] for i in items} >= {"My cat is called Pixel."}
        hits = http.get("/v1/users/ada/memory/search", params={"q": "cat", "k": 3}).json()
        assert hits and {"score", "scores", "kind"} <= set(hits[0])
        turn = http.get("/v1/users/ada/memory/items", params={"kind": "turn"}).json()[0]
        got = http.get(f"/v1/users/ada/memory/items/turn/{turn['id']}")
        assert got.status_code == 200 and got.json()["text"] == turn["text"]
        assert http.patch(f"/v1/users/ada/memory/items/turn/{turn['id']}",
                          json={"text": "My cat is called Miso."}).json()["text"] == \
            "My cat is called Miso."
        assert http.get("/v1/users/ada/memory/items/turn/nope").status_code == 404
        assert http.get("/v1/schemas/export").json() == export_schema()
        exported = http.get("/v1/users/ada/export").json()
    other = _bot(make_bot, data_dir=tmp_path / "elsewhere")
    with _Server(create_app(other)) as http:
        made = http.post("/v1/users/ada/import", json=exported)
        assert made.status_code == 200 and made.json()["records"] == len(exported["records"])
        assert http.post("/v1/users/ada/import", json=exported).status_code == 409
        again = http.get("/v1/users/ada/export").json()
    exported.pop("exported_at"), again.pop("exported_at")
    assert again == exported
