"""Fit the persona detector's weights on the even-numbered MSC episodes (never the held-out odd ones).

    .venv/bin/python benchmarks/fit_persona_detector.py --data ../shared/data/msc

Writes ``personas/extract/detector.json`` and prints the detection accuracy on both halves, so a
refit shows at once whether it generalises. The evaluation (``kindred eval msc-persona``) reports
on the odd episodes only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common  # noqa: F401  (process defaults before torch)

from evals.msc import load_persona_utterances
from personas.extract.clauses import first_person_clauses
from personas.extract.detector import DEFAULT_WEIGHTS, TraitDetector
from memory.nlp import shared_parser


def _examples(utterances):
    docs = list(shared_parser().nlp.pipe([u.text for u in utterances], batch_size=256))
    return [(d, first_person_clauses(d)) for d in docs], [bool(u.persona_text) for u in utterances]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="the MSC folder")
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--vocabulary", type=int, default=600)
    ap.add_argument("--l2", type=float, default=30.0)
    # vocabulary 600 and l2 30: 2-fold cross-validation inside the even episodes (episode % 4 == 0
    # against == 2). The threshold stays at 0.5: in that cross-validation 0.45 and 0.5 were tied
    # (80.9% both), and a tie is not a reason to move off the default.
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args()
    fit_x, fit_y = _examples(load_persona_utterances(args.data, split="fit"))
    held_x, held_y = _examples(load_persona_utterances(args.data, split="heldout"))
    detector = TraitDetector.fit(
        fit_x, fit_y, vocabulary=args.vocabulary, l2=args.l2,
        provenance=f"fitted on the even-numbered episodes of the MSC test split (sessions 1-4, "
                   f"{len(fit_y)} utterances); vocabulary {args.vocabulary}, l2 {args.l2}, "
                   f"threshold {args.threshold}")
    detector.threshold = args.threshold
    detector.save(args.out)
    for name, xs, ys in (("fit (even)", fit_x, fit_y), ("held-out (odd)", held_x, held_y)):
        acc = sum(detector.carries_trait(d, i) == y for (d, i), y in zip(xs, ys, strict=True)) / len(ys)
        print(f"{name:>15}: detection accuracy {acc:.4f} on {len(ys)} utterances")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
