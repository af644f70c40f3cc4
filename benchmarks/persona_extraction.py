"""Persona extraction throughput: utterances per second through parse + clause rules + detector.

    .venv/bin/python benchmarks/persona_extraction.py --data ../shared/data/msc

Runs the extractor over 3,000 held-out MSC utterances (spread over sessions 1-4) three times and
prints the median, beside the spaCy parse alone (the floor of the cost) measured in the same run,
since this machine is noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import _common  # noqa: F401  (process defaults before torch)

from evals.msc import load_persona_utterances
from memory.nlp import shared_parser
from personas.extract.rules import RuleTraitExtractor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    every = load_persona_utterances(args.data)  # all four sessions: later ones are longer
    texts = [u.text for u in every[:: max(1, len(every) // args.n)]][: args.n]
    extractor = RuleTraitExtractor()
    extractor.extract_many(texts[:200])  # warm up
    full, parse = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        list(shared_parser().nlp.pipe(texts, batch_size=256))
        parse.append(len(texts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        extractor.extract_many(texts)
        full.append(len(texts) / (time.perf_counter() - t0))
    p, f = statistics.median(parse), statistics.median(full)
    print(f"{len(texts)} utterances, median of {args.runs} runs")
    print(f"  spaCy parse alone:              {p:7.0f} utterances/s")
    print(f"  extractor (parse+rules+detect): {f:7.0f} utterances/s  ({f / p:.2f} of the parse)")


if __name__ == "__main__":
    main()
