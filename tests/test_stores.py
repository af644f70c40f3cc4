"""Chroma (embedded and server), SQLite turn and event stores, summarisers."""

from __future__ import annotations

import pytest

from conftest import T0
from fakes import RecordingChatModel

from memory.events import EventMemory, ExtractiveSummariser, LLMSummariser
from memory.scope import as_scope
from memory.text import tail_pieces
from memory.turns import TurnIndex
from memory.types import Event, Turn


def _turn(user, session, idx, text, role="user", ts=T0, topics=()):
    return Turn(id=f"{user}/{session}/{idx}", session_id=session, idx=idx, role=role,
                speaker=user if role == "user" else "Kindred", text=text, ts=ts + idx,
                topics=tuple(topics))


def test_vector_index_scopes_every_read_to_its_user(index, embedder):
    vecs = embedder.embed(["I love my cat Tom.", "I love my cat Tom."])
    index.add("turns", "alice", ["a1"], vecs[:1], [{"ts": T0}])
    index.add("turns", "bob", ["b1"], vecs[1:], [{"ts": T0}])
    hits = index.query("turns", "alice", vecs[0], 10)
    assert [h.id for h in hits] == ["a1"]
    assert hits[0].similarity > 0.99 and hits[0].metadata["user_id"] == "alice"
    assert index.query("turns", "carol", vecs[0], 10) == []
    index.delete("turns", "alice", ["b1"])  # not alice's: must not delete bob's item
    assert index.count("turns", "bob") == 1
    index.delete_scope("alice")
    assert index.count("turns", "alice") == 0 and index.count("turns", "bob") == 1


def test_turn_index_round_trips_and_excludes_a_session(stores, embedder):
    turns = TurnIndex(stores, embedder)
    turns.add("alice", [_turn("alice", "s0001", 0, "My dog is called Biscuit.", topics=["dog"]),
                        _turn("alice", "s0002", 0, "I am a nurse.", topics=["nurse"])])
    assert [t.text for t in turns.list("alice")] == ["My dog is called Biscuit.", "I am a nurse."]
    assert turns.list("alice")[0].topics == ("dog",)
    q = embedder.embed(["What is my dog's name?"])[0]
    assert turns.search("alice", q, 5)[0].id == "alice/s0001/0"
    assert [h.id for h in turns.search("alice", q, 5, exclude_session="s0001")] == ["alice/s0002/0"]
    assert turns.count("bob") == 0


def test_event_memory_stores_ld_agent_fields(stores, embedder):
    events = EventMemory(stores, embedder)
    ev = Event(id="alice/s0001/event", session_id="s0001", summary="alice adopted a dog, Biscuit.",
               topics=("dog", "biscuit"), ts=T0, turn_ids=("alice/s0001/0",))
    events.add("alice", ev)
    events.add("alice", ev)  # idempotent: same id replaces
    assert events.list("alice") == [ev]
    hit = events.search("alice", embedder.embed(["my dog"])[0], 3)[0]
    assert hit.metadata["topics"] == ["dog", "biscuit"] and hit.metadata["ts"] == T0
    assert hit.text == ev.summary and hit.metadata["turn_ids"] == ["alice/s0001/0"]
    assert events.list("bob") == []


def test_extractive_summary_reports_the_users_facts_in_the_third_person(embedder):
    turns = [_turn("alice", "s1", 0, "Hi there! My dog is called Biscuit. He is a beagle."),
             _turn("alice", "s1", 1, "Nice to hear.", role="agent"),
             _turn("alice", "s1", 2, "We walk in Hyde Park every morning before work."),
             _turn("alice", "s1", 3, "How are you?")]
    summary = ExtractiveSummariser(embedder, max_words=20).summarise(turns)
    assert summary.startswith("Alice said ") and summary.endswith(".")
    assert "their dog is called Biscuit" in summary  # "My dog…" reported, not quoted
    assert "alice:" not in summary and "Hi there" not in summary  # no raw lines, no greeting
    assert "Nice to hear" not in summary and "How are you" not in summary  # agent, question
    assert len(summary.split()) <= 20 + 6  # the limit on what was said, plus "said … that"


def test_the_summariser_scores_sentences_by_their_turns_stored_vectors(embedder):
    """It encodes the turns' keys (what the turn index stored: cache hits in chat and ingest),
    never a sentence, and two sentences of one turn, which share its vector, are not taken for
    near-repeats of each other: both can be told."""
    from fakes import RecordingEmbedder

    recording = RecordingEmbedder(embedder)
    turns = [_turn("alice", "s1", 0, "My dog is called Biscuit. He is a beagle from Leeds."),
             _turn("alice", "s1", 1, "Lovely.", role="agent"),
             _turn("alice", "s1", 2, "I work as a nurse at the city hospital.")]
    summary = ExtractiveSummariser(recording, max_words=40).summarise(turns)
    assert recording.calls == [[TurnIndex.key_text(turns[0]), TurnIndex.key_text(turns[2])]]
    assert summary == ("Alice said their dog is called Biscuit, that he is a beagle from Leeds "
                       "and that they work as a nurse at the city hospital.")


def test_a_summary_names_the_listener_instead_of_you(embedder):
    turns = [_turn("alice", "s1", 0, "I loved your advice about my garden!"),
             _turn("alice", "s1", 1, "Happy to help.", role="agent")]
    assert ExtractiveSummariser(embedder).summarise(turns) == \
        "Alice said they loved Kindred's advice about their garden."


def test_a_summary_does_not_report_the_speaker_giving_their_own_name(embedder):
    turns = [_turn("sam", "s1", 0, "Hi! I'm Sam, nice to meet you."),
             _turn("sam", "s1", 1, "Welcome, Sam.", role="agent"),
             _turn("sam", "s1", 2, "My name is Sam. I work as a nurse in Lisbon."),
             _turn("sam", "s1", 3, "I'm Alex's sister.")]
    assert ExtractiveSummariser(embedder).summarise(turns) == \
        "Sam said they work as a nurse in Lisbon and that they're Alex's sister."
    assert ExtractiveSummariser(embedder).summarise(turns[:1]) == ""  # nothing else was said
    other = [_turn("u42", "s1", 0, "I'm Sam.")]  # a name the summary does not say already
    assert ExtractiveSummariser(embedder).summarise(other) == "u42 said they're Sam."


def test_a_summary_leaves_out_the_laugh_after_a_statement(embedder):
    turns = [_turn("sam", "s1", 0, "I'm so tired today lol"),
             _turn("sam", "s1", 1, "I said lol to my boss haha.")]
    assert ExtractiveSummariser(embedder).summarise(turns) == \
        "Sam said they're so tired today and that they said lol to their boss."


def test_a_summary_leaves_out_what_a_question_asked_for(embedder):
    """Found driving the terminal demo: "What should I cook tonight? Something quick." made the
    event read "Sam said they have two dogs… and that something quick." A fragment beside a
    question is the request; a statement with a verb beside one is still told."""
    turns = [_turn("sam", "s1", 0, "I have two dogs and a cat."),
             _turn("sam", "s1", 1, "Lovely.", role="agent"),
             _turn("sam", "s1", 2, "What should I cook tonight? Something quick."),
             _turn("sam", "s1", 3, "Any tips? I run a marathon next month.")]
    assert ExtractiveSummariser(embedder).summarise(turns) == (
        "Sam said they have two dogs and a cat and that they run a marathon next month.")


def test_llm_summariser_sends_the_dialogue_and_strips_the_answer():
    model = RecordingChatModel(replies=[" Alice adopted Biscuit. "])
    summariser = LLMSummariser(model, "Summarise:\n{dialogue}")
    turns = [_turn("alice", "s1", 0, "I adopted a beagle called Biscuit.")]
    assert summariser.summarise(turns) == "Alice adopted Biscuit."
    assert model.calls[0][0].content == "Summarise:\nalice: I adopted a beagle called Biscuit."


def test_closing_a_memory_releases_its_files(tmp_path, embedder):
    """Evaluations open one memory per conversation: a closed one must not keep Chroma's files.

    The probe counts the process's descriptors that point into the memory's own folder (counting
    all of them saw another test's thread open one more file in the full suite)."""
    import os

    from memory.hub import MemoryHub

    def files_in(folder) -> list[str]:
        held = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # closed between the listing and the read
                continue
            if target.startswith(str(folder)):
                held.append(target)
        return held

    for n in range(3):
        hub = MemoryHub.open(tmp_path / f"m{n}", embedder=embedder)
        hub.stores.vectors.add("turns", "u", ["t1"], embedder.embed(["hello"]),
                               [{"role": "user"}])
        assert hub.stores.vectors.get("turns", "u")
        assert files_in(tmp_path / f"m{n}")  # the files are really in use, and the probe sees them
        hub.close()
        hub.close()  # twice is harmless
        assert files_in(tmp_path) == []


def test_the_in_process_copy_answers_as_the_index_below(index, embedder):
    """``CachedVectorIndex`` queries events and traits in process: the same hits (ids, metadata,
    similarities) as the index itself, through upserts, metadata updates, deletes and
    a ``where`` filter, for one user only."""
    from memory.backends.cached import CachedVectorIndex

    cached = CachedVectorIndex(index)
    texts = ["I live in Porto", "my cat is Pixel", "I work nights", "I play the cello",
             "my sister is Ana", "I run marathons"]
    vecs = embedder.embed(texts)
    metas = [{"owner": "user" if n % 2 else "agent", "subject": f"s{n}", "turn_ids": []}
             for n in range(len(texts))]
    cached.add("traits", "ann", [f"t{n}" for n in range(4)], vecs[:4], metas[:4])
    cached.add("traits", "bob", ["b0"], vecs[:1], [{"owner": "user"}])
    queries = embedder.embed(["where do I live", "pets", "music"])

    def same() -> None:
        for q in queries:
            for where in (None, {"owner": "user"}):
                a = cached.query("traits", "ann", q, 3, where)
                b = index.query("traits", "ann", q, 3, where)
                assert [h.id for h in a] == [h.id for h in b]
                assert [h.similarity for h in a] == pytest.approx([h.similarity for h in b],
                                                                  abs=1e-5)
                # the fields set here (a Chroma server whose collections were dropped and made
                # again between tests can return fields of an earlier test's record as well)
                assert [{k: h.metadata.get(k) for k in ("owner", "subject")} for h in b] == [
                    {k: h.metadata.get(k) for k in ("owner", "subject")} for h in a]

    same()  # loads ann's copy
    cached.add("traits", "ann", ["t4", "t5", "t1"],
               embedder.embed(texts[4:] + ["my cat is Miso"]), metas[4:] + [metas[1]])
    cached.update_metadata("traits", "ann", "t0", {"owner": "user", "subject": "home"})
    cached.delete("traits", "ann", ["t2"])
    same()
    assert {h.id for h in cached.query("traits", "bob", queries[0], 5)} == {"b0"}
    cached.delete_scope("ann")
    assert cached.query("traits", "ann", queries[0], 5) == []


class _GatedIndex:
    """The real index, whose reads of one user's vectors wait for ``gate`` (a slow network
    read on a replica, held as long as the test wants)."""

    def __init__(self, index, user: str) -> None:
        import threading

        from memory.backends.base import VectorIndexLayer

        class Gated(VectorIndexLayer):
            def batch(inner_self, ops):
                if any(getattr(op, "scope", None) and op.scope.user == user
                       and type(op).__name__ == "GetVectors" for op in ops):
                    self.waiting.set()
                    assert self.gate.wait(30)
                return inner_self.inner.batch(ops)

        self.gate, self.waiting = threading.Event(), threading.Event()
        self.layer = Gated(index)


def test_a_users_cold_load_does_not_hold_up_another_users_query(index, embedder):
    """The copies are loaded outside the cache's own lock: on a replica a stale user is loaded
    again on every turn, over the network, and under one lock for the whole cache every other
    user's query waited for it (a third of a replica's samples under load)."""
    import threading

    from memory.backends.cached import CachedVectorIndex

    gated = _GatedIndex(index, "slow")
    cached = CachedVectorIndex(gated.layer)
    vecs = embedder.embed(["I live in Porto", "my cat is Pixel"])
    cached.add("traits", "slow", ["s0"], vecs[:1], [{"owner": "user"}])
    cached.add("traits", "fast", ["f0"], vecs[1:], [{"owner": "user"}])
    gated.gate.set()
    cached.query("traits", "fast", vecs[0], 1)  # fast's copy, loaded before the gate shuts
    gated.gate.clear()
    slow: list = []
    loader = threading.Thread(target=lambda: slow.extend(cached.query("traits", "slow",
                                                                      vecs[0], 1)))
    loader.start()
    assert gated.waiting.wait(30)  # slow's load is in flight, its read held at the gate
    done = threading.Event()
    answer: list = []
    other = threading.Thread(target=lambda: (answer.extend(
        cached.query("traits", "fast", vecs[1], 1)), done.set()))
    other.start()
    assert done.wait(10), "another user's query waited for a cold load"
    assert [h.id for h in answer] == ["f0"] and not slow
    gated.gate.set()
    loader.join(30)
    other.join(30)
    assert [h.id for h in slow] == ["s0"]


def test_the_hot_turn_copy_loads_a_user_once_and_never_under_another_users_load():
    """``HotVectors`` loads a cold user holding that user's stripe only: a second caller for
    the same user waits and finds the copy (one load), a caller for another user does not wait."""
    import threading

    import numpy as np

    from memory.hot import HotVectors

    hot = HotVectors(4)
    gate, started = threading.Event(), threading.Event()
    loads: list[str] = []

    def load(user: str, blocking: bool):
        def run() -> list[dict]:
            loads.append(user)
            if blocking:
                started.set()
                assert gate.wait(30)
            return [{"id": f"{user}-1", "text": "hi", "metadata": {"ts": 1.0},
                     "vector": np.ones(4, dtype=np.float32)}]
        return run

    first = threading.Thread(target=lambda: hot.get("ann", load("ann", True)))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=lambda: hot.get("ann", load("ann", False)))
    second.start()
    got: list = []
    other = threading.Thread(target=lambda: got.append(hot.get("bob", load("bob", False))))
    other.start()
    other.join(10)
    assert not other.is_alive() and got[0].ids == ["bob-1"]
    gate.set()
    first.join(30)
    second.join(30)
    assert loads.count("ann") == 1 and hot.get("ann", load("ann", False)).ids == ["ann-1"]


def test_the_hot_copy_of_a_user_with_nothing_stored_needs_no_load():
    from memory.hot import HotVectors

    def load() -> list[dict]:
        raise AssertionError("loaded although the store holds nothing of the user")

    hot = HotVectors(4)
    assert hot.get("ann", load, expected=0).ids == []


class _CountingIndex:
    """The real index, counting the vectors each read of one collection returns (what a replica
    fetches from a Chroma server)."""

    def __init__(self, index) -> None:
        from memory.backends.base import GetVectors, VectorIndexLayer

        self.fetched: dict[str, int] = {}

        class Counting(VectorIndexLayer):
            def batch(inner_self, ops):
                out = inner_self.inner.batch(ops)
                for op, result in zip(ops, out, strict=True):
                    if isinstance(op, GetVectors) and op.with_vectors:
                        self.fetched[op.collection] = (self.fetched.get(op.collection, 0)
                                                       + len(result))
                return out

        self.layer = Counting(index)


def test_a_replicas_copies_catch_up_with_what_another_stored_by_fetching_only_that(stores, embedder):
    """Replica A keeps copies of a user's turns and events; replica B (another process: the same
    stores, no copies) stores more. Told the scope changed (as its scope lock tells it), A finds
    what B stored, having fetched only the new vectors; an edit or a delete under B is seen too
    (those load the copy again)."""
    from memory.backends import Stores
    from memory.backends.cached import CachedVectorIndex
    from memory.events import EventMemory

    counting = _CountingIndex(stores.vectors)
    mine = Stores(records=stores.records, lexical=stores.lexical,
                  vectors=CachedVectorIndex(counting.layer))
    a_turns, b_turns = TurnIndex(mine, embedder), TurnIndex(stores, embedder)
    a_events, b_events = EventMemory(mine, embedder), EventMemory(stores, embedder)
    said = ["I keep bees on the roof.", "My brother lives in Oslo.", "I play the cello.",
            "We adopted a greyhound.", "I am learning Japanese.", "My car is a red Fiat."]
    b_turns.add("ann", [_turn("ann", "s0001", n, text) for n, text in enumerate(said)])
    b_events.add("ann", Event(id="ann/e1", session_id="s0001", summary="Ann keeps bees.", ts=T0))

    def top(query: str) -> str:
        return a_turns.search("ann", embedder.embed([query])[0], 1)[0].text

    def top_event(query: str) -> str:
        hits = a_events.search("ann", embedder.embed([query])[0], 1)
        return a_events.get("ann", hits[0].id).summary

    assert top("Where does my brother live?") == "My brother lives in Oslo."
    assert top_event("bees") == "Ann keeps bees."
    assert counting.fetched == {"turns": 6, "events": 1}

    paste = " ".join(f"Line {n} of my notes is about the garden beds." for n in range(40))
    paste += " The sourdough starter must be fed every twelve hours with rye flour."
    b_turns.add("ann", [_turn("ann", "s0002", 0, "I moved to Lisbon in May."),
                        _turn("ann", "s0002", 1, paste)])
    b_events.add("ann", Event(id="ann/e2", session_id="s0002", summary="Ann moved to Lisbon.",
                              ts=T0 + 60))
    counting.fetched.clear()
    a_turns.stale_cache("ann")
    mine.stale_caches(as_scope("ann"))
    assert top("Which city did I move to?") == "I moved to Lisbon in May."
    assert top("How often is the sourdough starter fed?") == paste  # by its piece
    assert top_event("Lisbon move") == "Ann moved to Lisbon."
    assert counting.fetched == {"turns": 2, "pieces": len(tail_pieces(paste)), "events": 1}

    b_turns.replace("ann", _turn("ann", "s0001", 2, "I play the harp."))
    b_turns.delete("ann", ["ann/s0001/3"])
    b_events.add("ann", Event(id="ann/e1", session_id="s0001", summary="Ann sells honey.", ts=T0))
    a_turns.stale_cache("ann")
    mine.stale_caches(as_scope("ann"))
    assert top("Which instrument do I play?") == "I play the harp."
    assert all(h.id != "ann/s0001/3" for h in a_turns.search("ann", embedder.embed(["dog"])[0], 10))
    assert top_event("honey for sale") == "Ann sells honey."


def test_a_long_turn_scores_by_its_best_piece_less_the_margin():
    import numpy as np

    from memory.hot import UserVectors

    def unit(*xs):
        v = np.array(xs, dtype=np.float32)
        return v / np.linalg.norm(v)

    uv = UserVectors(3)
    uv.put(["short", "long"], np.stack([unit(1, 0, 0), unit(0, 1, 0)]),
           [{"session_id": "s1"}, {"session_id": "s1"}], ["a", "b"])
    uv.put_pieces(["long", "long"], np.stack([unit(0, 0, 1), unit(0, 1, 1)]))
    uv.put_pieces(["long"], np.stack([unit(1, 0, 0)]))  # a retried turn: its pieces are kept
    query = unit(0, 0, 1)
    assert np.allclose(uv.similarities(query), [0.0, 1.0])
    assert np.allclose(uv.similarities(query, piece_margin=0.25), [0.0, 0.75])
    assert np.allclose(uv.similarities(query, piece_margin=1.0), [0.0, 0.0])  # its own only
    assert np.allclose(uv.similarities(query, [1, 0], piece_margin=0.25), [0.75, 0.0])
    assert [i for i, _ in uv.top(query, 2)] == [1, 0]
    assert np.allclose(uv.similarities(unit(1, 0, 0)), [1.0, 0.0])  # the ignored retry


def test_storage_max_pieces_bounds_a_long_turns_vectors(stores, embedder):
    """An operator trades finding the middle of long messages for ingest speed: 0 pieces stores
    a long turn with its own vector only; 2 stores its first two later parts."""
    from memory.backends import StorageConfig

    paste = " ".join(f"Line {n} of my notes is about the garden beds and the roses." for n in range(80))
    assert len(tail_pieces(paste)) > 2
    assert StorageConfig().max_pieces == 16
    for most, user in ((0, "ann"), (2, "bob")):
        TurnIndex(stores, embedder, max_pieces=most).add(user, [_turn(user, "s0001", 0, paste)])
        assert len(stores.vectors.get("pieces", user)) == most
        assert stores.vectors.count("turns", user) == 1


def test_vector_rows_in_blocks_read_back_as_one_matrix():
    """The in-process copies keep vectors in fixed-size blocks (memory.blocks): across block
    edges, rows read back, multiply and overwrite exactly as one matrix would, and growing adds
    blocks without moving the ones already filled."""
    import numpy as np

    from memory.blocks import VectorBlocks

    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((23, 5)).astype(np.float32)
    rows = VectorBlocks(5, block=4)
    rows.append(matrix[:3])
    first = rows._blocks[0]
    for vec in matrix[3:9]:
        rows.append(vec)
    rows.append(matrix[9:])
    assert len(rows) == 23 and rows._blocks[0] is first and len(rows._blocks) == 6
    assert np.array_equal(rows.array(), matrix)
    query = rng.standard_normal(5).astype(np.float32)
    assert np.allclose(rows.dot(query), matrix @ query)
    assert np.array_equal(rows.take([22, 0, 4, 4]), matrix[[22, 0, 4, 4]])
    rows[5] = np.ones(5, dtype=np.float32)
    matrix[5] = 1.0
    assert np.array_equal(rows.array(), matrix) and np.allclose(rows.dot(query), matrix @ query)
    with pytest.raises(IndexError):
        rows.take([23])
    with pytest.raises(IndexError):
        rows[23] = matrix[0]
    empty = VectorBlocks(5)
    assert empty.dot(query).shape == (0,) and empty.array().shape == (0, 5)
    ramp = VectorBlocks(5, block=32)  # a few rows take a small block; blocks double up to 32
    ramp.append(matrix[:3])
    assert [len(b) for b in ramp._blocks] == [8]
    for _ in range(5):
        ramp.append(matrix)
    assert [len(b) for b in ramp._blocks] == [8, 16, 32, 32, 32] and len(ramp) == 118
    whole = np.concatenate([matrix[:3]] + [matrix] * 5)
    assert np.array_equal(ramp.array(), whole) and np.allclose(ramp.dot(query), whole @ query)
    assert np.array_equal(ramp.take([117, 7, 8, 23, 24, 56, 57]), whole[[117, 7, 8, 23, 24, 56, 57]])


def test_quantized_rows_hold_a_quarter_of_the_bytes_and_read_back_within_half_a_step():
    """int8 blocks (the turn copies' default): across block edges, appended and overwritten rows
    read back, multiply and are taken within half a quantization step of each row, and a row of
    zeros stays zero."""
    import numpy as np

    from memory.blocks import VectorBlocks

    rng = np.random.default_rng(11)
    matrix = rng.standard_normal((41, 384)).astype(np.float32)
    matrix[7] = 0.0
    exact, rows = VectorBlocks(384, block=16), VectorBlocks(384, block=16, quantized=True)
    for part in (matrix[:5], matrix[5:30], matrix[30:]):
        exact.append(part)
        rows.append(part)
    rows[3] = exact[3] = matrix[3] = -matrix[40]
    step = np.abs(matrix).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(rows.array() - matrix) <= step / 2 + 1e-6)
    assert np.array_equal(rows.take([7]), np.zeros((1, 384), dtype=np.float32))
    assert np.array_equal(rows.take([40, 3, 29]), rows.array()[[40, 3, 29]])
    query = rng.standard_normal(384).astype(np.float32)
    assert np.allclose(rows.dot(query), rows.array() @ query, atol=1e-4)
    assert np.all(np.abs(rows.dot(query) - matrix @ query)
                  <= (step[:, 0] / 2) * np.abs(query).sum() + 1e-4)
    held = sum(b.nbytes for b in rows._blocks) + sum(s.nbytes for s in rows._scales)
    assert held * 3.9 < sum(b.nbytes for b in exact._blocks)


def test_quantized_turn_copies_rank_real_sentences_as_float32_does(embedder):
    """The same nearest turns from int8 copies as from float32 ones, for real sentences and
    questions (distinct enough to have no near ties), with cosines 2e-3 apart at most (the
    bound measured over LoCoMo's sentences, memory.blocks)."""

    from memory.hot import UserVectors

    said = [f"{who} {what}" for who in ("I", "My sister", "Our neighbour", "My boss")
            for what in ("adopted a grey cat called Miso.", "moved to Lisbon in March.",
                         "runs a bakery on weekends.", "is learning the cello.",
                         "broke a leg skiing in the Alps.", "reads a book a week.",
                         "grows tomatoes on the balcony.", "drives an old red van.")]
    asked = ["What is the cat called?", "Who moved to Portugal?", "Who bakes bread?",
             "Which instrument is being learned?", "Who got hurt on holiday?",
             "What grows on the balcony?", "What car does someone drive?", "Who reads a lot?"]
    vecs = embedder.embed(said)
    ids = [f"t{i}" for i in range(len(said))]
    copies = {q: UserVectors(embedder.dim, quantized=q) for q in (False, True)}
    for uv in copies.values():
        uv.put(ids, vecs, [{"session_id": "s1"}] * len(said), said)
    for query in embedder.embed(asked):
        exact, near = (copies[q].top(query, 5) for q in (False, True))
        assert [i for i, _ in near] == [i for i, _ in exact]
        assert max(abs(a - b) for (_, a), (_, b) in zip(near, exact, strict=True)) < 2e-3


def test_the_hot_vectors_setting_chooses_exact_or_int8_copies(tmp_path, embedder):
    """``storage.hot_vectors`` reaches the turn copies: int8 by default, float32 when asked
    (then a stored turn's vector reads back exactly)."""
    import numpy as np

    from memory.backends import StorageConfig
    from memory.hub import MemoryHub

    for choice, quantized in (("int8", True), ("float32", False)):
        config = StorageConfig() if choice == "int8" else StorageConfig(hot_vectors=choice)
        hub = MemoryHub.open(tmp_path / choice, embedder=embedder, storage=config)
        try:
            turn = _turn("ann", "s0001", 0, "I adopted a grey cat called Miso.")
            hub.turns.add("ann", [turn])
            vec, _, _ = hub.turns.vectors("ann", [turn.id])[turn.id]
            stored = embedder.embed([TurnIndex.key_text(turn)])[0]
            assert hub.turns.hot.quantized is quantized
            assert np.array_equal(vec, stored) is not quantized
            assert np.allclose(vec, stored, atol=np.abs(stored).max() / 254 + 1e-6)
        finally:
            hub.close()
    with pytest.raises(ValueError, match="hot_vectors"):
        StorageConfig(hot_vectors="float16")


def test_the_hot_copy_past_a_block_edge_finds_and_replaces_turns_as_before():
    """A user whose turns fill several blocks of the copy: exact top-k, a stored turn's vector
    replaced in place, one session left out, and the whole matrix for the baselines."""
    import numpy as np

    from memory.hot import UserVectors
    from memory.blocks import BLOCK_ROWS

    rng = np.random.default_rng(3)
    n = BLOCK_ROWS * 2 + 17
    vecs = rng.standard_normal((n, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    uv = UserVectors(8)
    ids = [f"t{i}" for i in range(n)]
    for at in range(0, n, 50):  # turns arrive in batches that straddle the blocks' edges
        uv.put(ids[at: at + 50], vecs[at: at + 50],
               [{"session_id": f"s{i // 30}"} for i in range(at, min(at + 50, n))],
               ids[at: at + 50])
    query = vecs[200] + 0.1 * vecs[7]
    expected = np.argsort(-(vecs @ query), kind="stable")[:5]
    assert [i for i, _ in uv.top(query, 5)] == list(expected)
    uv.put(["t200"], -vecs[200][None, :], [{"session_id": "s6"}], ["t200"])  # a turn edited
    assert 200 not in [i for i, _ in uv.top(query, 5)]
    assert all(uv.sessions[i] != "s0" for i, _ in uv.top(vecs[3], 40, exclude_session="s0"))
    assert np.array_equal(uv.vectors([200, 7]), np.stack([-vecs[200], vecs[7]]))
    assert uv.vectors().shape == (n, 8) and len(uv.ids) == n
