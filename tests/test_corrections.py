"""Implicit feedback: a turn that corrects the previous reply is stored as a MemPrompt record."""

from __future__ import annotations

import pytest

from graphs.corrections import detect_correction

from conftest import DAY, T0


@pytest.mark.parametrize("text", [
    "No, I meant a vegetarian restaurant.", "That's not what I asked.",
    "Actually, my sister is called Ana.", "I meant next Friday, not this one.",
    "You misunderstood me.", "Nope, it's on Tuesday.", "Wrong, my dog is a beagle."])
def test_corrections_are_recognised(text):
    assert detect_correction(text)


@pytest.mark.parametrize("text", [
    "No, thanks.", "No worries!", "Actually, I'm doing great.", "No idea, what do you think?",
    "Nope.", "I mean, it was fun.", "What do you mean?", "My sister is called Ana."])
def test_small_talk_is_not_a_correction(text):
    assert not detect_correction(text)


def test_a_correcting_turn_is_stored_traced_and_used_later(make_bot):
    bot = make_bot()
    bot.chat("ana", "Recommend a restaurant for tonight.", at=T0)
    reply = bot.chat("ana", "No, I meant a vegetarian restaurant.", at=T0 + 30)
    implicit = reply.trace.implicit_feedback
    assert implicit.turn_text == "No, I meant a vegetarian restaurant."
    assert implicit.request == "Recommend a restaurant for tonight."
    assert reply.text  # the user still gets an answer in the same turn
    [record] = bot.memory.feedback.list("ana")
    assert record.feedback == "No, I meant a vegetarian restaurant."
    later = bot.chat("ana", "Can you recommend a restaurant for tonight?", at=T0 + DAY)
    assert later.trace.feedback.feedback == "No, I meant a vegetarian restaurant."
    assert "they corrected you" in later.trace.memory_section


def test_a_fact_correction_updates_the_persona(make_bot):
    bot = make_bot()
    bot.chat("ben", "My sister is called Anna.", at=T0)
    bot.chat("ben", "Actually, my sister is called Ana.", at=T0 + 20)
    traits = [t.text for t in bot.persona("ben")]
    assert "Actually, my sister is called Ana." not in traits  # filler words are stripped
    assert "My sister is called Ana." in traits


def test_feedback_that_a_fact_no_longer_holds_ends_it_and_keeps_the_rest(make_bot):
    """``/feedback`` matches its fact to one trait by the embedding; "I am not vegetarian
    anymore" is far from "I am a vegetarian and I love hiking in the Alps." (0.52), so it was
    added beside it, both current. The reversal ends it on the feedback path as on a turn (a
    chat turn taken as a correction also stores its trait as any turn does)."""
    bot = make_bot(personas={"extractor": "rules"})
    bot.chat("dee", "I'm a vegetarian and I love hiking in the Alps.", at=T0)
    bot.chat("dee", "What should I cook tonight?", at=T0 + 20)
    bot.feedback("dee", "I'm not vegetarian anymore.", at=T0 + 40)
    assert sorted(t.text for t in bot.persona("dee")) == [
        "I am not vegetarian anymore.", "I love hiking in the Alps."]
    bot.chat("eve", "I'm a vegetarian and I love hiking in the Alps.", at=T0)
    bot.chat("eve", "What should I cook tonight?", at=T0 + 20)
    reply = bot.chat("eve", "No, my diet changed. I'm not vegetarian anymore.", at=T0 + 40)
    assert reply.trace.implicit_feedback is not None  # taken as a correction
    assert sorted(t.text for t in bot.persona("eve")) == [  # one trait per fact said
        "I am not vegetarian anymore.", "I love hiking in the Alps.", "My diet changed."]


def test_no_correction_without_a_previous_reply_or_across_sessions(make_bot):
    bot = make_bot()
    first = bot.chat("cy", "No, I meant the other one.", at=T0)
    assert first.trace.implicit_feedback is None
    bot.chat("cy", "Recommend a film.", at=T0 + 10)
    after_gap = bot.chat("cy", "No, I meant a comedy.", at=T0 + DAY)  # a new session
    assert after_gap.trace.implicit_feedback is None
    assert bot.memory.feedback.list("cy") == []
    off = make_bot(data_dir=bot.data_dir / "off", implicit_feedback=False)
    off.chat("cy", "Recommend a film.", at=T0)
    off.chat("cy", "No, I meant a comedy.", at=T0 + 10)
    assert off.memory.feedback.list("cy") == []


def test_a_capable_model_judges_turns_the_rules_missed(make_bot):
    from graphs import prompts

    from fakes import RecordingChatModel

    def respond(messages):
        text = messages[-1].content
        if text.startswith(prompts.IS_CORRECTION.split("{")[0]):
            return "YES" if "the green one" in text else "NO"
        if text.startswith(prompts.EXTRACT_PERSONA[:40]):
            return "NO_TRAIT"
        return "Here you go."

    model = RecordingChatModel(respond=respond)
    bot = make_bot(chat_model=model)
    bot.chat("dee", "Show me the blue jacket.", at=T0)
    reply = bot.chat("dee", "Not that, the green one.", at=T0 + 10)  # rules alone miss it
    assert reply.trace.implicit_feedback.request == "Show me the blue jacket."
    judged = [c for c in model.calls if c[-1].content.startswith("The user asked")]
    assert len(judged) == 1
    bot.chat("dee", "Nice, thanks!", at=T0 + 20)  # no cue: the model is not even asked
    assert len([c for c in model.calls if c[-1].content.startswith("The user asked")]) == 1
    assert len(bot.memory.feedback.list("dee")) == 1
