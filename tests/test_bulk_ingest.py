"""Bulk ingest at the embedder's pace: replays that say where their sessions begin, texts encoded
and parsed once ahead of the sessions, batches sized by tokens, one parse per text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.embeddings import _token_batches
from memory.nlp import Parser, shared_parser


def _session(user: str, start: float, lines: list[str], *, first: bool = False) -> list[dict]:
    return [{"speaker": user if n % 2 == 0 else "assistant", "role": "user" if n % 2 == 0
             else "agent", "text": text, "at": start + n, "session_start": first and n == 0}
            for n, text in enumerate(lines)]


def test_a_replay_can_say_where_its_sessions_begin(make_bot):
    bot = make_bot()
    first = ["I adopted a greyhound called Pixel.", "Lovely! How is Pixel settling in?"]
    second = ["I started a pottery class on Tuesdays.", "That sounds relaxing."]
    # one minute apart: by the clock alone, one session (β is far longer)
    ids = bot.ingest("ana", _session("ana", T0, first) + _session("ana", T0 + 60, second,
                                                                   first=True))
    assert [i.split("/")[1] for i in ids] == ["s0001", "s0001", "s0002", "s0002"]
    events = bot.memory.events.list("ana")
    assert len(events) == 1 and "Pixel" in events[0].summary  # the first one, consolidated
    bot.ingest("bo", _session("bo", T0, first) + _session("bo", T0 + 60, second))
    assert {t.session_id for t in bot.memories("bo").session_turns} == {"s0001"}
    assert bot.memory.events.list("bo") == []


def test_session_start_on_the_first_utterance_of_a_thread_changes_nothing(make_bot):
    bot = make_bot()
    ids = bot.ingest("cy", _session("cy", T0, ["I live in Porto.", "Nice city."], first=True))
    assert [i.split("/")[1] for i in ids] == ["s0001", "s0001"]
    assert bot.memory.events.list("cy") == []


def test_bulk_ingest_stores_what_one_session_at_a_time_stores(make_bot, tmp_path):
    """Encoding and parsing ahead is only a cache: turns, their vectors, topics and traits are
    those a session-by-session ingest stores."""
    lines = [["I work as a nurse in Leeds.", "Night shifts must be hard."],
             ["My sister Ana is getting married in June.", "Congratulations to her!"],
             ["I have been learning the cello for a year.", "What pieces are you playing?"]]
    whole = make_bot(data_dir=tmp_path / "whole")
    whole.ingest("di", [u for n, s in enumerate(lines)
                        for u in _session("di", T0 + n * 600, s, first=n > 0)])
    piecewise = make_bot(data_dir=tmp_path / "piecewise")
    for n, s in enumerate(lines):
        piecewise.ingest("di", _session("di", T0 + n * 600, s, first=n > 0))
    a, b = whole.memory.turns.all_vectors("di"), piecewise.memory.turns.all_vectors("di")
    assert a[0] == b[0] and a[1] == b[1] and len(a[0]) == 6
    assert np.allclose(a[2], b[2], atol=1e-5)
    topics = [whole.memory.turns.vectors("di", a[0])[i][1]["topics"] for i in a[0]]
    assert topics == [piecewise.memory.turns.vectors("di", b[0])[i][1]["topics"] for i in b[0]]
    assert sorted(t.text for t in whole.personas.list("di")) == \
        sorted(t.text for t in piecewise.personas.list("di"))
    assert len(whole.memory.events.list("di")) == len(piecewise.memory.events.list("di")) == 2


def test_a_bulk_ingest_encodes_everything_it_stores_in_one_batch(make_bot, embedder):
    """The turns' keys and a long turn's pieces are encoded in one length-sorted batch; the
    traits read meanwhile and the summaries of the sessions the batch closes in a second one; the
    sessions' runs then find every vector cached, the summariser's too: it scores a session's
    sentences by their turns' keys and encodes no sentence. (Its sentences, encoded a session at
    a time when each session ended, were a tenth of a LongMemEval replay; each summary alone,
    ~9 ms.)"""
    from fakes import RecordingEmbedder

    recording = RecordingEmbedder(embedder)
    bot = make_bot(embedder=recording, persona_extractor="rules", summariser="extractive")
    long_reply = " ".join(f"Step {n} of the recipe is to fold the dough and let it rest." for n in
                          range(40))
    lines = [["I work as a nurse in Leeds, and I have two dogs. Night shifts are hard on me.",
              "That sounds tiring."],
             ["My sister Ana is getting married in June!", long_reply],
             ["Do you like cellos?", "I do."]]
    embedder.clear_cache()
    recording.calls.clear()
    bot.ingest("di", [u for n, s in enumerate(lines)
                      for u in _session("di", T0 + n * 600, s, first=n > 0)])
    bot.end_session("di", at=T0 + 3000)
    summaries = [e.summary for e in sorted(bot.memory.events.list("di"), key=lambda e: e.ts)]
    assert len(summaries) == 3  # every session summarised
    first, *rest = recording.calls
    # after the batch, in one batch: the traits read meanwhile (those the bank keeps) and the
    # summaries of the two sessions the ingest closed (the last stays open until end_session)
    at = next(n for n, call in enumerate(rest) if set(call) & set(summaries))
    assert all(set(call) <= set(first) for call in rest[:at])
    second = rest[at]
    traits = [t for t in second if t not in summaries]
    # (each fact the bank keeps: "I work as a nurse in Leeds.", "I have two dogs.")
    assert sorted(traits) == sorted(t.text for t in bot.personas.list("di")) and len(traits) > 2
    assert sorted(t for t in second if t in summaries) == sorted(summaries[:2])
    assert len(bot.memory.turns.keys_of("assistant", long_reply)) > 1  # a long turn: pieces
    for speaker, text in [("di" if n % 2 == 0 else "assistant", t)
                          for s in lines for n, t in enumerate(s)]:
        assert set(bot.memory.turns.keys_of(speaker, text)) <= set(first)
    encoded = {t for call in recording.calls for t in call}
    assert not {"Night shifts are hard on me.", "My sister Ana is getting married in June!",
                "I do."} & encoded  # sentences ("I work as a nurse in Leeds." is also a trait)
    assert "nurse in Leeds" in summaries[0] and "married in June" in summaries[1]
    # encoded later: the last session's summary (everything else: cache hits)
    cached = set(first) | set(second)
    assert [t for call in rest[at:] for t in call if t not in cached] == [summaries[2]]


def test_only_whole_sessions_are_summarised_ahead(make_bot, embedder):
    """A session begun in an earlier ingest is not summarised from this ingest's part of it:
    every summary encoded is an event's own."""
    from fakes import RecordingEmbedder

    recording = RecordingEmbedder(embedder)
    bot = make_bot(embedder=recording, persona_extractor="rules", summariser="extractive")
    bot.ingest("ed", _session("ed", T0, ["I grow tomatoes in my garden.", "Nice."]))
    recording.calls.clear()
    bot.ingest("ed", _session("ed", T0 + 10, ["My tomatoes are ripe now.", "Great!"])
               + _session("ed", T0 + 600, ["I bought a red bike.", "Cool."], first=True)
               + _session("ed", T0 + 1200, ["I am painting my kitchen.", "Fun."], first=True))
    summaries = {e.summary for e in bot.memory.events.list("ed")}
    assert len(summaries) == 2 and any("grow tomatoes" in s and "ripe" in s for s in summaries)
    assert {t for call in recording.calls for t in call if t.startswith("Ed said")} == summaries


def test_an_agents_long_answer_is_read_from_its_opening(make_bot):
    """spaCy reads the agent's first 500 characters (its topics, what it says of itself) and a
    user's first 1,000; the turns are stored whole and found by their words past that."""
    bot = make_bot(persona_extractor="rules")
    answer = ("I am a keen gardener myself, so here is my plan for your allotment. " +
              " ".join(f"In week {n} water the tomatoes and weed the beds." for n in range(30)) +
              " Finally, store the harvest in the cellar.")
    ids = bot.ingest("eve", _session("eve", T0, ["Can you plan my allotment for the summer?",
                                                  answer]))
    turns = {t.id: t for t in bot.memory.turns.get("eve", ids)}
    reply = turns[ids[1]]
    assert reply.text == answer and "allotment" in reply.topics and "gardener" in reply.topics
    assert "cellar" not in reply.topics and "harvest" not in reply.topics  # past its opening
    assert [t.text for t in bot.personas.list("eve", "agent")] == ["I am a keen gardener myself."]
    found = bot.recall("eve", "Where should the harvest be stored?", at=T0 + 100)
    assert ids[1] in [m.id for m in found.turns]


def test_a_reading_is_made_once_per_parse_and_kept_with_it():
    """Topics and traits read ahead of a bulk ingest's runs are found by the runs: a reader is
    called once per Doc and key, its reading (None too) kept with the Doc."""
    parser, calls = shared_parser(), []
    mine, other = object(), object()

    def reader(doc):
        calls.append(doc.text)
        return None if "dog" in doc.text else len(doc)

    texts = ["A cat sat on the mat today.", "A dog barked at the post van.",
             "A cat sat on the mat today."]
    assert parser.read_many(texts, reader, mine) == [8, None, 8]
    assert calls == texts[:2]  # the same text is the same Doc: read once
    assert parser.read_many(texts[::-1], reader, mine) == [8, None, 8] and len(calls) == 2
    assert parser.read_many(texts[:1], lambda doc: "other", other) == ["other"]
    assert parser.read_many(texts[:1], reader, mine) == [8] and len(calls) == 2


def test_parses_held_outlive_the_cache_until_their_block_ends():
    """A bulk ingest parses its texts ahead and its runs read them a session at a time; the
    runs' own parses must not push the ones not read yet out of the cache (they did: a
    LongMemEval replay parsed 46% of its texts twice). Held Docs stay, nested holds count, a
    tag-only Doc parsed again whole is the one kept, and the block's end (by an error too)
    hands them back to the LRU."""
    parser = Parser(cache_size=2)
    texts = ["I keep bees on the roof.", "My brother builds boats in Hull."]
    tagged = parser.parse_many(texts, dependencies=False)
    with parser.held(texts):
        docs = parser.parse_many(texts)  # parsed again, whole: these are the Docs held
        assert not any(a is b for a, b in zip(docs, tagged, strict=True))
        parser.parse_many([f"Unrelated line number {n}." for n in range(5)])  # the LRU turns over
        assert all(a is b for a, b in zip(parser.parse_many(texts), docs, strict=True))
        with parser.held(texts[:1]):
            parser.parse_many([f"Another line number {n}." for n in range(5)])
        assert parser.parse(texts[0]) is docs[0]  # the inner hold's end keeps the outer's
        with pytest.raises(RuntimeError), parser.held(["A third text."]):
            raise RuntimeError("a run failed")
    parser.parse_many([f"One more line number {n}." for n in range(5)])
    assert parser.parse(texts[0]) is not docs[0]  # back in the LRU, and evicted like any Doc
    assert not parser._holds and not parser._held


def test_a_bulk_ingest_holds_its_parses_for_its_runs_only(make_bot):
    bot = make_bot(persona_extractor="rules")
    bot.ingest("hana", _session("hana", T0, ["I grow tomatoes on my balcony.", "Lovely."]))
    parser = shared_parser()
    assert not parser._holds and not parser._held  # nothing kept past the ingest


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 256), max_size=80), st.integers(1, 40), st.integers(1, 4096))
def test_token_batches_cover_every_row_once_within_their_budget(lengths, rows, tokens):
    batches = _token_batches(lengths, rows, tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # shortest first, so a batch is padded to its last row
    for batch in batches:
        assert len(batch) <= rows
        assert len(batch) == 1 or len(batch) * lengths[batch[-1]] <= tokens


def test_token_batched_vectors_are_the_vectors_of_each_text_alone(embedder):
    texts = ["ok", "My dog is called Biscuit.", "word " * 400,
             "I moved to Lisbon last spring and I am still learning Portuguese. " * 6, "hi there"]
    embedder.clear_cache()
    together = embedder.embed(texts)
    alone = []
    for text in texts:
        embedder.clear_cache()
        alone.append(embedder.embed([text])[0])
    assert (together * np.array(alone)).sum(axis=1) == pytest.approx([1.0] * len(texts), abs=1e-4)


def test_one_text_is_parsed_once_for_its_topics_and_its_traits(topics):
    from personas.extract import RuleTraitExtractor

    parser = shared_parser()
    text = "I take a dance class and a pottery class with my sister every week."
    doc = parser.parse(text)
    assert parser.parse(text) is doc and parser.parse(f"  {text} ") is doc
    size = len(parser._cache)
    assert topics.topics(text) == ["dance", "class", "pottery", "sister", "week"]
    assert RuleTraitExtractor().extract(text) is not None
    assert parser.parse(text) is doc and len(parser._cache) == size  # nothing parsed again


def test_singular_nouns_keep_their_lemma(topics):
    # without the attribute ruler's morphology the rule lemmatizer cut "class" to "clas"
    assert topics.topics("Awareness of the process helped the class make progress.") == \
        ["awareness", "process", "class", "progress"]
    assert topics.topics("The classes and the processes") == ["class", "process"]


def test_the_process_defaults_limit_glibc_to_two_malloc_arenas(tmp_path):
    """Threads each given an arena of their own left freed memory spread over them: a process
    replaying haystacks grew by a gigabyte in six (benchmarks/RESULTS.md)."""
    import json
    import os
    import subprocess
    import sys

    probe = ("import json, os\nfrom memory.process import _limit_arenas, apply_process_defaults\n"
             "changed = apply_process_defaults()\n"
             "print(json.dumps([changed.get('MALLOC_ARENA_MAX'), os.environ['MALLOC_ARENA_MAX'],"
             " _limit_arenas(2)]))\n")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    assert json.loads(out.stdout.splitlines()[-1]) == ["2", "2", True]  # glibc: mallopt took it
    env["MALLOC_ARENA_MAX"] = "4"  # what the user exported wins
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    assert json.loads(out.stdout.splitlines()[-1])[:2] == [None, "4"]


def test_a_long_parse_ahead_does_not_hold_up_another_users_parse():
    """The ingest's parse ahead takes the parser's lock a slice at a time: a chat turn's text
    parsed meanwhile is done while the long parse is still running."""
    import threading

    parser = shared_parser()
    long_texts = [f"Document {n}: " + "I planted tomatoes and basil in the garden. " * 40
                  for n in range(400)]
    ahead = threading.Thread(target=parser.parse_many, args=(long_texts,))
    ahead.start()
    try:
        while not parser._lock.locked():  # the long parse has begun
            pass
        assert parser.parse("My cat Pixel likes the balcony.") is not None
        assert ahead.is_alive()  # the short parse did not wait for all 400
    finally:
        ahead.join()


def test_the_parsers_lock_goes_to_its_waiters_in_the_order_they_came():
    """A release hands the lock to the oldest waiter (threading.Lock lets the releasing thread
    take it straight back, which starved a chat turn behind a bulk parse)."""
    import threading
    import time

    from memory.nlp import _FifoLock

    lock, order = _FifoLock(), []

    def take(name):
        with lock:
            order.append(name)

    with lock:
        threads = []
        for name in ("first", "second", "third"):
            thread = threading.Thread(target=take, args=(name,))
            thread.start()
            while len(lock._waiters) < len(threads) + 1:  # queued before the next one starts
                time.sleep(0.001)
            threads.append(thread)
        order.append("holder")
    for thread in threads:
        thread.join()
    assert order == ["holder", "first", "second", "third"]
    assert not lock.locked()


def test_topics_are_read_from_the_tags_and_a_trait_reader_gets_the_whole_parse(topics):
    """Topics need the tagger alone: a text only they read is not given to the dependency
    parser; one a trait extractor reads later is parsed again, whole, and a whole parse serves
    the topics as it is."""
    parser = shared_parser()
    text = "Our allotment grows leeks, and the harvest goes to the village cellar in October."
    nouns = ["allotment", "leek", "harvest", "village", "cellar", "october"]
    assert topics.topics(text) == nouns
    tagged = parser.parse_many([text], dependencies=False)[0]
    assert not tagged.has_annotation("DEP") and tagged.has_annotation("TAG")
    whole = parser.parse(text)
    assert whole is not tagged and whole.has_annotation("DEP")
    assert parser.parse_many([text], dependencies=False)[0] is whole
    assert topics.topics(text) == nouns


def test_an_agent_span_that_cannot_name_the_agent_is_not_parsed_for_its_traits():
    """An agent's trait is kept only when it names the agent ("I", "my"…; "we" is told as "I"),
    so a reply without such a word is not parsed for one: on the LongMemEval dev split that is
    59% of the assistant's replies (31,866 of 53,781), and none of 3,000 of them, nor of LoCoMo's
    1,686 such lines, parsed anyway, gave a trait that a reader keeps (2026-12-06)."""
    from memory.text import parse_prefix, parse_span
    from personas.consistency import speaks_of_itself
    from personas.extract import RuleTraitExtractor

    parser = shared_parser()
    impersonal = "Tomatoes need six hours of full sun and steady watering in the summer months."
    texts = [impersonal, "I am a keen gardener myself and I grow tomatoes every summer.",
             "We grow leeks on our allotment."]
    traits = RuleTraitExtractor(role="agent").extract_many(texts)
    assert traits[0] is None
    assert parse_prefix(parse_span("agent", impersonal).strip()) not in parser._cache
    assert [t.text for t in traits[1:]] == [
        "I am a keen gardener myself. I grow tomatoes every summer.",
        "I grow leeks on my allotment."] and all(speaks_of_itself(t.text) for t in traits[1:])
    said_by_a_person = RuleTraitExtractor(role="user").extract(impersonal)
    assert said_by_a_person is not None and not speaks_of_itself(said_by_a_person.text)
