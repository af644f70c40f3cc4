"""The public recall: the same function a chat turn retrieves with, and what evaluations measure."""

from __future__ import annotations

import shutil

import pytest

from agent import Kindred
from evals.locomo import evaluate_locomo, load_locomo
from memory.errors import InvalidInputError
from test_eval_locomo import _tiny

from conftest import DAY, T0


def _remember(bot) -> None:
    bot.ingest("ann", [
        {"speaker": "ann", "text": "My sister Ana moved to Porto last spring.", "at": T0},
        {"speaker": "Kindred", "role": "agent", "text": "Porto is lovely by the river.",
         "at": T0 + 10},
        {"speaker": "ann", "text": "I work as a nurse at the children's hospital.", "at": T0 + 20}])
    bot.end_session("ann", at=T0 + 30)


def test_recall_returns_ranked_memories_with_component_scores(make_bot):
    bot = make_bot()
    _remember(bot)
    found = bot.recall("ann", "Where does my sister live now?", at=T0 + DAY)
    assert found.turns and found.turns[0].text.startswith("My sister Ana moved to Porto")
    assert {"dense", "lexical", "neighbour", "session", "total"} <= set(found.turns[0].scores)
    totals = [t.scores["total"] for t in found.turns]
    assert totals == sorted(totals, reverse=True)
    assert all(t >= bot.settings.retrieval.turn_min_score for t in totals)
    assert found.memories == [*found.events, *found.turns]
    assert bot.recall("bob", "Where does my sister live now?", at=T0 + DAY).memories == []


def test_recall_is_what_a_chat_turn_retrieves_and_stores_nothing(make_bot):
    bot = make_bot()
    _remember(bot)
    query, at = "What is my job?", T0 + DAY
    before = (bot.memory.turns.count("ann"), [f.hits for f in bot.memory.feedback.list("ann")])
    found = bot.recall("ann", query, at=at)
    assert (bot.memory.turns.count("ann"),
            [f.hits for f in bot.memory.feedback.list("ann")]) == before  # read-only
    reply = bot.chat("ann", query, at=at)
    assert [(m.kind, m.id, m.scores) for m in reply.trace.retrieved] == [
        (m.kind, m.id, m.scores) for m in found.memories]


def test_recall_refuses_bad_arguments(make_bot):
    bot = make_bot()
    for bad in ({"k": -1}, {"k": "5"}, {"min_score": "high"}):
        with pytest.raises(InvalidInputError):
            bot.recall("ann", "anything", **bad)
    with pytest.raises(InvalidInputError):
        bot.recall("ann", "   ")


def test_eval_locomo_ranks_exactly_what_a_chat_turn_retrieves(tmp_path, embedder):
    """`kindred eval locomo` measures Kindred.recall with no score floor; a chat turn on the same
    memory at the same time retrieves the top of that same ranking (the turns above the floor)."""
    convs = load_locomo(_tiny(tmp_path))
    data = tmp_path / "replayed"
    rankings: dict = {}
    evaluate_locomo(convs, [5], rankings=rankings,
                    make_bot=lambda _d: Kindred(data_dir=data, chat_model="fake",
                                                embedder=embedder))
    now = convs[0].sessions[-1][1] + DAY  # the evaluation asks a day after the last session
    compared = 0
    for n, q in enumerate(convs[0].questions):
        # each chat on its own copy: a chat stores its turn, which would move BM25's statistics
        copy = tmp_path / f"copy-{n}"
        shutil.copytree(data, copy)
        with Kindred(data_dir=copy, chat_model="fake", embedder=embedder) as bot:
            chat = [m for m in bot.chat("conv-t", q.question, at=now).trace.retrieved
                    if m.kind == "turn"]
            cfg = bot.settings.retrieval
            expected = [m for m in rankings[("conv-t", q.question)][:cfg.turns_k]
                        if m.scores["total"] >= cfg.turn_min_score]
            assert [(m.id, m.scores) for m in chat] == [(m.id, m.scores) for m in expected]
            compared += len(chat)
    assert compared >= len(convs[0].questions)  # not a comparison of empty lists


def _long_answer() -> str:
    """An assistant's long answer (about 6,000 characters) whose one paragraph about sourdough
    sits far past the first 256 tokens."""
    filler = ("Here is the next part of the garden plan: tomatoes want full sun, deep watering "
              "twice a week and a stake for every plant before the first truss sets. ")
    sourdough = ("For the sourdough starter, feed it equal weights of rye flour and water every "
                 "twelve hours, and keep the jar somewhere warm until it doubles. ")
    return (filler * 22 + sourdough + filler * 12).strip()


def test_a_long_answer_is_found_by_what_its_middle_says_and_its_pieces_go_with_it(make_bot,
                                                                                  embedder):
    """LongMemEval's assistants answer in thousands of characters; the embedder reads 256
    tokens. The turn is found by meaning for a paragraph far past that window (its best piece),
    and deleting, forgetting or repairing the turn takes its pieces along."""
    bot = make_bot()
    text = _long_answer()
    bot.ingest("ann", [
        {"speaker": "ann", "text": "Can you write me a plan for the garden?", "at": T0},
        {"speaker": "Kindred", "role": "agent", "text": text, "at": T0 + 10},
        {"speaker": "ann", "text": "My sister Ana moved to Porto last spring.", "at": T0 + 20}])
    bot.end_session("ann", at=T0 + 30)
    query = "How often should the sourdough starter be fed?"
    found = bot.recall("ann", query, at=T0 + DAY)
    long_turn = next(t for t in found.turns if t.text == text)
    own = float(embedder.embed([f"Kindred: {text}"])[0] @ embedder.embed([query])[0])
    assert long_turn.scores["dense"] > own + 0.15  # its own vector never read the paragraph
    assert found.turns[0].id == long_turn.id
    stores = bot.memory.stores
    pieces = stores.vectors.get("pieces", "ann")
    assert len(pieces) >= 4 and {p["metadata"]["turn_id"] for p in pieces} == {long_turn.id}

    stores.vectors.delete("pieces", "ann", [p["id"] for p in pieces[:2]])  # a cut write
    bot.close()
    bot = make_bot()  # repair on open derives them again from the record
    assert bot.last_repair.vectors_added.get("pieces") == 2
    assert len(bot.memory.stores.vectors.get("pieces", "ann")) == len(pieces)
    assert bot.recall("ann", query, at=T0 + DAY).turns[0].id == long_turn.id

    # a write cut before the turn's own vector and every piece: the turn is stored again with
    # its pieces, and they are kept (they were once dropped as pieces of no turn)
    stores = bot.memory.stores
    stores.vectors.delete("turns", "ann", [long_turn.id])
    stores.vectors.delete("pieces", "ann", [p["id"] for p in pieces])
    bot.close()
    bot = make_bot()
    assert bot.last_repair.vectors_added == {"turns": 1, "pieces": len(pieces)}
    assert len(bot.memory.stores.vectors.get("pieces", "ann")) == len(pieces)
    assert bot.recall("ann", query, at=T0 + DAY).turns[0].id == long_turn.id

    bot.memory.turns.delete("ann", [long_turn.id])
    bot.memory.stores.vectors.flush()
    assert bot.memory.stores.vectors.get("pieces", "ann") == []
    assert all(t.id != long_turn.id for t in bot.recall("ann", query, at=T0 + DAY).turns)


def test_the_turn_pool_ranked_with_the_configured_weights_is_recalls_ranking(make_bot):
    from graphs.recall import turn_pool
    from memory.hybrid import HybridWeights

    bot = make_bot()
    _remember(bot)
    bot.ingest("ann", [{"speaker": "ann", "text": "Porto has the best custard tarts, says Ana.",
                        "at": T0 + 2 * DAY}])
    bot.end_session("ann", at=T0 + 2 * DAY + 10)
    query, at = "Where does my sister live now?", T0 + 3 * DAY
    found = bot.recall("ann", query, at=at, k=10, min_score=None)
    pool = turn_pool(bot._services, "ann", query, at, k=10)
    weights = bot.settings.retrieval.hybrid
    assert [pool.ids[i] for i in pool.rank(weights, 10)] == [t.id for t in found.turns]
    totals = pool.scores(weights)["total"]
    assert [round(float(totals[pool.ids.index(t.id)]), 4) for t in found.turns] == [
        t.scores["total"] for t in found.turns]
    # another weight set ranks the same pool differently: lexical alone puts the turn that
    # shares the query's words ("sister") first, dense alone the one closest in meaning
    lexical_only = HybridWeights(dense=0, lexical=1, time_window=0, neighbour=0, session=0,
                                 fact=0)
    top = pool.ids[pool.rank(lexical_only, 1)[0]]
    assert pool.components["lexical"][pool.ids.index(top)] == 1.0
