"""Hybrid turn retrieval: scoring components, time expressions, and per-user isolation."""

from __future__ import annotations

import json
from pathlib import Path

from datetime import datetime, timezone

import pytest

from memory.hybrid import FactPointer, HybridRetriever, HybridWeights
from memory.backends.sqlite import Database, SqliteLexicalIndex
from memory.lexical import query_terms
from memory.scope import Scope
from memory.timeexpr import resolve_time_window
from memory.turns import TurnIndex
from memory.types import Turn

from conftest import DAY

NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc).timestamp()


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).date().isoformat()


@pytest.mark.parametrize("query, start, end", [
    ("What did I do last May?", "2026-05-01", "2026-06-01"),
    ("Where was I two weeks ago?", "2026-11-06", "2026-11-16"),
    ("what happened yesterday", "2026-11-24", "2026-11-25"),
    ("the trip in March 2023", "2023-03-01", "2023-04-01"),
    ("anything from last week", "2026-11-16", "2026-11-23"),
    ("what did we do last month", "2026-10-01", "2026-11-01"),
    ("in 2022 I was in Rome", "2022-01-01", "2023-01-01"),
    ("last friday", "2026-11-20", "2026-11-21"),
    ("what did I cook the day before yesterday", "2026-11-23", "2026-11-24"),
    ("Which bike did I fix the past weekend?", "2026-11-21", "2026-11-23"),
    ("where did I go last weekend", "2026-11-21", "2026-11-23"),
    # a span up to now is rolling; "last month" is the calendar month before
    ("How much did I spend on groceries in the past month?", "2026-10-26", "2026-11-25"),
    ("the three trips I took in the past three months", "2026-08-26", "2026-11-25"),
    ("books I read over the last couple of weeks", "2026-11-11", "2026-11-25"),
    ("the last week of June", "2026-06-01", "2026-07-01"),  # June's, not the week before
])
def test_time_expressions_resolve_to_windows(query, start, end):
    window = resolve_time_window(query, NOW)
    assert window is not None and (_day(window.start), _day(window.end)) == (start, end)
    assert window.end <= NOW


def test_last_weekend_asked_on_a_weekend_is_the_one_before():
    saturday = NOW + 3 * DAY  # NOW is a Wednesday
    window = resolve_time_window("What did we do last weekend?", saturday)
    assert (_day(window.start), _day(window.end)) == ("2026-11-21", "2026-11-23")


@pytest.mark.parametrize("query", ["We may go to the park.",
                                   "What did I do on the last day of the trip?", "What is my dog called?",
                                   "Tell me about March of the penguins"])
def test_no_time_expression_means_no_window(query):
    w = resolve_time_window(query, NOW)
    assert w is None or "March" in query  # a bare month name still names a month


def test_query_terms_drop_stop_words():
    assert query_terms("When did Caroline go to the LGBTQ support group?") == \
        ["caroline", "lgbtq", "support", "group"]


@pytest.mark.parametrize("query, terms", [
    ("What do you know about me?", []),
    ("Do you remember my sister's birthday?", ["sister", "birthday"]),
    ("Can you remind me what you mentioned in our previous chat about the bakery?",
     ["chat", "bakery"]),
    ("I was wondering, earlier you recalled my bike", ["bike"]),
    # not put to the listener: the same words are what is asked about
    ("What language does Tim know besides German?", ["language", "tim", "know", "german"]),
    ("What does Joanna do to remember happy memories?",
     ["joanna", "remember", "happy", "memories"]),
])
def test_query_terms_drop_the_words_that_only_frame_a_request_to_recall(query, terms):
    assert query_terms(query) == terms


def test_a_request_to_recall_is_not_matched_on_its_framing_words(turn_index, embedder):
    """An old reply that happens to say "know" must not outrank what the user told about
    themselves: "know" was the query's only BM25 term and took the whole lexical weight."""
    turn_index.add("sam", _turns("sam", [
        ("s0001", 0, "I live in Porto and I work as a nurse."),
        ("s0001", 1, "You know me by name, and I know you well by now, I know, I know."),
    ]))
    q = "What do you know about me?"
    out = HybridRetriever(turn_index).search("sam", text=q, vector=embedder.embed([q])[0],
                                             topics=[], now=NOW, k=2)
    assert {m.id: m.scores["lexical"] for m in out} == {"sam/s0001/0": 0.0, "sam/s0001/1": 0.0}
    assert turn_index.search_lexical("sam", "Do you know a nurse?", 5)[0].turn_id == "sam/s0001/0"


def _turns(user, rows, t0=NOW - 30 * DAY):
    return [Turn(id=f"{user}/{s}/{i}", session_id=s, idx=i, role="user" if i % 2 == 0 else "agent",
                 speaker=user if i % 2 == 0 else "Kindred", text=text, ts=t0 + n * 60,
                 topics=()) for n, (s, i, text) in enumerate(rows)]


@pytest.fixture
def turn_index(stores, embedder):
    return TurnIndex(stores, embedder)


def test_lexical_index_stems_scopes_and_forgets(record_backend):
    lex = record_backend[1]
    lex.add("alice", [("a1", "alice: I hiked up Ben Nevis", "any plans?"),
                      ("a2", "alice: my cat sleeps all day", "")])
    lex.add("bob", [("b1", "bob: I hiked up Ben Nevis", "")])
    assert [h.turn_id for h in lex.search("alice", "hiking", 5)] == ["a1"]   # Porter stemming
    assert [h.turn_id for h in lex.search("alice", "plans", 5)] == ["a1"]    # context field
    assert [h.turn_id for h in lex.search("bob", "hiking", 5)] == ["b1"]
    lex.delete("alice")
    assert lex.search("alice", "hiking", 5) == [] and len(lex.search("bob", "hike", 5)) == 1


def test_another_users_turns_never_change_a_users_bm25_scores(record_backend):
    """BM25 statistics are per user: bob's many 'hiking' turns must not lower alice's scores."""
    lex = record_backend[1]
    lex.add("alice", [("a1", "alice: I went hiking in Wales", ""),
                      ("a2", "alice: my cat sleeps all day", "")])
    before = lex.search("alice", "hiking cat", 5)
    lex.add("bob", [(f"b{i}", f"bob: hiking trip number {i}", "") for i in range(50)])
    assert lex.search("alice", "hiking cat", 5) == before
    assert {h.turn_id for h in before} == {"a1", "a2"}


def test_a_new_users_most_talked_about_word_still_counts(record_backend):
    """Ten turns, five about a cat: FTS5's idf is 0 for a word in half the rows, so 'What is my
    cat called?' scored the cat turns 0 and tied the cat's name with a brother's. Lucene's idf
    keeps every word positive and rare words above common ones."""
    lex = record_backend[1]
    lex.add("dana", [("t0", "dana: my cat is called Miso", ""),
                     ("t1", "dana: my brother is called Tom", ""),
                     ("t2", "dana: the cat knocked a glass over", ""),
                     ("t3", "dana: cat food costs a lot", ""),
                     ("t4", "dana: I brushed the cat today", ""),
                     ("t5", "dana: the cat likes tuna", ""),
                     ("t6", "dana: I started a new job", ""),
                     ("t7", "dana: Lisbon is sunny", ""),
                     ("t8", "dana: I run on Sundays", ""),
                     ("t9", "dana: coffee before work", "")])
    hits = lex.search("dana", "What is my cat called?", 10)
    scores = {h.turn_id: h.score for h in hits}
    assert hits[0].turn_id == "t0" and scores["t0"] > 1.2 * scores["t1"]
    assert all(scores[t] > 0.2 * scores["t0"] for t in ("t2", "t3", "t4", "t5"))
    assert set(scores) == {"t0", "t1", "t2", "t3", "t4", "t5"}


def test_bm25_is_the_textbook_formula_with_lucenes_idf(record_backend):
    """Both backends against BM25 written out here (k1 1.2, b 0.75, field weights body 1 and
    context 0.6, the row's length over both fields, Lucene's idf), on words no stemmer changes."""
    import math

    rows = [("r0", "tuna tuna cat", "fish"), ("r1", "cat dog", "tuna"), ("r2", "dog dog dog park", ""),
            ("r3", "fish market", "cat"), ("r4", "park bench", "dog park")]
    lex = record_backend[1]
    lex.add("erin", rows)
    lengths = {r: len(b.split()) + len(c.split()) for r, b, c in rows}
    avg = sum(lengths.values()) / len(rows)

    def expected(query):
        total = dict.fromkeys(lengths, 0.0)
        for word in query.split():
            f = {r: b.split().count(word) + 0.6 * c.split().count(word) for r, b, c in rows}
            n = sum(v > 0 for v in f.values())
            idf = math.log(1 + (len(rows) - n + 0.5) / (n + 0.5))
            for r, v in f.items():
                total[r] += idf * v * 2.2 / (v + 1.2 * (0.25 + 0.75 * lengths[r] / avg))
        return {r: v for r, v in total.items() if v > 0}

    for query in ("tuna", "cat dog", "dog park fish", "tuna cat market"):
        hits = lex.search("erin", query, 10)
        want = expected(query)
        assert {h.turn_id for h in hits} == set(want), query
        for hit in hits:
            assert hit.score == pytest.approx(want[hit.turn_id], rel=1e-6), (query, hit)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


_LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo10.json"


@pytest.fixture(scope="module")
def locomo_turns():
    """The first LoCoMo conversation as lexical rows (body, the previous turn as context) and its
    first 80 questions."""
    if not _LOCOMO.is_file():
        pytest.skip("needs ../shared/data/locomo (CI has it)")
    conv = json.loads(_LOCOMO.read_text())[0]
    rows, prev = [], ""
    for n in range(1, 40):
        for turn in conv["conversation"].get(f"session_{n}") or []:
            body = f"{turn['speaker']}: {turn['text']}"
            rows.append((turn["dia_id"], body, prev))
            prev = turn["text"]
    return rows, [qa["question"] for qa in conv["qa"][:80]]


def test_postgres_bm25_scores_what_sqlite_fts5_scores(db, database_url, locomo_turns):
    """The PostgreSQL index computes FTS5's bm25() in SQL over the same stemmed words: on real
    dialogue (a LoCoMo conversation) the rankings agree and the scores match."""
    from memory.backends.postgres import PgDatabase, PgLexicalIndex

    sqlite_lex, pg = SqliteLexicalIndex(db), PgDatabase(database_url, max_connections=2)
    pg_lex = PgLexicalIndex(pg)
    rows, queries = locomo_turns
    for lex in (sqlite_lex, pg_lex):
        lex.add("alice", rows)
        lex.add("bob", rows[:50])  # another scope's rows must not count
    same_top, total = 0, 0
    for query in queries:
        a, b = sqlite_lex.search("alice", query, 10), pg_lex.search("alice", query, 10)
        if not a:
            assert b == []
            continue
        total += 1
        same_top += a[0].turn_id == b[0].turn_id
        scores_a = {h.turn_id: h.score for h in a}
        shared = [h for h in b if h.turn_id in scores_a]
        assert len(shared) >= 8, query
        for hit in shared:
            assert hit.score == pytest.approx(scores_a[hit.turn_id], rel=0.02), query
    pg.close()
    assert total >= 40 and same_top >= 0.95 * total


def test_a_data_dir_with_the_older_shared_lexical_table_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    old = Database(path)
    old.execute("CREATE VIRTUAL TABLE turn_text USING fts5(turn_id UNINDEXED, ukey, body, "
                      "context, tokenize = 'porter unicode61 remove_diacritics 2');")
    key = {u: "u" + __import__("hashlib").sha1(u.encode()).hexdigest()[:20] for u in ("al", "bo")}
    old.execute("INSERT INTO turn_text VALUES ('a1', ?, 'al: I hiked up Ben Nevis', '')", [key["al"]])
    old.execute("INSERT INTO turn_text VALUES ('b1', ?, 'bo: my cat sleeps', 'hiking?')", [key["bo"]])
    old.close()
    lex = SqliteLexicalIndex(Database(path))
    assert [h.turn_id for h in lex.search("al", "hiking", 5)] == ["a1"]
    assert [h.turn_id for h in lex.search("bo", "hiking", 5)] == ["b1"]   # context kept too
    assert lex.search("al", "cat", 5) == []
    reopened = SqliteLexicalIndex(Database(path))  # nothing left to migrate; the tables persist
    assert [h.turn_id for h in reopened.search("bo", "cat", 5)] == ["b1"]


def test_hybrid_scores_carry_every_component_and_neighbours_lift_the_question(turn_index, embedder):
    turn_index.add("alice", _turns("alice", [
        ("s0001", 0, "What did you do at the weekend?"),
        ("s0001", 1, "I went kayaking on the lake with my sister Ana."),
        ("s0001", 2, "The weather was great."),
        ("s0002", 0, "I bought new running shoes."),
    ]))
    q = "Who did I go kayaking with?"
    out = HybridRetriever(turn_index).search("alice", text=q, vector=embedder.embed([q])[0],
                                             topics=["kayaking"], now=NOW, k=4)
    assert out[0].id == "alice/s0001/1"
    assert set(out[0].scores) >= {"dense", "lexical", "topic", "time_window", "decay",
                                  "neighbour", "session", "fact", "base", "total"}
    by_id = {m.id: m for m in out}
    # the turn before the answer gets the answer's base score as neighbour evidence
    assert by_id["alice/s0001/0"].scores["neighbour"] == pytest.approx(out[0].scores["base"],
                                                                       abs=1e-3)
    assert by_id["alice/s0001/0"].scores["total"] > by_id["alice/s0002/0"].scores["total"]
    no_context = HybridRetriever(turn_index, HybridWeights(neighbour=0, session=0)).search(
        "alice", text=q, vector=embedder.embed([q])[0], topics=[], now=NOW, k=4)
    assert all(m.scores["total"] == pytest.approx(m.scores["base"], abs=1e-3) for m in no_context)


def test_time_window_and_facts_reorder_results(turn_index, embedder):
    may = datetime(2026, 5, 10, tzinfo=timezone.utc).timestamp()
    july = datetime(2026, 7, 10, tzinfo=timezone.utc).timestamp()
    turns = _turns("u", [("s0001", 0, "We had a picnic in the park.")], t0=july)
    turns += _turns("u", [("s0002", 0, "We had a picnic by the river.")], t0=may)
    turn_index.add("u", turns)
    q = "Where was our picnic last May?"
    retriever = HybridRetriever(turn_index)
    out = retriever.search("u", text=q, vector=embedder.embed([q])[0], topics=[], now=NOW, k=2,
                           window=resolve_time_window(q, NOW))
    assert out[0].id == "u/s0002/0" and out[0].scores["time_window"] == 1.0
    q2 = "Where was our picnic?"
    out = retriever.search("u", text=q2, vector=embedder.embed([q2])[0], topics=[], now=NOW, k=2,
                           facts=[FactPointer(("u/s0001/0",), 0.9)])
    assert out[0].id == "u/s0001/0" and out[0].scores["fact"] == 0.9


def test_an_estimate_counts_most_at_its_centre_and_a_span_throughout():
    """"Two weeks ago" names a day roughly: 14 days back counts fully, a day at the window's
    edge barely; "last May" is a span: every day of it counts the same."""
    import numpy as np

    ago = resolve_time_window("Where was I two weeks ago?", NOW)
    assert ago.centre == NOW - 14 * DAY
    days = np.array([14, 13, 11, 10, 8, 3, 25]) * -DAY + NOW
    got = ago.membership(days)
    assert got[0] == 1.0 and got[0] > got[1] > got[2] > got[3] > 0.0
    assert got[4] == got[5] == got[6] == 0.0  # outside the window
    may = resolve_time_window("What did I do last May?", NOW)
    assert may.centre is None
    inside = [datetime(2026, 5, d, tzinfo=timezone.utc).timestamp() for d in (1, 15, 31)]
    assert list(may.membership(np.array(inside + [NOW]))) == [1.0, 1.0, 1.0, 0.0]


def test_the_session_of_the_day_named_outranks_others_of_that_fortnight(turn_index, embedder):
    """A flat window held every session within ±5 days of "two weeks ago" level, so another
    session of that fortnight, closer in words, came first (LongMemEval gpt4_1e4a8aec)."""
    turns = _turns("u", [("s0001", 0, "Which concert did we go to? The one we went to downtown.")],
                   t0=NOW - 11 * DAY)
    turns += _turns("u", [("s0002", 0, "We saw a concert in the park.")], t0=NOW - 14 * DAY)
    turn_index.add("u", turns)
    q = "Which concert did we go to two weeks ago?"
    out = HybridRetriever(turn_index).search("u", text=q, vector=embedder.embed([q])[0],
                                             topics=[], now=NOW, k=2,
                                             window=resolve_time_window(q, NOW))
    assert [m.id for m in out] == ["u/s0002/0", "u/s0001/0"]
    assert out[0].scores["time_window"] > 0.99 and 0 < out[1].scores["time_window"] < 0.5
    assert "near the time the query names" in out[1].reason


def test_turn_search_is_isolated_and_excludes_a_session(turn_index, stores, embedder):
    from memory.unit import forget_scope

    turn_index.add("alice", _turns("alice", [("s0001", 0, "My password hint is sunflower.")]))
    turn_index.add("bob", _turns("bob", [("s0001", 0, "I like sunflowers.")]))
    q = "sunflower"
    for user in ("alice", "bob"):
        hits = HybridRetriever(turn_index).search(user, text=q, vector=embedder.embed([q])[0],
                                                  topics=[], now=NOW, k=10)
        assert hits and all(h.id.startswith(f"{user}/") for h in hits)
    assert HybridRetriever(turn_index).search("alice", text=q, vector=embedder.embed([q])[0],
                                              topics=[], now=NOW, k=10,
                                              exclude_session="s0001") == []
    forget_scope(stores, Scope(user="alice"), [lambda: turn_index.drop_cache("alice")])
    assert turn_index.search("alice", embedder.embed([q])[0], 5) == []
    assert len(turn_index.search("bob", embedder.embed([q])[0], 5)) == 1


def test_a_second_process_sees_turns_stored_by_the_first(stores, embedder):
    first, second = TurnIndex(stores, embedder), TurnIndex(stores, embedder)
    first.add("alice", _turns("alice", [("s0001", 0, "I adopted a tortoise.")]))
    vec = embedder.embed(["tortoise"])[0]
    assert [h.id for h in second.search("alice", vec, 5)] == ["alice/s0001/0"]
    first.add("alice", _turns("alice", [("s0002", 0, "The tortoise is called Speedy.")]))
    assert len(second.search("alice", vec, 5)) == 2  # the stale cache was refreshed


def test_a_long_turn_takes_and_lends_context_scaled_but_an_answer_lends_in_full():
    """Neighbour and session evidence stand in for what a short turn leaves unsaid; a turn of
    hundreds of words must win on its own words, and the reply after it need not be about the
    part that matched; the question before a long answer is found by it (memory.hybrid's c)."""
    import numpy as np

    from memory.hybrid import TurnPool

    # session s: a short turn that matches, a 400-word answer after it, a short reply after
    # that; session q: a short question and the long answer that matches; t/0 matches alone
    ids = ("s/0", "s/1", "s/2", "q/0", "q/1", "t/0")
    pool = TurnPool(ids=ids, sessions=tuple(i[0] for i in ids), words=(12, 400, 5, 9, 400, 30),
                    components={"dense": np.array([0.9, 0.3, 0.3, 0.3, 0.9, 0.45]),
                                **{k: np.zeros(6) for k in ("lexical", "topic", "time_window",
                                                            "decay", "fact")}})
    w = HybridWeights(neighbour=0.5, session=0.3, context_words=80)
    got = pool.scores(w)
    assert got["neighbour"].tolist() == pytest.approx([0.3, 0.9, 0.2 * 0.3, 0.9, 0.3, 0.0])
    assert got["total"][1] == pytest.approx(0.3 + 0.2 * (0.5 * 0.9 + 0.3 * got["session"][1]))
    assert got["total"][3] == pytest.approx(0.3 + 0.5 * 0.9 + 0.3 * got["session"][3])
    ranked = [ids[i] for i in pool.rank(w, 6)]
    assert ranked.index("t/0") < ranked.index("s/1")  # the long answer does not ride on s/0
    assert ranked.index("t/0") < ranked.index("s/2")  # nor the reply on the long answer
    assert ranked.index("q/0") < ranked.index("t/0")  # the question is found by its answer
    # with the scaling off, the long answer and the reply ride past t/0
    full = [ids[i] for i in pool.rank(w.model_copy(update={"context_words": 0}), 6)]
    assert full.index("s/1") < full.index("t/0") and full.index("s/2") < full.index("t/0")
    # and a pool survives its JSON form
    again = TurnPool.from_json(pool.to_json())
    assert again.rank(w, 6) == pool.rank(w, 6) and again.words == pool.words


@pytest.mark.parametrize("query, several", [
    ("How many hours have I spent playing games in total?", True),
    ("How many days passed between the day I bought a gift and the day I flew home?", True),
    ("Which gift did I buy first, the necklace for my sister or the photo album for my mom?",
     True),
    ("Which grocery store did I spend the most money at in the past month?", True),
    ("What is the order of the three trips I took, from earliest to latest?", True),
    ("What is my dog called?", False),
    ("What does Caroline love most about camping?", False),
    ("Where did I attend the religious activity last week?", False),
])
def test_a_question_about_several_occasions_is_told_apart(query, several):
    from memory.hybrid import gathers

    assert gathers(query) is several


def test_a_question_about_several_occasions_spreads_its_turns_over_sessions():
    """A count or a comparison is answered from several sessions: past ``spread_free`` turns of
    one session, each further one ranks ``spread`` lower, so a third session's turn gets in;
    a question about one thing keeps the plain order."""
    import dataclasses

    import numpy as np

    from memory.hybrid import TurnPool

    ids = ("a/0", "a/1", "a/2", "a/3", "b/0", "c/0")
    pool = TurnPool(ids=ids, sessions=tuple(i[0] for i in ids), words=(10,) * 6,
                    components={"dense": np.array([0.9, 0.88, 0.86, 0.84, 0.8, 0.7]),
                                **{k: np.zeros(6) for k in ("lexical", "topic", "time_window",
                                                            "decay", "fact")}})
    w = HybridWeights(neighbour=0.0, session=0.0, spread=0.1, spread_free=2)
    assert [ids[i] for i in pool.rank(w, 4)] == ["a/0", "a/1", "a/2", "a/3"]  # not gathering
    spread = dataclasses.replace(pool, gathers=True)
    # a/2 is its session's third: 0.86 - 0.1 < 0.8, so b/0 comes first (and a/2 before c/0);
    # a/3 is the fourth: 0.84 - 0.2 < 0.7, so c/0 comes before it
    assert [ids[i] for i in spread.rank(w, 6)] == ["a/0", "a/1", "b/0", "a/2", "c/0", "a/3"]
    assert [ids[i] for i in spread.rank(w.model_copy(update={"spread": 0.0}), 4)] == \
        ["a/0", "a/1", "a/2", "a/3"]
    assert TurnPool.from_json(spread.to_json()).gathers  # kept with the pool
