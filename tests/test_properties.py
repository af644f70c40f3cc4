"""Property-based tests of the Python API (hypothesis): any text, time, id or batch is either
answered or refused with ``InvalidInputError``, never another exception, and the stores stay
consistent (every stored turn has its vector and its words)."""

from __future__ import annotations

from datetime import timezone

import pytest
from conftest import T0
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.errors import InvalidInputError
from memory.scope import Scope

# any Unicode, lone surrogates included, control and bidi characters, long and empty strings
_CHARS = st.one_of(st.characters(exclude_categories=()),
                   st.characters(categories=["Cs", "Cc", "Cf"]),
                   st.sampled_from(["\u202e", "\x1b", "\x00", "\n", " ", '"', "<", "}"]))
TEXTS = st.one_of(st.text(_CHARS, max_size=200), st.text(_CHARS, min_size=19_990,
                                                         max_size=20_010))
TIMES = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                  st.integers(min_value=-10**40, max_value=10**40), st.booleans(),
                  st.text(max_size=30), st.datetimes(timezones=st.just(timezone.utc)),
                  st.floats(min_value=T0, max_value=T0 + 10**8))
USERS = st.one_of(st.sampled_from(["ann", "bob"]), st.text(_CHARS, max_size=140),
                  st.integers(), st.none())
RUN = settings(max_examples=60, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow, HealthCheck.data_too_large])


def _consistent(bot, users=("ann", "bob")) -> None:
    for user in users:
        scope = Scope(user)
        records = {r.id for r in bot.memory.stores.records.list(scope, "turn")}
        vectors = {i["id"] for i in bot.memory.stores.vectors.get("turns", scope)}
        assert records == vectors, user
        for turn in bot.memory.turns.list(user):  # every turn is findable by its own words
            assert turn.text.strip()


@pytest.fixture
def bot(make_bot):
    return make_bot()


@RUN
@given(user=USERS, text=TEXTS, at=TIMES)
def test_chat_answers_or_refuses_cleanly(bot, user, text, at):
    try:
        reply = bot.chat(user, text, at=at)
    except InvalidInputError as exc:
        assert str(exc)  # a message that says what to do
    else:
        assert reply.text and reply.user_id == user
    _consistent(bot)


@RUN
@given(text=TEXTS, at=TIMES, n=st.integers(min_value=0, max_value=3))
def test_feedback_end_session_and_recall_answer_or_refuse_cleanly(bot, text, at, n):
    bot.chat("ann", "Recommend a film for tonight.", at=T0)
    for call in (lambda: bot.feedback("ann", text, at=at), lambda: bot.end_session("ann", at=at),
                 lambda: bot.recall("ann", text, at=at, k=n),
                 lambda: bot.correct_trait("ann", text[:20] or "x", text, at=at)):
        try:
            call()
        except InvalidInputError as exc:
            assert str(exc)
    _consistent(bot)


_UTTERANCE = st.one_of(
    st.fixed_dictionaries({"speaker": st.text(_CHARS, max_size=20), "text": TEXTS,
                           "at": TIMES, "role": st.sampled_from(["user", "agent", "other"])}),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    st.none(), st.integers())


@RUN
@given(batch=st.one_of(st.lists(_UTTERANCE, max_size=6), st.text(max_size=10), st.none()))
def test_ingest_stores_all_or_nothing_of_a_bad_batch(bot, batch):
    before = bot.memory.turns.count("bob")
    try:
        ids = bot.ingest("bob", batch)  # type: ignore[arg-type]
    except InvalidInputError:
        assert bot.memory.turns.count("bob") == before  # refused before anything was stored
    else:
        assert bot.memory.turns.count("bob") == before + len(ids)
    _consistent(bot)


def test_the_strategies_reach_the_inputs_that_broke_the_service():
    """Lone surrogates, far-future times and huge floats are among what is generated."""
    from hypothesis import find

    assert find(TEXTS, lambda s: any("\ud800" <= c <= "\udfff" for c in s))
    assert find(TIMES, lambda t: isinstance(t, float) and t > 1e30)
    assert find(TIMES, lambda t: isinstance(t, int) and t > 10**12)
