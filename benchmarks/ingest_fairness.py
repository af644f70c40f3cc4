"""Does a maximal ingest starve other users' turns? Another user's chat latency while it runs.

    .venv/bin/python benchmarks/ingest_fairness.py [--utterances 500] [--chars 1000]

One Kindred (fake chat model, so only memory work is timed). Baseline: user B chats alone. Then
user A ingests the largest batch the limits allow (``max_ingest_utterances`` utterances of
``--chars`` characters) in a thread while B keeps chatting; B's p50/p95 are reported for the
ingest stored in pieces of ``ingest_chunk`` (the default) and in one piece (the earlier
behaviour), in the same run, as ratios to the baseline.
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import random
import tempfile
import threading
import time

from _common import machine, pct, stamp
from agent import Kindred

WORDS = ("garden river hospital cello marathon recipe lisbon beagle tomato library weekend "
         "sister holiday museum bicycle coffee orchestra winter mountain novel").split()


def _utterances(n: int, chars: int, t0: float, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        text = ""
        while len(text) < chars:
            text += f"I talked about my {rng.choice(WORDS)} and the {rng.choice(WORDS)}. "
        out.append({"speaker": "A", "text": text[:chars], "at": t0 + i,
                    "role": "user" if i % 2 == 0 else "agent"})
    return out


def _chat_while(bot: Kindred, busy: threading.Event | None, start: float, limit: int
                ) -> list[float]:
    times, at = [], start
    while (busy is None and len(times) < limit) or (busy is not None and busy.is_set()):
        at += 30
        t = time.perf_counter()
        bot.chat("userb", f"What should I cook tonight? ({len(times)})", at=at)
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--utterances", type=int, default=500)
    parser.add_argument("--chars", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(3)
    print(f"# ingest fairness — {stamp()} — {machine()}")
    results = {}
    for label, chunk in (("pieces (ingest_chunk 64)", 64), ("one piece (before)", 10_000)):
        bot = Kindred(data_dir=tempfile.mkdtemp(prefix="kindred-fair-"), chat_model="fake",
                      limits={"ingest_chunk": chunk,
                              "max_ingest_utterances": args.utterances,
                              "max_ingest_chars": args.utterances * args.chars})
        t0 = 1_700_000_000.0
        bot.chat("userb", "I like Thai food.", at=t0)
        _chat_while(bot, None, t0, 5)  # warm up
        alone = _chat_while(bot, None, t0 + 1000, 30)
        busy = threading.Event()
        busy.set()
        batch = _utterances(args.utterances, args.chars, t0, rng)
        took = {}

        def ingest(batch=batch, took=took, bot=bot, busy=busy) -> None:
            t = time.perf_counter()
            bot.ingest("usera", batch)
            took["s"] = time.perf_counter() - t
            busy.clear()

        worker = threading.Thread(target=ingest)
        worker.start()
        during = _chat_while(bot, busy, t0 + 100_000, 0)
        worker.join()
        bot.close()
        results[label] = (alone, during, took["s"])
        print(f"{label}: user B alone p50 {pct(alone, 50):.0f} ms p95 {pct(alone, 95):.0f} ms; "
              f"during the ingest ({took['s']:.0f} s, {len(during)} chats) p50 "
              f"{pct(during, 50):.0f} ms p95 {pct(during, 95):.0f} ms "
              f"→ p95 {pct(during, 95) / pct(alone, 95):.1f}× alone")


if __name__ == "__main__":
    main()
