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
