"""The agent stays in character: a reply that contradicts its card is regenerated once."""

from __future__ import annotations

import pytest
from conftest import T0
from fakes import RecordingChatModel

from personas.consistency import find_contradiction, speaks_of_itself

FACTS = ["I am Kindred, a conversational assistant.", "I cannot browse the internet.",
         "I live in London."]


@pytest.mark.parametrize("trait, reason", [
    ("My name is Bob.", "name"), ("I can browse the internet.", "negation"),
    ("I love cats. I can browse the web whenever I want.", "negation"),  # the local model said it
    ("I live in Paris.", "exclusive:home")])
def test_contradictions_are_found(embedder, trait, reason):
    found = find_contradiction(trait, FACTS, embedder, agent_name="Kindred")
    assert found is not None and found.reason == reason


@pytest.mark.parametrize("trait", ["My name is Kindred.", "I love jazz music.", "I never sleep.",
                                   "I cannot browse the web.", "I live in London, by the river."])
def test_consistent_traits_pass(embedder, trait):
    assert find_contradiction(trait, FACTS, embedder, agent_name="Kindred") is None


def _bot(make_bot, replies):
    model = RecordingChatModel(replies=replies)
    # rules, not the LLM, for summaries and traits: every model call here is a reply
    return make_bot(chat_model=model, persona_extractor="rules", summariser="extractive"), model


def test_a_contradicting_reply_is_regenerated_once_and_traced(make_bot):
    bot, model = _bot(make_bot, ["My name is Bob.", "I am Kindred, happy to help."])
    reply = bot.chat("ann", "Who are you?", at=T0)
    check = reply.trace.persona_check
    assert check.regenerated is True and check.still_inconsistent is False
    assert check.contradiction["reason"] == "name" and check.first_reply == "My name is Bob."
    assert reply.text == "I am Kindred, happy to help."
    assert len(model.calls) == 2
    assert "contradicts what is true about you" in model.calls[1][-1].content
    assert "My name is Bob." not in [t.text for t in bot.persona("ann", "agent")]


def test_a_name_given_anywhere_in_the_reply_is_checked(make_bot):
    """The local model says things like 'I'm a kindred AI named "Echo"' (seen in a real run)."""
    bot, _ = _bot(make_bot, ['Hello! I\'m a friendly AI named "Echo", here to help.',
                             "Hello! I am Kindred, here to help."])
    reply = bot.chat("fox", "Who are you?", at=T0)
    check = reply.trace.persona_check
    assert check.regenerated and check.contradiction["reason"] == "name"
    assert "Echo" in check.contradiction["trait"] and reply.text.startswith("Hello! I am Kindred")


def test_a_reply_that_still_contradicts_is_kept_but_not_learned(make_bot):
    bot, model = _bot(make_bot, ["My name is Bob.", "My name is Rob."])
    reply = bot.chat("ben", "Who are you?", at=T0)
    check = reply.trace.persona_check
    assert check.regenerated and check.still_inconsistent
    assert reply.text == "My name is Rob." and len(model.calls) == 2
    assert bot.persona("ben", "agent") == []


def test_a_reply_that_speaks_as_the_user_is_regenerated(make_bot):
    """Seen in the terminal demo with the local model: after "I work as a nurse at the
    hospital.", "What is my job?" was answered "I work as a nurse at the hospital in Lisbon,
    Portugal.": the user's fact in the agent's mouth. It is regenerated with a note that says
    whose fact it is; a reply that speaks of the user's fact to them ("I love that you work
    there") is not; the agent's bank learns neither."""
    bot, model = _bot(make_bot, ["That's a big job!",
                                 "I work as a nurse at the hospital in Lisbon, Portugal.",
                                 "You work as a nurse at the hospital.",
                                 "I love that you work as a nurse at the hospital!"])
    bot.chat("sam", "I work as a nurse at the hospital.", at=T0)
    reply = bot.chat("sam", "What is my job?", at=T0 + 30)
    check = reply.trace.persona_check
    assert check.regenerated and not check.still_inconsistent
    assert check.contradiction == {"trait": "I work as a nurse at the hospital in Lisbon, Portugal.",
                                   "fact": "I work as a nurse at the hospital.",
                                   "reason": "the user's fact"}
    assert reply.text == "You work as a nurse at the hospital."
    assert "is what sam told you about themselves" in model.calls[2][-1].content
    reply = bot.chat("sam", "Do you like my job?", at=T0 + 60)
    assert not reply.trace.persona_check.regenerated
    assert reply.text == "I love that you work as a nurse at the hospital!"
    assert bot.persona("sam", "agent") == []


def test_a_claim_is_found_in_any_sentence_of_the_replys_trait(make_bot):
    """The local model said "I've got a beagle named Biscuit that's been with me for a while
    now. … I'm Max, Sam's dog.": the trait read both sentences, and the user's name in the
    second let the first through."""
    bot, _ = _bot(make_bot, ["Lovely!",
                             "I've got a beagle named Biscuit. I'm Max, Sam's dog.",
                             "Your beagle Biscuit sounds lovely."])
    bot.chat("sam", "I have a beagle called Biscuit.", at=T0)
    reply = bot.chat("sam", "What do you know about my dog?", at=T0 + 30)
    check = reply.trace.persona_check
    assert check.regenerated and check.contradiction["reason"] == "the user's fact"
    assert check.contradiction["fact"] == "I have a beagle called Biscuit."
    assert reply.text == "Your beagle Biscuit sounds lovely."
    assert bot.persona("sam", "agent") == []


def test_a_reply_that_gives_the_agent_the_users_name_is_regenerated(make_bot):
    """The local model answered Sam "I'm Sam. I live in Porto…"; "I'm Sam's assistant" and
    "Sam, I'm glad" are not a name given to the agent."""
    bot, _ = _bot(make_bot, ["I'm Sam. Nice to meet you!", "Hi Sam, I'm Kindred!",
                             "I'm Sam's memory, in a way.", "Sam, I'm glad you came."])
    reply = bot.chat("sam", "Hello!", at=T0)
    check = reply.trace.persona_check
    assert check.regenerated and check.contradiction["reason"] == "name"
    assert check.contradiction["trait"] == "I'm Sam" and reply.text == "Hi Sam, I'm Kindred!"
    for n, text in enumerate(["I'm Sam's memory, in a way.", "Sam, I'm glad you came."]):
        reply = bot.chat("sam", "Who are you?", at=T0 + 30 * (n + 1))
        assert reply.text == text and not reply.trace.persona_check.regenerated


def test_a_consistent_reply_is_kept_and_its_trait_stored(make_bot):
    bot, model = _bot(make_bot, ["I love jazz music."])
    reply = bot.chat("cat", "What music do you like?", at=T0)
    assert reply.trace.persona_check.regenerated is False
    assert len(model.calls) == 1
    assert [t.text for t in bot.persona("cat", "agent")] == ["I love jazz music."]


def test_the_check_can_be_switched_off(make_bot):
    model = RecordingChatModel(replies=["My name is Bob."])
    bot = make_bot(chat_model=model, persona_extractor="rules", summariser="extractive",
                   check_persona=False)
    reply = bot.chat("dee", "Who are you?", at=T0)
    assert reply.text == "My name is Bob." and reply.trace.persona_check is None


def test_streaming_retracts_the_draft_before_the_regenerated_reply(make_bot):
    from agent import Retraction

    bot, _ = _bot(make_bot, ["My name is Bob.", "I am Kindred.", "I love jazz music."])
    items = list(bot.stream("eve", "Who are you?", at=T0))
    reply = items[-1]
    cut = next(i for i, item in enumerate(items) if isinstance(item, Retraction))
    draft, revision = "".join(items[:cut]).strip(), "".join(items[cut + 1:-1]).strip()
    assert draft == "My name is Bob." and revision == reply.text == "I am Kindred."
    assert items[cut].reason == "persona_check"
    assert 'first draft withdrawn: "My name is Bob' in reply.trace.explain()
    assert '"My name is Kindred." (name); regenerated' in reply.trace.explain()
    # a consistent reply streams with no retraction
    plain = list(bot.stream("eve", "What do you like?", at=T0 + 60))
    assert not any(isinstance(item, Retraction) for item in plain)
    assert "".join(plain[:-1]).strip() == plain[-1].text == "I love jazz music."


def test_the_terminal_chat_says_when_a_draft_was_withdrawn(make_bot):
    import io

    from rich.console import Console

    from agent.chat_loop import ChatLoop

    bot, _ = _bot(make_bot, ["My name is Bob.", "I am Kindred."])
    screen = io.StringIO()
    loop = ChatLoop(bot, "fay", Console(file=screen, width=120, color_system=None))
    assert loop.handle("Who are you?")
    shown = screen.getvalue()
    assert shown.index("My name is Bob.") < shown.index("(withdrawn: it contradicted who I am")
    assert shown.index("(withdrawn") < shown.index("I am Kindred.")
    loop.handle("/why")
    assert "first draft withdrawn" in screen.getvalue()


def test_a_replayed_assistant_keeps_only_what_it_says_of_itself(make_bot):
    """An ingest's agent turns pass the chat reply's test: a world fact an assistant states is
    not its persona (the user's own statements are kept as before)."""
    bot, _ = _bot(make_bot, [])
    bot.ingest("eve", [
        {"speaker": "eve", "role": "user", "text": "My tomatoes keep splitting.", "at": T0},
        {"speaker": "kindred", "role": "agent", "at": T0 + 1,
         "text": "Tomatoes need deep, even watering. The skins split after a dry spell."},
        {"speaker": "eve", "role": "user", "text": "I grow them on my balcony.", "at": T0 + 2},
        {"speaker": "kindred", "role": "agent", "text": "I love growing basil myself.",
         "at": T0 + 3},
        {"speaker": "eve", "role": "user", "text": "Thanks!", "at": T0 + 4},
        {"speaker": "kindred", "role": "agent", "text": "I will check on that for you.",
         "at": T0 + 5}])
    assert [t.text for t in bot.persona("eve", "agent")] == ["I love growing basil myself."]
    assert len(bot.persona("eve", "user")) == 2


# said by the assistants of LongMemEval's haystacks and by the 135M local model in the demo
_SERVICE_TALK = ["I don't have personal opinions or beliefs.", "As an AI, I don't have personal "
                 "preferences or recipes.", "I have got some tips to help you out.",
                 "I have included the address and Google rank for each place.",
                 "I am here to help.", "I'd be happy to give you advice.",
                 "I need a bit more information from you.", "I made an error in my previous response.",
                 "I don't have direct access to your Instagram account.",
                 "I cannot predict the future.", "I can provide some information on that."]
# said of themselves by LoCoMo's speakers (the agent side of a replay of two people)
_OWN_FACTS = ["I have got a pup and a kitty.", "I love growing basil myself.",
              "I volunteered at the homeless shelter and they gave me a medal.",
              "I am always looking for something new to read.", "I don't have a car anymore.",
              "I can't swim.", "I am here in Boston for a conference."]


@pytest.mark.parametrize("text", _SERVICE_TALK)
def test_an_assistants_talk_about_its_service_is_not_its_persona(text):
    assert not speaks_of_itself(text)


@pytest.mark.parametrize("text", _OWN_FACTS)
def test_what_a_speaker_says_of_itself_is_its_persona(text):
    assert speaks_of_itself(text)


def test_a_reply_that_disclaims_does_not_become_who_the_agent_is(make_bot):
    """Seen with the local model: its "I don't have personal preferences or recipes." was stored
    as an agent trait and put in every later prompt as who the agent is."""
    bot, model = _bot(make_bot, ["As an AI, I don't have personal preferences or recipes.",
                                 "How about a risotto?"])
    bot.chat("gus", "What should I cook tonight?", at=T0)
    bot.chat("gus", "Any idea at all?", at=T0 + 60)
    assert bot.persona("gus", "agent") == []
    system = model.calls[1][0].content
    assert "personal preferences" not in system


def test_a_disclaimers_clause_cut_from_its_sentence_is_not_the_agents_persona(make_bot):
    """Seen in the terminal demo with the local model: "as a chatbot designed to assist with
    cooking and baking tasks, I don't have recipes or ingredients available." gave the clause
    "I don't have recipes or ingredients available.", which passed the test alone and became the
    agent's persona in every later prompt. The sentence the trait came from is tested too, in a
    chat turn and in a replay; a trait of the same reply from another sentence is kept."""
    reply = ("I'm sorry for the confusion, but as a chatbot designed to assist with cooking and "
             "baking tasks, I don't have recipes or ingredients available.")
    trait = "I don't have recipes or ingredients available."
    assert speaks_of_itself(trait) and not speaks_of_itself(trait, reply)
    assert speaks_of_itself("I love growing basil myself.",
                            "As an AI, I can't garden. I love growing basil myself.")
    bot, model = _bot(make_bot, [reply, "How about a chickpea curry?"])
    bot.chat("dana", "What should I cook tonight? I have chickpeas and spinach.", at=T0)
    bot.chat("dana", "Any idea at all?", at=T0 + 60)
    assert bot.persona("dana", "agent") == []
    assert "recipes or ingredients" not in model.calls[1][0].content
    bot.ingest("eve", [{"role": "user", "speaker": "eve", "text": "Any recipe for tonight?",
                        "at": T0},
                       {"role": "agent", "speaker": "Kindred", "text": reply, "at": T0 + 5}])
    assert bot.persona("eve", "agent") == []
