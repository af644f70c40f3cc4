"""Embedder, topics, token budget and LD-Agent scoring, on the real models."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from conftest import DAY, T0

from memory.budget import TokenCounter, fit_to_budget
from memory.embeddings import _CachingEmbedder
from memory.retrieval import ScoringConfig, format_age, score_hits, time_decay
from memory.backends.base import VectorHit
from memory.topics import topic_overlap


def test_embedder_gives_unit_vectors_that_rank_meaning(embedder):
    vecs = embedder.embed(["What is my dog called?", "My dog is called Biscuit.",
                           "The stock market fell today."])
    assert vecs.shape == (3, embedder.dim) and embedder.dim == 384
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3


def test_onnx_and_torch_backends_agree(embedder):
    from memory.embeddings import OnnxEmbedder, SentenceTransformerEmbedder

    texts = ["I moved to Berlin last May.", "What's my sister's name?", "x" * 3000]
    assert isinstance(embedder, OnnxEmbedder)
    torch_vecs = SentenceTransformerEmbedder.shared().embed(texts)
    assert np.min(np.sum(embedder.embed(texts) * torch_vecs, axis=1)) > 0.9999


def test_the_int8_backend_is_close_to_fp32_and_ranks_alike(embedder, tmp_path):
    """``onnx-int8``: the same export with int8 weights, made once beside it and checked
    against torch; its vectors are near the fp32 ones and put the same memory first."""
    from memory.embeddings import OnnxEmbedder, default_embedder

    int8 = default_embedder("onnx-int8")
    assert isinstance(int8, OnnxEmbedder) and int8 is default_embedder("onnx-int8")
    memories = ["I adopted a greyhound called Pixel.", "My sister is getting married in June.",
                "I work night shifts as a nurse in Leeds.", "We baked sourdough on Sunday.",
                "I have been learning the cello for a year."]
    queries = ["What is my dog called?", "When is the wedding?", "What is my job?",
               "What did we bake?", "Which instrument do I play?"]
    a, b = embedder.embed(memories + queries), int8.embed(memories + queries)
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.985
    assert not np.allclose(a, b, atol=1e-3)  # really another model, not the fp32 one again
    fp32_top = np.argmax(a[5:] @ a[:5].T, axis=1)
    assert fp32_top.tolist() == [0, 1, 2, 3, 4]
    assert np.argmax(b[5:] @ b[:5].T, axis=1).tolist() == fp32_top.tolist()


def test_a_memory_refuses_queries_from_another_embedder(hub, embedder, topics):
    """The vector store keeps the name of the embedder that made its vectors: int8 and fp32
    vectors do not compare, so a memory opened with the other one is an error that names the
    setting and the way to move it; torch and onnx fp32 make the same vectors and share one."""
    from memory.embeddings import SentenceTransformerEmbedder, default_embedder
    from memory.errors import ConfigurationError
    from memory.hub import MemoryHub

    from memory.types import Turn

    hub.turns.add("ann", [Turn(id="ann/s0001/0", session_id="s0001", idx=0, role="user",
                               speaker="ann", text="I adopted a greyhound called Pixel.",
                               ts=T0)])
    assert embedder.name == "all-MiniLM-L6-v2"
    with pytest.raises(ConfigurationError, match=r"made by the embedder 'all-MiniLM-L6-v2'.*"
                                                 r"KINDRED_EMBEDDER.*"
                                                 r"kindred memory reencode --embedder onnx-int8"):
        MemoryHub.over(hub.stores, embedder=default_embedder("onnx-int8"), topics=topics)
    same = MemoryHub.over(hub.stores, embedder=SentenceTransformerEmbedder.shared(),
                          topics=topics)
    assert [h.id for h in same.turns.search("ann", embedder.embed(["my dog"])[0], 1)] == \
        ["ann/s0001/0"]


def test_an_agent_on_another_embedders_memory_is_refused_and_lets_the_dir_go(make_bot):
    """Kindred refuses a data dir whose vectors another embedder made (the same error as the
    store's) and leaves the dir as it was: the right embedder opens it next, with the memory."""
    from memory.embeddings import default_embedder
    from memory.errors import ConfigurationError

    bot = make_bot()
    bot.chat("ann", "I adopted a greyhound called Pixel.")
    bot.close()
    with pytest.raises(ConfigurationError, match="KINDRED_EMBEDDER"):
        make_bot(embedder=default_embedder("onnx-int8"))
    again = make_bot()
    assert "Pixel" in again.recall("ann", "my dog", min_score=None).turns[0].text


def test_auto_opens_a_memory_with_the_embedder_that_made_it(tmp_path, monkeypatch):
    """``embedder=auto`` (the default) opens a data dir with the embedder its vectors were made
    by, and a new one with onnx; an explicit setting that disagrees is refused."""
    from agent import Kindred
    from memory.embeddings import default_embedder
    from memory.errors import ConfigurationError

    int8_dir, new_dir = tmp_path / "int8", tmp_path / "new"
    with Kindred(int8_dir, "fake", embedder=default_embedder("onnx-int8")) as bot:
        bot.chat("ann", "I adopted a greyhound called Pixel.")
    with Kindred(int8_dir, "fake") as bot:
        assert bot.settings.embedder == "auto"
        assert bot.memory.embedder.name == "all-MiniLM-L6-v2 int8 fused"
        assert "Pixel" in bot.recall("ann", "my dog", min_score=None).turns[0].text
    with Kindred(new_dir, "fake") as bot:
        assert bot.memory.embedder.name == "all-MiniLM-L6-v2"
    monkeypatch.setenv("KINDRED_EMBEDDER", "onnx")
    with pytest.raises(ConfigurationError, match="Set KINDRED_EMBEDDER to onnx-int8 or to auto"):
        Kindred(int8_dir, "fake")


def test_embedder_cache_returns_identical_vectors(embedder):
    a = embedder.embed(["a sentence to cache"])[0]
    b = embedder.embed(["another", "a sentence to cache"])[1]
    assert np.array_equal(a, b)


class _GatedEmbedder(_CachingEmbedder):
    """A fake for the prefetch tests: the real embedder's vectors, each ``_encode`` call recorded
    with the thread that made it, a text in ``gates`` held until its event is set, a text in
    ``broken`` failing."""

    def __init__(self, inner) -> None:
        self.inner, self.dim = inner, inner.dim
        self.encoded: list[tuple[str, str]] = []
        self.gates: dict[str, threading.Event] = {}
        self.broken: set[str] = set()
        self._init_cache(64)

    def _encode(self, texts):
        for text in texts:
            self.encoded.append((threading.current_thread().name, text))
            if text in self.gates:
                assert self.gates[text].wait(10)
            if text in self.broken:
                raise RuntimeError(f"cannot encode {text!r}")
        return self.inner._encode(list(texts))


def test_the_gated_fake_encodes_like_the_real_embedder_and_records_its_calls(embedder):
    fake = _GatedEmbedder(embedder)
    assert np.allclose(fake.embed(["a gated text"]), embedder._encode(["a gated text"]))
    assert fake.encoded == [(threading.current_thread().name, "a gated text")]
    fake.broken.add("broken text")
    with pytest.raises(RuntimeError, match="cannot encode"):
        fake.embed(["broken text"])


def test_a_prefetched_text_is_encoded_once_in_the_background(embedder):
    fake = _GatedEmbedder(embedder)
    fake.prefetch(["first text ahead", "second text ahead"])
    vectors = fake.embed(["second text ahead", "first text ahead", "a third text"])
    assert np.allclose(vectors, embedder._encode(["second text ahead", "first text ahead",
                                                  "a third text"]), atol=1e-6)
    names = dict((text, thread) for thread, text in fake.encoded)
    assert len(fake.encoded) == 3 and set(names) == {"first text ahead", "second text ahead",
                                                     "a third text"}
    assert names["first text ahead"].startswith("kindred-prefetch")
    assert names["a third text"] == threading.current_thread().name
    fake.prefetch(["first text ahead"])  # cached: nothing more to encode
    fake.embed(["first text ahead"])
    assert len(fake.encoded) == 3


def test_an_embed_takes_back_a_queued_text_instead_of_waiting_behind_the_queue(embedder):
    fake = _GatedEmbedder(embedder)
    gate = fake.gates["a slow text ahead"] = threading.Event()
    fake.prefetch(["a slow text ahead", "a queued text"])
    while not fake.encoded:  # the worker is inside the slow text's encode
        time.sleep(0.001)
    me = threading.current_thread().name
    assert np.allclose(fake.embed(["a queued text"]), embedder._encode(["a queued text"]))
    assert fake.encoded[-1] == (me, "a queued text")  # encoded here, not behind the slow one
    gate.set()
    assert np.allclose(fake.embed(["a slow text ahead"]), embedder._encode(["a slow text ahead"]))
    assert [text for _, text in fake.encoded] == ["a slow text ahead", "a queued text"]


def test_a_failed_background_encode_fails_in_the_callers_thread(embedder):
    fake = _GatedEmbedder(embedder)
    fake.broken.add("a text that breaks")
    fake.prefetch(["a text that breaks"])
    with pytest.raises(RuntimeError, match="cannot encode"):
        fake.embed(["a text that breaks"])
    assert threading.current_thread().name in [thread for thread, _ in fake.encoded]
    fake.broken.clear()  # nothing half-cached: the next embed encodes it
    assert np.allclose(fake.embed(["a text that breaks"]), embedder._encode(["a text that breaks"]))


def test_prefetch_and_embed_from_many_threads_agree_and_never_hang(embedder):
    """Eight users prefetching and embedding overlapping texts: every caller gets the real
    vectors, none waits for ever, and the background encodes each text once at most (two
    callers missing the same text at once may both encode it, as before prefetch existed)."""
    fake = _GatedEmbedder(embedder)
    texts = [f"a shared text number {n}" for n in range(12)]
    expected = embedder._encode(texts)
    results: list[np.ndarray] = []

    def user(n: int) -> None:
        mine = texts[n % 4:] + texts[:n % 4]
        fake.prefetch(mine[:6])
        results.append(fake.embed(texts))

    threads = [threading.Thread(target=user, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert len(results) == 8 and all(np.allclose(r, expected, atol=1e-6) for r in results)
    ahead = [text for thread, text in fake.encoded if thread.startswith("kindred-prefetch")]
    assert len(ahead) == len(set(ahead))


def test_topics_are_deduplicated_noun_lemmas(topics):
    assert topics.topics("My dogs and my dog love the parks.") == ["dog", "park"]
    assert "biscuit" in topics.topics("My dog is called Biscuit.")
    assert topics.topics("How are you?") == []


def test_topic_overlap_follows_ld_agent_formula():
    assert topic_overlap(["dog", "park"], ["dog"]) == pytest.approx(0.5 * (1 / 2 + 1 / 1))
    assert topic_overlap(["dog"], ["cat"]) == 0.0
    assert topic_overlap([], ["cat"]) == 0.0


def test_time_decay_matches_published_examples():
    assert time_decay(7 * DAY, 1e7) == pytest.approx(0.94, abs=0.005)
    assert time_decay(365 * DAY, 1e7) == pytest.approx(0.04, abs=0.005)
    assert time_decay(-5.0, 1e7) == 1.0  # a clock skew never boosts above 1


def test_format_age_reads_like_ld_agent():
    assert format_age(2 * DAY + 3 * 3600 + 59) == "2 days 3 hours ago"
    assert format_age(125) == "2 minutes ago"


def _hit(id_, sim, topics, ts):
    return VectorHit(id=id_, text=id_, similarity=sim,
                     metadata={"topics": topics, "ts": ts, "session_id": "s0001"})


def test_paper_scoring_filters_by_gamma_and_ranks_by_decayed_sum():
    hits = [_hit("near-old", 0.80, ["dog"], T0 - 365 * DAY),
            _hit("mid-new", 0.60, ["dog", "park"], T0 - DAY),
            _hit("below-gamma", 0.30, ["dog"], T0)]
    out = score_hits(hits, ["dog"], T0, ScoringConfig(gamma=0.35), "event", 5)
    assert [m.id for m in out] == ["mid-new", "near-old"]
    top = out[0].scores
    expected = math.exp(-DAY / 1e7) * (0.60 + 0.5 * (1 + 0.5))
    assert top["total"] == pytest.approx(expected, abs=1e-3)
    assert set(top) == {"semantic", "topic", "decay", "total"}


def test_code_scoring_keeps_only_the_nearest_and_needs_a_shared_noun():
    hits = [_hit("nearest", 0.9, ["cat"], T0), _hit("second", 0.8, ["dog"], T0)]
    assert score_hits(hits, ["dog"], T0, ScoringConfig(mode="code"), "turn", 5) == []
    hits[0] = _hit("nearest", 0.9, ["dog", "cat"], T0)
    out = score_hits(hits, ["dog"], T0, ScoringConfig(mode="code"), "turn", 5)
    assert [m.id for m in out] == ["nearest"]
    assert out[0].scores["total"] == pytest.approx(0.75)


def test_token_budget_keeps_whole_items_in_priority_order():
    counter = TokenCounter()
    items = ["short one", "a much longer item " * 20, "tiny"]
    kept, used = fit_to_budget(items, 12, counter)
    assert kept == ["short one", "tiny"]
    assert used <= 12
    assert counter.truncate("one two three four five six", 3).endswith("…")
    assert counter.count("hello world") == 2


def test_a_long_message_is_parsed_from_its_start_and_stored_whole(make_bot):
    from memory.text import PARSE_CHARS, parse_prefix

    text = ("I adopted a beagle called Biscuit. " + "The report continues here. " * 900).strip()
    assert len(text) > 20_000
    head = parse_prefix(text)
    assert len(head) <= PARSE_CHARS and head.endswith(".") and text.startswith(head)
    assert parse_prefix("My cat is Pixel.") == "My cat is Pixel."
    bot = make_bot(personas={"extractor": "rules"})
    reply = bot.chat("lia", text, at=1_700_000_000.0)  # a 24k-character paste is taken
    stored = bot.memory.turns.get("lia", [reply.trace.turn_ids[0]])[0]
    assert stored.text == text and "beagle" in stored.topics
    assert [t.text for t in bot.persona("lia")] == ["I adopted a beagle called Biscuit."]


def test_spacy_reads_a_users_first_thousand_characters_and_the_agents_opening():
    from memory.text import AGENT_PARSE_CHARS, PARSE_CHARS, parse_span

    text = " ".join(f"Point {n} is about the garden shed." for n in range(100))
    user, agent = parse_span("user", text), parse_span("agent", text)
    assert text.startswith(user) and user.endswith(".") and len(user) <= PARSE_CHARS
    assert text.startswith(agent) and agent.endswith(".") and len(agent) <= AGENT_PARSE_CHARS
    assert len(agent) > AGENT_PARSE_CHARS - 40 and len(user) > PARSE_CHARS - 40
    short = "I moved to Porto last spring."
    assert parse_span("user", short) == parse_span("agent", short) == short


def test_a_long_message_is_cut_into_pieces_past_its_own_vectors_window():
    from memory.text import MAX_PIECES, PIECE_CHARS, parse_prefix, tail_pieces

    assert tail_pieces("My cat is Pixel.") == [] and tail_pieces("x" * PIECE_CHARS) == []
    text = " ".join(f"Step {n} of the plan needs item number {n * 7}." for n in range(200))
    pieces = tail_pieces(text)
    assert all(PIECE_CHARS // 2 <= len(p) <= PIECE_CHARS for p in pieces)
    assert not text.startswith(pieces[0]) and pieces[0] in text  # the head has its own vector
    assert pieces[0].startswith("Step ") and pieces[-1].endswith("item number 1393.")
    assert text.index(pieces[0]) <= len(parse_prefix(text)) + 1  # nothing skipped in between
    assert len(tail_pieces("word " * 100_000)) == MAX_PIECES  # a whole book: bounded


@pytest.mark.parametrize("word, laugh", [
    ("lol", True), ("LOL", True), ("hahaha", True), ("Hehe", True), ("rofl", True),
    ("xD", True), (":)", True), ("lola", False), ("ha", False), ("he", False), ("hello", False),
    ("hah", False), ("the", False)])
def test_one_laugh_pattern_serves_the_trait_rules_and_the_events(word, laugh):
    """The laughs the trait rules step over and an event's sentence drops are one list (they
    were two, and differed: "rofl" was a laugh to one of them only)."""
    from memory.events import _LAUGH_AFTER
    from memory.text import is_laugh

    assert is_laugh(word) is laugh
    assert bool(_LAUGH_AFTER.search(f"I am so tired today {word}")) is laugh
