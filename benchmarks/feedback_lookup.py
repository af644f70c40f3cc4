"""Feedback lookup cost at 10,000 stored corrections (MemPrompt memory, dense mode).

Stores 10,000 corrections for one user (generated requests with numbered variants), then times
200 lookups of new requests: the Chroma query for the best key plus the record read (the query
vector is given, as in a chat turn, where retrieval has already embedded the message). Baseline
in the same run: the same lookup with 100 stored corrections.

    python benchmarks/feedback_lookup.py
"""

from __future__ import annotations

import _common  # noqa: F401

import tempfile
import time
from pathlib import Path

from _common import machine, pct, stamp
from evals.feedback import UNRELATED, generate_requests
from memory.backends import open_stores
from memory.embeddings import default_embedder
from memory.feedback import FeedbackMemory


def _memory(n: int, embedder) -> FeedbackMemory:
    tmp = Path(tempfile.mkdtemp(prefix="kindred-fbl-"))
    fb = FeedbackMemory(open_stores(tmp), embedder)
    base = [r.text for r in generate_requests()]
    items = [(f"{base[i % len(base)]} (variant {i})", "I meant something else.", float(i))
             for i in range(n)]
    for i in range(0, n, 500):
        fb.add_many("bench", items[i:i + 500])
    return fb


def _time(fb: FeedbackMemory, queries, vectors) -> list[float]:
    out = []
    for q, v in zip(queries, vectors, strict=True):
        start = time.perf_counter()
        fb.lookup("bench", q, count_hit=False, query_vector=v)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    embedder = default_embedder()
    queries = (UNRELATED * 4)[:200]
    vectors = embedder.embed(queries)
    small, large = _memory(100, embedder), _memory(10_000, embedder)
    _time(large, queries[:5], vectors[:5])
    t_small, t_large = _time(small, queries, vectors), _time(large, queries, vectors)
    print(f"# feedback lookup — {stamp()} — {machine()}")
    print(f"10,000 corrections: p50 {pct(t_large, 50):.2f} ms, p95 {pct(t_large, 95):.2f} ms")
    print(f"baseline, 100 corrections: p50 {pct(t_small, 50):.2f} ms "
          f"(ratio {pct(t_large, 50) / pct(t_small, 50):.2f})")


if __name__ == "__main__":
    main()
