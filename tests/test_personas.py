"""Persona extraction (rules, LLM parsing), the persisted bank, and agent persona cards."""

from __future__ import annotations

import pytest
from conftest import DAY, T0
from fakes import RecordingChatModel

from memory.errors import ConfigurationError, InvalidInputError
from personas.bank import Observation, PersonaBank
from personas.cards import available_cards, load_card
from personas.extract import (
    ExtractedTrait,
    LLMTraitExtractor,
    RuleTraitExtractor,
    parse_trait_output,
)

RULES = RuleTraitExtractor()


@pytest.mark.parametrize("text, subject", [
    ("My dog is called Biscuit.", "pet"),
    ("I have a beagle called Biscuit.", "pet"),  # a breed names a pet too
    ("I moved to Berlin last May.", "home"),
    ("I work as a nurse at the city hospital.", "job"),
    ("My sister Ana lives with me.", "family"),
    ("I love playing the guitar.", "hobby"),
])
def test_rules_find_first_person_traits_with_a_subject(text, subject):
    trait = RULES.extract(text)
    assert trait is not None and trait.subject == subject
    assert trait.text.rstrip(".") in text


@pytest.mark.parametrize("text", ["What is my dog called?", "The weather is lovely.",
                                  "I see. Tell me more?", "Thanks, I will remember that."])
def test_rules_skip_questions_and_small_talk(text):
    assert RULES.extract(text) is None


def test_rules_keep_negation_and_cap_length():
    assert RULES.extract("Oh, I don't eat meat anymore.").text == "I don't eat meat anymore."
    long = "I have " + " and ".join(f"a pet number {i}" for i in range(20)) + "."
    assert len(RULES.extract(long).text.split()) <= 20


def test_llm_output_parsing_is_lenient():
    assert parse_trait_output("NO_TRAIT") is None
    assert parse_trait_output("Trait: I have two cats") == "I have two cats."
    assert parse_trait_output('```json\n{"trait": "I live in Rome"}\n```') == "I live in Rome."
    assert parse_trait_output("ok") is None  # too short to be a trait


def test_llm_extractor_fills_the_prompt_and_parses_the_reply():
    model = RecordingChatModel(replies=["Persona: I am a vegetarian."])
    extractor = LLMTraitExtractor(model, "Extract from: {utterance}")
    trait = extractor.extract("I stopped eating meat years ago.")
    assert trait == ExtractedTrait("I am a vegetarian.", "food")
    assert model.calls[0][0].content == "Extract from: I stopped eating meat years ago."


@pytest.fixture
def bank(stores, embedder):
    from memory.consolidation import RehearsalPolicy

    return PersonaBank(stores, embedder, RehearsalPolicy(theta=3))


def test_bank_merges_repeats_and_promotes_after_theta(bank):
    t = bank.observe("alice", "user", ExtractedTrait("I have two cats.", "pet"), T0, ("t1",))
    assert (t.count, t.tier, t.merged) == (1, "short", False)
    t = bank.observe("alice", "user", ExtractedTrait("I have two cats", "pet"), T0 + 1, ("t2",))
    assert (t.count, t.tier, t.merged) == (2, "short", True)
    t = bank.observe("alice", "user", ExtractedTrait("I own two cats.", "pet"), T0 + 2, ("t3",))
    assert (t.count, t.tier) == (3, "long")
    assert t.source_turn_ids == ("t1", "t2", "t3")
    assert len(bank.list("alice", "user")) == 1


def test_bank_supersedes_on_exclusive_subject_and_keeps_history(bank):
    old = bank.observe("alice", "user", ExtractedTrait("I live in Paris.", "home"), T0)
    new = bank.observe("alice", "user", ExtractedTrait("I moved to Berlin.", "home"), T0 + DAY)
    assert [t.text for t in bank.list("alice", "user")] == ["I moved to Berlin."]
    history = {t.id: t for t in bank.list("alice", "user", include_history=True)}
    assert history[old.id].status == "superseded"
    assert history[old.id].valid_to == T0 + DAY and history[old.id].superseded_by == new.id
    # a non-exclusive subject accumulates
    bank.observe("alice", "user", ExtractedTrait("I have a dog.", "pet"), T0)
    bank.observe("alice", "user", ExtractedTrait("I also have a parrot.", "pet"), T0)
    assert len(bank.list("alice", "user")) == 3


@pytest.mark.parametrize("new, old, holds", [
    ("I am not vegetarian anymore.", "I am a vegetarian.", ""),
    ("I'm not vegetarian any more.", "I am a vegetarian.", ""),  # parsed with "I" on the "'m"
    ("I am not vegetarian anymore.", "I am a vegetarian and I love hiking in the Alps.",
     "I love hiking in the Alps."),
    ("I am not vegetarian anymore. I started eating fish.", "I am a vegetarian, I love hiking.",
     "I love hiking."),
    ("I don't play guitar anymore.", "I play the guitar in a band.", ""),
    ("I quit smoking last year.", "I smoke a pack a day.", ""),
    ("I no longer live in Paris.", "I live in Paris with my cat.", ""),
    ("I eat meat again now.", "I don't eat meat anymore.", ""),  # back the other way
    ("I don't run anymore.", "I run every morning.", ""),
    ("I stopped running after my knee surgery.", "I run every morning before work.", ""),
    # a clause of several coordinated things loses only the one reversed
    ("I don't have a dog anymore.", "I have two dogs and a cat.", "I have a cat."),
    ("I don't have a cat anymore.", "I have two dogs and a cat.", "I have two dogs."),
    ("I don't eat fish anymore.", "I eat meat, fish and eggs.", "I eat meat and eggs."),
    ("I am not a teacher anymore.", "I am a teacher and a mother of two.",
     "I am a mother of two."),
    ("I'm not vegan anymore.", "I'm vegan and gluten-free.", "I'm gluten-free."),
    ("I eat meat again now.", "I don't eat meat or fish anymore.", "I don't eat fish anymore."),
    ("I don't play the piano anymore.", "I love hiking and I play guitar and piano.",
     "I love hiking. I play guitar."),
    ("I don't eat meat or fish anymore.", "I eat fish every Friday.", ""),  # each one denied
    # a fragment left alone is no trait (MSC: "Sadly ... I never had enough money…")
    ("I am not vegetarian anymore.", "Wow. I am a vegetarian and I love hiking in the Alps.",
     "I love hiking in the Alps."),
    # not reversals: another thing, nothing on its own, a narrower negation, the same polarity
    ("I don't play guitar anymore.", "I play the piano in a band.", None),
    ("I don't like it anymore.", "I like hiking.", None),
    ("I eat meat.", "I don't eat red meat.", None),
    ("I don't drink coffee anymore.", "I love tea.", None),
    ("I don't eat meat.", "I don't eat meat or fish.", None),
    # a bare verb denied without the change said: an ability or a moment (MSC: "I have never
    # sung while playing" / "I can sing"; "I don't remember.")
    ("I can't swim.", "I swim every weekend at the lake.", None),
    ("I don't remember.", "I remember the band.", None),
    # a wish or a plan is not how things are
    ("I have never been to Hawaii.", "I would love to go to Hawaii.", None),
    ("I have not moved yet.", "I am going to move to Rome.", None),
    ("I don't read his books.", "I read books every night.", None),  # his books, not books
])
def test_a_newer_trait_reverses_the_clauses_it_negates(new, old, holds):
    from personas.reversal import still_holds

    assert still_holds(new, old) == holds


def test_a_reversal_ends_the_old_trait_instead_of_rehearsing_it(bank, stores):
    """Found driving the terminal demo: "I'm not vegetarian anymore" was merged into "I am a
    vegetarian." as the same trait said again (cosine 0.90: its count went up), and beside a
    longer trait it stood as a second current one. The newer trait now supersedes what it
    reverses, keeps what else the old trait said, and recall shows the old turns as changed."""
    veg = bank.observe("alice", "user", ExtractedTrait(
        "I am a vegetarian and I love hiking in the Alps.", "food"), T0, ("a/1",))
    veg = bank.observe("alice", "user", ExtractedTrait(
        "I am a vegetarian and I love hiking in the Alps!", "food"), T0 + DAY, ("a/2",))
    meat = bank.observe("alice", "user", ExtractedTrait("I eat meat.", "food"), T0, ("a/3",))
    bank.observe("bob", "user", ExtractedTrait("I am a vegetarian.", "food"), T0, ("b/1",))
    now = bank.observe("alice", "user", ExtractedTrait("I am not vegetarian anymore.", "food"),
                       T0 + 2 * DAY, ("a/4",))
    assert (now.text, now.count, now.merged) == ("I am not vegetarian anymore.", 1, False)
    no_meat = bank.observe("alice", "user", ExtractedTrait("I don't eat meat.", "food"),
                           T0 + 3 * DAY, ("a/5",))  # an edit away from "I eat meat."
    active = {t.text: t for t in bank.list("alice", "user")}
    assert set(active) == {"I love hiking in the Alps.", "I am not vegetarian anymore.",
                           "I don't eat meat."}
    rest = active["I love hiking in the Alps."]
    assert (rest.count, rest.first_seen, rest.source_turn_ids, rest.subject) == \
        (2, T0, ("a/1", "a/2"), "hobby")
    history = {t.id: t for t in bank.list("alice", "user", include_history=True)}
    assert (history[veg.id].status, history[veg.id].superseded_by) == ("superseded", now.id)
    assert (history[meat.id].status, history[meat.id].superseded_by) == \
        ("superseded", no_meat.id)
    later = bank.later_changes("alice", ["a/1", "a/3"])
    assert [(c.what, c.now) for c in later["a/1"]] == [("changed", "I am not vegetarian anymore.")]
    assert [(c.what, c.now) for c in later["a/3"]] == [("changed", "I don't eat meat.")]
    assert {v["id"] for v in stores.vectors.get("traits", "alice")} == \
        {t.id for t in active.values()}
    assert [t.text for t in bank.list("bob")] == ["I am a vegetarian."]  # another user's as it was


def test_a_reversal_of_one_of_several_things_keeps_the_others(bank):
    """"I don't have a dog anymore." ended all of "I have two dogs and a cat.": the cat left
    the user's persona. The bank now keeps what the reversal leaves as a current trait, with
    the old trait's turns and count, and the old one superseded by the newer."""
    pets = bank.observe("alice", "user", ExtractedTrait("I have two dogs and a cat.", "pet"),
                        T0, ("a/1",))
    bank.observe("alice", "user", ExtractedTrait("I have two dogs and a cat!", "pet"),
                 T0 + DAY, ("a/2",))
    gone = bank.observe("alice", "user", ExtractedTrait("I don't have a dog anymore.", "pet"),
                        T0 + 2 * DAY, ("a/3",))
    active = {t.text: t for t in bank.list("alice", "user")}
    assert set(active) == {"I have a cat.", "I don't have a dog anymore."}
    cat = active["I have a cat."]
    assert (cat.count, cat.first_seen, cat.source_turn_ids) == (2, T0, ("a/1", "a/2"))
    history = {t.id: t for t in bank.list("alice", "user", include_history=True)}
    assert (history[pets.id].status, history[pets.id].superseded_by) == \
        ("superseded", gone.id)


def test_the_bank_keeps_one_trait_per_fact_each_with_its_subject(bank):
    """Found driving the terminal demo: "I'm Sam. I have two dogs and a cat. I work as a nurse
    in Leeds." was one trait about pets, so a new job did not supersede the old one and a
    reversal of one fact would end all three. Each sentence is now its own trait; a message's
    facts do not replace one another, and a message that says one thing twice mentions it once."""
    said = bank.observe_many("alice", [Observation("user", ExtractedTrait(
        "I am Sam. I have two dogs and a cat. I work as a nurse in Leeds.", "pet"), T0,
        ("a/1",))])
    assert [(t.text, t.subject) for t in said] == [
        ("I am Sam.", "other"), ("I have two dogs and a cat.", "pet"),
        ("I work as a nurse in Leeds.", "job")]
    teacher = bank.observe("alice", "user", ExtractedTrait("I work as a teacher now.", "job"),
                           T0 + DAY, ("a/2",))
    assert sorted(t.text for t in bank.list("alice", "user")) == [
        "I am Sam.", "I have two dogs and a cat.", "I work as a teacher now."]
    nurse = next(t for t in bank.list("alice", "user", include_history=True)
                 if t.text == "I work as a nurse in Leeds.")
    assert (nurse.status, nurse.superseded_by) == ("superseded", teacher.id)
    both = bank.observe_many("bob", [Observation("user", ExtractedTrait(
        "I moved to Berlin. I used to live in Paris.", "home"), T0, ("b/1",))])
    assert sorted(t.text for t in bank.list("bob", "user")) == sorted(t.text for t in both) == [
        "I moved to Berlin.", "I used to live in Paris."]
    twice = bank.observe_many("cy", [Observation("user", ExtractedTrait(
        "I love my dog Rex. I love my dog Rex!", "pet"), T0, ("c/1",))])
    assert [t.count for t in bank.list("cy", "user")] == [1] and twice[1].merged
    # a correction names the turn it corrects: what that turn said is still replaced
    bank.observe("eve", "user", ExtractedTrait("I live in Paris.", "home"), T0, ("e/1",))
    berlin = bank.observe("eve", "user", ExtractedTrait("I moved to Berlin.", "home"), T0 + 1,
                          ("e/1",), correction=True)
    assert [t.text for t in bank.list("eve", "user")] == ["I moved to Berlin."] == [berlin.text]
    # a sentence that points back stays with the one before it: alone it says nothing
    rex = bank.observe_many("dee", [Observation("user", ExtractedTrait(
        "I have a dog named Rex. He is a beagle. I moved to Berlin. I love it there.", "pet"),
        T0, ("d/1",))])
    assert [(t.text, t.subject) for t in rex] == [
        ("I have a dog named Rex. He is a beagle.", "pet"),
        ("I moved to Berlin. I love it there.", "home")]


def test_a_correction_that_replaces_one_trait_still_ends_what_it_reverses(bank):
    """A bank written before reversals existed can hold both "I am not vegetarian anymore."
    and "I am a vegetarian and I love hiking…" as current (an import restores them so). A
    correction that replaces the first (its nearest) must still end the second, superseded by
    the replacement, and keep the hiking; it returned before that step, leaving the second
    ended with nothing in its place."""
    from personas.bank import Trait

    def trait(tid, text, subject):
        return Trait(id=tid, owner="user", text=text, subject=subject, first_seen=T0,
                     last_seen=T0, count=2, tier="short", source_turn_ids=(f"a/{tid}",))

    bank.restore("alice", [trait("tr-veg", "I am a vegetarian and I love hiking in the Alps.",
                                 "food"),
                           trait("tr-not", "I am not vegetarian anymore.", "food")])
    fixed = bank.observe("alice", "user", ExtractedTrait("I'm not vegetarian any more.", "food"),
                         T0 + DAY, ("a/9",), correction=True)
    history = {t.id: t for t in bank.list("alice", include_history=True)}
    assert (history["tr-not"].status, history["tr-not"].superseded_by) == ("superseded", fixed.id)
    assert (history["tr-veg"].status, history["tr-veg"].superseded_by) == ("superseded", fixed.id)
    assert sorted(t.text for t in bank.list("alice")) == [
        "I love hiking in the Alps.", "I'm not vegetarian any more."]


def test_later_changes_follow_replacements_to_what_holds_now_on_every_backend(bank):
    """What recall shows beside a turn whose fact no longer holds: the end of the chain of
    replacements (Paris → Berlin → Rome: "Rome"), a take-back, and nothing for a turn whose
    fact holds or whose replacement was itself taken back; never another user's."""
    bank.observe("alice", "user", ExtractedTrait("I live in Paris.", "home"), T0, ("a/1",))
    bank.observe("alice", "user", ExtractedTrait("I moved to Berlin.", "home"), T0 + DAY, ("a/2",))
    rome = bank.observe("alice", "user", ExtractedTrait("I moved to Rome.", "home"),
                        T0 + 2 * DAY, ("a/3",))
    swim = bank.observe("alice", "user", ExtractedTrait("I can't swim.", "other"), T0, ("a/4",))
    bank.observe("alice", "user", ExtractedTrait("I have a dog.", "pet"), T0, ("a/5",))
    bank.observe_many("alice", [], retracting=[swim.id], at=T0 + 3 * DAY)
    bank.observe("bob", "user", ExtractedTrait("I live in Oslo.", "home"), T0, ("a/5",))
    later = bank.later_changes("alice", ["a/1", "a/2", "a/3", "a/4", "a/5", "a/9"])
    assert {k: [(c.what, c.said, c.now) for c in v] for k, v in later.items()} == {
        "a/1": [("changed", "I live in Paris.", "I moved to Rome.")],
        "a/2": [("changed", "I moved to Berlin.", "I moved to Rome.")],
        "a/4": [("taken back", "I can't swim.", None)]}
    assert bank.later_changes("bob", ["a/1", "a/4", "a/5"]) == {}
    assert bank.later_changes("alice", []) == {}
    bank.observe_many("alice", [], retracting=[rome.id], at=T0 + 4 * DAY)
    later = bank.later_changes("alice", ["a/1", "a/3"])
    assert {k: [c.what for c in v] for k, v in later.items()} == {"a/3": ["taken back"]}


def test_bank_correct_delete_and_isolation(bank):
    t = bank.observe("alice", "user", ExtractedTrait("I am a nurse.", "job"), T0)
    fixed = bank.correct("alice", t.id, "I am a paediatric nurse", T0 + 5)
    assert fixed.text == "I am a paediatric nurse."
    assert bank.get("alice", t.id).status == "superseded"
    with pytest.raises(InvalidInputError):
        bank.delete("bob", fixed.id)  # bob cannot touch alice's trait
    assert bank.list("bob") == []
    bank.delete("alice", fixed.id)
    assert bank.list("alice", "user") == []
    with pytest.raises(InvalidInputError, match="list traits"):
        bank.correct("alice", "tr-missing", "I am a doctor.", T0)


def test_user_and_agent_banks_are_separate(bank):
    bank.observe("alice", "user", ExtractedTrait("I love jazz.", "preference"), T0)
    bank.observe("alice", "agent", ExtractedTrait("I love jazz.", "preference"), T0)
    assert len(bank.list("alice", "user")) == 1 and len(bank.list("alice", "agent")) == 1


def test_cards_load_by_name_and_bad_cards_say_why(tmp_path):
    assert "kindred" in available_cards()
    card = load_card("kindred")
    assert card.name == "Kindred" and card.background
    with pytest.raises(ConfigurationError, match="Shipped cards"):
        load_card("nobody")
    bad = tmp_path / "bad.yaml"
    bad.write_text("voice: [unclosed")
    with pytest.raises(ConfigurationError, match="not valid"):
        load_card(bad)


def test_malp_matching_flush_and_promotion(bank):
    from memory.consolidation import RehearsalPolicy

    policy = RehearsalPolicy()
    assert policy.stm_match("I have two cats.", "i have 2 cats")          # edit distance < 6
    assert not policy.stm_match("I have two cats.", "I have a big old dog")
    once = bank.observe("alice", "user", ExtractedTrait("I went to Rome once.", "other"), T0,
                        session_no=1)
    kept = bank.observe("alice", "user", ExtractedTrait("I play chess.", "hobby"), T0,
                        session_no=1)
    for n in (2, 3):  # rehearsed in later sessions: promoted at θ = 3
        kept = bank.observe("alice", "user", ExtractedTrait("I play chess!", "hobby"),
                            T0 + n * DAY, session_no=n)
    assert kept.tier == "long"
    assert bank.flush("alice", 5, T0 + 5 * DAY) == []        # 4 sessions later: still there
    assert bank.flush("alice", 6, T0 + 6 * DAY) == [once.id]  # 5 sessions: the one-off expires
    active = [t.text for t in bank.list("alice", "user")]
    assert active == ["I play chess."]
    expired = bank.get("alice", once.id)
    assert expired.status == "expired" and expired.valid_to == T0 + 6 * DAY
    assert bank.flush("alice", 50, T0 + 50 * DAY) == []       # long-term is never flushed


def test_traits_know_their_source_turns_and_their_vectors_only_whose_they_are(bank, index):
    """The turns a trait came from are in its record (merged as it is seen again); its vector
    carries the filter keys only, so a merge writes no vector metadata."""
    t = bank.observe("alice", "user", ExtractedTrait("I have two cats.", "pet"), T0,
                     ("alice/s0001/0",))
    merged = bank.observe("alice", "user", ExtractedTrait("I have two cats", "pet"), T0 + 1,
                          ("alice/s0002/4",))
    assert merged.id == t.id and merged.count == 2
    assert bank.get("alice", t.id).source_turn_ids == ("alice/s0001/0", "alice/s0002/4")
    [item] = index.get("traits", "alice", ids=[t.id])
    assert item["metadata"] == {"owner": "user", "subject": "pet", "user_id": "alice"}


_BEFORE = [("user", "I am a teacher.", "job"), ("user", "I play chess.", "hobby"),
           ("agent", "I love jazz.", "preference")]
_RUN = [("user", "I have two cats.", "pet"), ("user", "I have two cats", "pet"),
        ("agent", "I love jazz music.", "preference"), ("user", "I live in Paris.", "home"),
        ("user", "I own two cats.", "pet"), ("user", "I moved to Berlin.", "home"),
        ("user", "I love jazz.", "preference"), ("user", "I play chess!", "hobby"),
        ("user", "I work as a nurse.", "job"), ("user", "I moved to Amsterdam.", "home"),
        ("user", "I am the owner of two cats.", "pet"),
        ("agent", "Jazz is the music I love.", "preference"),
        ("user", "I don't play chess anymore.", "hobby")]


def _bank_as_seen(bank, user):
    """A user's traits, history included, without their random ids (a superseding trait is
    named by its text)."""
    traits = bank.list(user, include_history=True)
    text_of = {t.id: t.text for t in traits}
    return sorted((t.owner, t.text, t.subject, t.count, t.tier, t.status, t.source_turn_ids,
                   t.last_session, t.valid_to, text_of.get(t.superseded_by)) for t in traits)


def test_observing_a_run_at_once_leaves_the_bank_as_observing_it_in_turn(bank, stores):
    """One run's traits, observed as one unit, merge, supersede and add exactly as one at a
    time: against the stored bank and against traits added earlier in the same run (the cats
    four times, the last in other words; a home said and changed twice; a job superseding a
    stored one); the index holds the vectors of the active traits only."""
    from personas.bank import Observation

    for user in ("alice", "bob"):
        for n, (owner, text, subject) in enumerate(_BEFORE):
            bank.observe(user, owner, ExtractedTrait(text, subject), T0 + n, (f"b{n}",), 1)
    run = [Observation(owner, ExtractedTrait(text, subject), T0 + DAY + n, (f"r{n}",))
           for n, (owner, text, subject) in enumerate(_RUN)]
    one_by_one = [bank.observe("alice", s.owner, s.trait, s.ts, s.turn_ids, 2) for s in run]
    at_once = bank.observe_many("bob", run, 2)
    assert [(t.text, t.count, t.merged) for t in at_once] == \
        [(t.text, t.count, t.merged) for t in one_by_one]
    assert _bank_as_seen(bank, "bob") == _bank_as_seen(bank, "alice")
    shape = _bank_as_seen(bank, "bob")
    assert ("user", "I have two cats.", "pet", 4, "long", "active", ("r0", "r1", "r4", "r10"),
            2, None, None) in shape  # the last by its vector, added in this run
    assert ("agent", "I love jazz.", "preference", 3, "long", "active", ("b2", "r2", "r11"),
            2, None, None) in shape  # by the stored vector
    assert ("user", "I play chess.", "hobby", 2, "short", "superseded", ("b1", "r7"), 2,
            T0 + DAY + 12, "I don't play chess anymore.") in shape  # reversed, by the run's last
    homes = [(text, status, by) for _, text, subject, _, _, status, _, _, _, by in shape
             if subject == "home"]
    assert homes == [("I live in Paris.", "superseded", "I moved to Berlin."),
                     ("I moved to Amsterdam.", "active", None),
                     ("I moved to Berlin.", "superseded", "I moved to Amsterdam.")]
    for user in ("alice", "bob"):
        active = {t.id for t in bank.list(user)}
        assert {v["id"] for v in stores.vectors.get("traits", user)} == active


def test_a_runs_traits_land_with_its_unit_of_work(bank, stores):
    """With the caller's unit (a run's turns and traits) nothing is stored before it commits."""
    from memory.unit import UnitOfWork
    from personas.bank import Observation

    unit = UnitOfWork(stores)
    [trait] = bank.observe_many("alice", [Observation("user", ExtractedTrait(
        "I have a dog.", "pet"), T0, ("t1",))], unit=unit)
    assert bank.list("alice") == [] and stores.vectors.count("traits", "alice") == 0
    unit.commit()
    assert [t.id for t in bank.list("alice")] == [trait.id]
    assert stores.vectors.count("traits", "alice") == 1


def test_expiries_join_the_unit_of_work_of_the_sessions_event(bank, stores):
    """A session's end expires its unrehearsed traits in the event's unit of work: nothing is
    ended before that unit commits, so a kill between them leaves neither."""
    from memory.unit import UnitOfWork

    once = bank.observe("alice", "user", ExtractedTrait("I went to Rome once.", "other"), T0,
                        session_no=1)
    unit = UnitOfWork(stores)
    assert bank.flush("alice", 6, T0 + 6 * DAY, unit=unit) == [once.id]
    assert [t.id for t in bank.list("alice")] == [once.id]  # not yet
    unit.commit()
    assert bank.list("alice") == [] and bank.get("alice", once.id).status == "expired"
    assert stores.vectors.count("traits", "alice") == 0


@pytest.mark.parametrize("old, new", [
    ("I moved to Berlin.", "I moved to Lisbon."),      # 5 edits apart
    ("I live in Paris.", "I live in Rome."),
    ("I work as a nurse.", "I work as a chef."),
    ("I am 30 years old.", "I am 31 years old."),      # one edit, and cosine 0.94
])
def test_a_new_value_is_not_a_rehearsal_of_the_old_one(bank, old, new):
    """A changed fact a few letters from the old one supersedes it instead of being counted
    as the old one said again (MaLP's edit distance alone merged them: the bank kept the old
    city with a count of 2)."""
    subject = {"I moved": "home", "I live ": "home", "I work ": "job", "I am 30": "age"}
    first = bank.observe("alice", "user", ExtractedTrait(old, subject[old[:7]]), T0)
    second = bank.observe("alice", "user", ExtractedTrait(new, subject[old[:7]]), T0 + DAY)
    assert second.id != first.id and not second.merged
    assert [t.text for t in bank.list("alice", "user")] == [new]
    assert bank.get("alice", first.id).status == "superseded"


def test_surface_edits_are_still_the_same_trait():
    from memory.consolidation import RehearsalPolicy, names_other_values

    policy = RehearsalPolicy()
    for a, b in [("I have two cats.", "i have 2 cats"), ("I have two cats.", "I own two cats."),
                 ("My sister is called Ana.", "My sister is called Anna."),
                 ("I play chess.", "I play chess!"), ("I love my cat.", "I love my cats.")]:
        assert policy.stm_match(a, b) and not names_other_values(a, b)
