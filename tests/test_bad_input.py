"""Bad input gets a clear error naming what to do, and never changes stored memory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import T0

from agent import InvalidInputError, KindredError, UnknownUserError
from graphs import thread_config


def _snapshot(bot, user):
    state = bot.graph.get_state(thread_config(user)).values
    return (bot.memory.turns.count(user), len(bot.memory.events.list(user)),
            len(bot.personas.list(user, include_history=True)),
            len(bot.memory.feedback.list(user)), state.get("stm"), state.get("last_ts"),
            bot.memory.stores.vectors.count("turns", user))


@pytest.fixture
def bot(make_bot):
    b = make_bot()
    b.chat("alice", "My dog is called Biscuit.", at=T0)
    return b


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("x" * 1_000_000, "limit"),
    (12345, "must be a string"),
    (None, "must be a string"),
    (["hi"], "must be a string"),
    (b"hello", "decode it"),
    ("bin\x00ary", "binary"),
])
def test_bad_text_is_refused_and_stores_nothing(bot, text, message):
    before = _snapshot(bot, "alice")
    with pytest.raises(InvalidInputError, match=message):
        bot.chat("alice", text, at=T0 + 10)
    with pytest.raises(InvalidInputError):
        bot.feedback("alice", text, at=T0 + 10)
    assert _snapshot(bot, "alice") == before


@pytest.mark.parametrize("user", ["", "a/b", "../etc", " alice", "x" * 200, 42, None,
                                  "al ice", "ünïcode"])
def test_bad_user_ids_are_refused(bot, user):
    before = _snapshot(bot, "alice")
    with pytest.raises(InvalidInputError, match="user_id"):
        bot.chat(user, "Hello!", at=T0 + 10)
    assert _snapshot(bot, "alice") == before


@pytest.mark.parametrize("at, message", [("yesterday", "ISO-8601"), (float("nan"), "finite"),
                                         (-5, "non-negative"), (True, "bool")])
def test_bad_times_are_refused(bot, at, message):
    before = _snapshot(bot, "alice")
    with pytest.raises(InvalidInputError, match=message):
        bot.chat("alice", "Hello!", at=at)
    assert _snapshot(bot, "alice") == before


def test_a_message_older_than_the_last_turn_is_refused_and_the_thread_still_works(bot):
    before = _snapshot(bot, "alice")
    with pytest.raises(InvalidInputError, match="time order"):
        bot.chat("alice", "Hello from the past.", at=T0 - 100)
    assert _snapshot(bot, "alice") == before
    reply = bot.chat("alice", "Hello from now.", at=T0 + 20)
    assert reply.session_id == "s0001" and bot.memory.turns.count("alice") == 4


def test_datetimes_are_accepted_and_naive_ones_are_utc(bot):
    aware = datetime.fromtimestamp(T0 + 30, tz=UTC)
    assert bot.chat("alice", "Hi.", at=aware).trace.now == T0 + 30
    naive = datetime.fromtimestamp(T0 + 40, tz=UTC).replace(tzinfo=None)
    assert bot.chat("alice", "Hi again.", at=naive).trace.now == T0 + 40


def test_unknown_users_get_a_clear_error_when_listing(bot):
    with pytest.raises(UnknownUserError, match="no memory of user 'nobody'"):
        bot.memories("nobody")
    with pytest.raises(UnknownUserError):
        bot.persona("nobody")
    assert bot.forget("nobody") is False


def test_every_error_shares_one_root():
    from agent import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), KindredError)


def test_bad_settings_and_models_fail_at_construction(make_bot):
    from agent import ConfigurationError, ModelUnavailableError
    with pytest.raises(ModelUnavailableError, match="Unknown chat model"):
        make_bot(chat_model="gpt-imaginary")
    with pytest.raises(ConfigurationError, match="Shipped cards"):
        make_bot(persona="no-such-card")
    with pytest.raises(ConfigurationError, match="beta_s"):
        make_bot(beta_s=-1)
