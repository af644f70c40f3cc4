"""MemPrompt feedback memory on real Chroma and SQLite."""

from __future__ import annotations

from conftest import T0

from memory.feedback import FeedbackConfig, FeedbackMemory, normalise_request


def test_normalised_key_ignores_case_and_punctuation():
    assert normalise_request("  What's the WEATHER, today?! ") == "what's the weather today"


def test_dense_lookup_matches_a_paraphrase_but_not_an_unrelated_request(stores, embedder):
    fb = FeedbackMemory(stores, embedder, FeedbackConfig(threshold=0.75))
    fb.add("alice", "Recommend me a restaurant for tonight.", "I am vegetarian.", T0,
           understanding="You want any restaurant.")
    match = fb.lookup("alice", "Can you recommend a restaurant for tonight?")
    assert match is not None and match.record.feedback == "I am vegetarian."
    assert match.score > 0.75 and match.mode == "dense"
    assert fb.lookup("alice", "What is the capital of France?") is None
    assert fb.list("alice")[0].hits == 1  # the hit was counted


def test_lexical_lookup_uses_edit_distance_below_six(stores, embedder):
    fb = FeedbackMemory(stores, embedder, FeedbackConfig(mode="lexical"))
    fb.add("alice", "set an alarm for 7", "I meant 7 pm, not am.", T0)
    assert fb.lookup("alice", "Set an alarm for 7!").record.feedback == "I meant 7 pm, not am."
    assert fb.lookup("alice", "set an alarm for seven thirty") is None  # distance >= 6


def test_feedback_is_private_to_its_user_and_a_newer_one_replaces(stores, embedder):
    fb = FeedbackMemory(stores, embedder)
    fb.add("alice", "Recommend a film.", "No horror, please.", T0)
    fb.add("alice", "recommend a film", "No horror and no musicals.", T0 + 10)
    assert [r.feedback for r in fb.list("alice")] == ["No horror and no musicals."]
    assert fb.lookup("bob", "Recommend a film.") is None
    stores.records.delete("alice", "feedback")
    assert fb.list("alice") == []
