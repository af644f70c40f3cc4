"""Retrieval latency with 10,000 stored turns, and bulk ingestion speed.

Fills one user with ~10,000 real turns (LoCoMo's conversations, replayed twice under distinct
sessions) through the turn index in batches, then times 200 LoCoMo questions through the same
retrieval a chat turn uses (events, traits, hybrid turn scoring). Baseline in the same run: a flat
numpy dense search over the same vectors. Also times the full replay path (``Kindred.ingest`` +
``end_session``) on one conversation, and the embedder alone on the same turns (the ceiling).

    python benchmarks/retrieval_latency.py [--data ../shared/data/locomo/locomo10.json]
"""

from __future__ import annotations

import _common  # noqa: F401

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.progress import track

from _common import LOCOMO, locomo_text, machine, pct, stamp
from agent import Kindred
from evals.locomo import load_locomo
from memory.types import Turn



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=LOCOMO)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    convs = load_locomo(args.data)
    source, questions = locomo_text(convs)
    questions = questions[: args.queries]

    bot = Kindred(data_dir=tempfile.mkdtemp(prefix="kindred-lat-"), chat_model="fake")
    user, t0, batch, turns = "bench", 1_600_000_000.0, 100, []
    for n in range(args.turns):
        speaker, text = source[n % len(source)]
        session = n // 20
        turns.append(Turn(id=f"{user}/s{session:05d}/{n % 20}", session_id=f"s{session:05d}",
                          idx=n % 20, role="user", speaker=speaker, text=text,
                          ts=t0 + session * 86400 + (n % 20) * 30, topics=()))
    start = time.perf_counter()
    for i in track(range(0, len(turns), batch), description="store 10k turns"):
        chunk = turns[i:i + batch]
        topics = bot.memory.topics.topics_many([t.text for t in chunk])
        bot.memory.turns.add(user, [t.model_copy(update={"topics": tuple(tp)})
                                    for t, tp in zip(chunk, topics, strict=True)])
    bulk_tps = len(turns) / (time.perf_counter() - start)

    texts = [f"{t.speaker}: {t.text}" for t in turns[:1000]]
    bot.memory.embedder.clear_cache()
    start = time.perf_counter()
    bot.memory.embedder.embed(texts)
    embed_tps = len(texts) / (time.perf_counter() - start)

    now = turns[-1].ts + 86400
    bot.recall(user, "warm up the cache", at=now, k=10, min_score=None)
    full, given_vec, flat = [], [], []
    matrix = bot.memory.turns.all_vectors(user)[2]
    for q in track(questions, description="queries"):
        bot.memory.embedder.clear_cache()
        start = time.perf_counter()
        bot.recall(user, q, at=now, k=10, min_score=None)
        full.append((time.perf_counter() - start) * 1000)
        qvec = bot.memory.embedder.embed([q])[0]  # cached now: the next recall does not encode
        start = time.perf_counter()
        bot.recall(user, q, at=now, k=10, min_score=None)
        given_vec.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        sims = matrix @ qvec
        np.argpartition(-sims, 10)[:10]
        flat.append((time.perf_counter() - start) * 1000)

    conv = convs[0]
    replay = Kindred(data_dir=tempfile.mkdtemp(prefix="kindred-replay-"), chat_model="fake")
    n_turns = 0
    start = time.perf_counter()
    for _, ts, sess in conv.sessions:
        items = [{"speaker": t["speaker"], "text": t["text"], "at": ts + i,
                  "role": "user" if t["speaker"] == conv.speaker_a else "agent"}
                 for i, t in enumerate(sess)]
        replay.ingest("replay", items)
        replay.end_session("replay", at=ts + len(items))
        n_turns += len(items)
    replay_tps = n_turns / (time.perf_counter() - start)

    print(f"# retrieval latency — {stamp()} — {machine()}")
    print(f"stored turns: {bot.memory.turns.count(user)}; queries: {len(questions)} LoCoMo questions")
    print(f"retrieval, query text in (encode + events + traits + hybrid turns): "
          f"p50 {pct(full, 50):.1f} ms, p95 {pct(full, 95):.1f} ms")
    print(f"retrieval, query already encoded (embedder cache):               "
          f"p50 {pct(given_vec, 50):.1f} ms, p95 {pct(given_vec, 95):.1f} ms")
    print(f"baseline, flat numpy dense top-10 over the same vectors:         "
          f"p50 {pct(flat, 50):.2f} ms  → ratio (text in) {pct(full, 50) / pct(flat, 50):.0f}×")
    print(f"bulk store through the turn index (batched embedding, FTS, Chroma): {bulk_tps:.0f} turns/s")
    print(f"full replay path (Kindred.ingest + end_session, one LoCoMo conversation, "
          f"{n_turns} turns): {replay_tps:.0f} turns/s")
    print(f"ceiling: the embedder alone on the same turns: {embed_tps:.0f} turns/s")


if __name__ == "__main__":
    main()
