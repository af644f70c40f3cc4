"""Per-turn memory overhead: every node except generation, with 1,000 stored turns (fake model).

Prefills one user with 1,000 turns (500 exchanges over 50 sessions, so events exist too) through
the real pipeline, then times 100 more turns. Overhead = the run's wall time minus the generate
node's time. Baseline in the same run: one MiniLM encode of a single query (the least any semantic
memory must do per turn), so the ratio survives this machine's noise.

Every reply is a new text by default, as a real model's would be: the ``fake`` model's three
canned replies (``--canned``, the figures before 2026-12-03) are always in the embedder's cache,
so a turn never paid for encoding its reply, which the floor counts.

The baseline is measured twice: a block of 50 encodes before the probe (the figure of record
until 2026-12-07), and one encode before each probe turn, interleaved. Why interleaved: on this
shared 2-core host the block's median moved 5.3–7.1 ms between runs minutes apart while the
turns' own encodes moved with the machine, so the ratio swung ±1× on the same code; an encode
taken between the turns sees the same machine (clock, caches, neighbours) as the turns do.

``--backend server`` runs the same on PostgreSQL + a Chroma server (both started here, on
loopback; Debian's postgresql, ``make services``), one process, as a replica would.

    python benchmarks/turn_overhead.py [--turns 1000] [--probe 100] [--canned] [--backend server]
"""

from __future__ import annotations

import _common  # noqa: F401  (environment first)

import argparse
import contextlib
import random
import sys
import tempfile
import time
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from rich.progress import track

from _common import machine, pct, stamp
from agent import Kindred

TOPICS = ["my dog Biscuit", "my new job at the hospital", "hiking in the Alps", "my sister Ana",
          "cooking Thai food", "learning the piano", "our trip to Lisbon", "my garden tomatoes",
          "the book club", "running a marathon"]


@contextlib.contextmanager
def _storage(backend: str):
    """The storage settings of ``backend`` (servers started for the run)."""
    if backend == "embedded":
        yield None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from servers import chroma_server, postgres_server

    with postgres_server() as url, chroma_server() as (host, port):
        yield {"database_url": url, "chroma_host": host, "chroma_port": port}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--probe", type=int, default=100)
    parser.add_argument("--canned", action="store_true",
                        help="the fake model's three canned replies (always cached)")
    parser.add_argument("--backend", choices=("embedded", "server"), default="embedded",
                        help="server: PostgreSQL + a Chroma server, started here")
    args = parser.parse_args()
    with _storage(args.backend) as storage:
        _run(args, storage)


def _run(args, storage: dict | None) -> None:
    rng = random.Random(7)
    model = "fake" if args.canned else FakeListChatModel(responses=[
        f"I hear you, and I will keep note {n} of this in mind."
        for n in range(args.turns // 2 + args.probe + 1)])
    bot = Kindred(data_dir=tempfile.mkdtemp(prefix="kindred-bench-"), chat_model=model,
                  **({"storage": storage} if storage else {}))
    t0 = 1_700_000_000.0
    now = t0
    for i in track(range(args.turns // 2), description="prefill"):
        now += 3 * 86400 if i % 10 == 0 else 60  # a new session every 10 exchanges
        topic = rng.choice(TOPICS)
        bot.chat("bench", f"Let me tell you about {topic}, it matters to me ({i}).", at=now)
    stored = bot.memory.turns.count("bench")

    encode = []
    for i in range(50):
        start = time.perf_counter()
        bot.memory.embedder.embed([f"an uncached query number {i} about {rng.choice(TOPICS)}"])
        encode.append((time.perf_counter() - start) * 1000)

    overhead, nodes, beside, cpu = [], {}, [], []
    for i in track(range(args.probe), description="probe"):
        now += 86400 if i % 10 == 0 else 60
        start = time.perf_counter()
        bot.memory.embedder.embed([f"an uncached query beside turn {i} about {rng.choice(TOPICS)}"])
        beside.append((time.perf_counter() - start) * 1000)
        start, start_cpu = time.perf_counter(), time.process_time()
        reply = bot.chat("bench", f"What do you remember about {rng.choice(TOPICS)}? ({i})", at=now)
        total = (time.perf_counter() - start) * 1000
        cpu.append((time.process_time() - start_cpu) * 1000)
        overhead.append(total - reply.trace.timings_ms.get("generate", 0.0))
        for node, ms in reply.trace.timings_ms.items():
            nodes.setdefault(node, []).append(ms)
    bot.close()

    base, inter, cost = pct(encode, 50), pct(beside, 50), pct(overhead, 50)
    print(f"# turn overhead — {stamp()} — {machine()}")
    print(f"backend: {args.backend}; stored turns before probing: {stored}; "
          f"probe turns: {args.probe}")
    print(f"overhead per turn (all nodes but generate, plus graph/checkpoint): "
          f"p50 {cost:.1f} ms, p95 {pct(overhead, 95):.1f} ms")
    print(f"baseline, one MiniLM query encode between the turns: p50 {inter:.1f} ms "
          f"→ overhead p50 = {cost / inter:.1f}× one encode")
    print(f"  (a block of 50 encodes before the probe: p50 {base:.1f} ms → {cost / base:.1f}×)")
    # the process's CPU time over the turn, every thread (the encodes run beside the parses
    # since 2026-12-07): the work a turn costs a busy server, where wall time is what a user waits
    print(f"CPU per turn, all threads (generate included): p50 {pct(cpu, 50):.1f} ms "
          f"= {pct(cpu, 50) / inter:.1f}× one encode")
    for node, values in nodes.items():
        print(f"  {node:16s} p50 {pct(values, 50):7.1f} ms   p95 {pct(values, 95):7.1f} ms")


if __name__ == "__main__":
    main()
