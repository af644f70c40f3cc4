"""How often the persona extractor stores a "fact" that is not one: false traits on MSC.

    .venv/bin/python benchmarks/false_traits.py --data ../shared/data/msc [--episodes N]

For every utterance of the held-out (odd) MSC episodes, the rule extractor either stores a trait
or not. A stored trait is **false** when its utterance carries no persona fact at all (no
``persona_text``: greetings, thanks, questions, small talk), or when it matches none of the
utterance's gold facts (best cosine below 0.5 between the trait and the sentences of
``persona_text``, all-MiniLM-L6-v2). Reported: traits stored, false share, and the two kinds, with
examples; plus how many of the utterances that do carry a fact still get a trait (what a stricter
extractor must not lose). The same script runs on older code (it imports the evaluation package
from either place), so a before/after pair is one command on two checkouts.
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import json
from pathlib import Path

import numpy as np

from _common import machine, stamp

try:
    from evals.msc import load_persona_utterances
except ImportError:  # the code before the evaluation package moved out of agent/
    from agent.eval.msc import load_persona_utterances  # type: ignore[no-redef]
from memory.embeddings import default_embedder
from memory.text import split_sentences
from personas.extract import RuleTraitExtractor

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "msc"
MATCH = 0.5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--episodes", type=int, default=None, help="first N held-out episodes")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    utterances = load_persona_utterances(args.data, (1, 2, 3, 4), "heldout")
    if args.episodes:
        keep = sorted({u.episode for u in utterances})[: args.episodes]
        utterances = [u for u in utterances if u.episode in set(keep)]
    traits = RuleTraitExtractor().extract_many([u.text for u in utterances])
    embedder = default_embedder()
    stored = [(u, t.text) for u, t in zip(utterances, traits, strict=True) if t]
    no_fact = [(u, t) for u, t in stored if not u.persona_text.strip()]
    with_fact = [(u, t) for u, t in stored if u.persona_text.strip()]
    mismatched = []
    if with_fact:
        tv = embedder.embed([t for _, t in with_fact])
        for (u, t), vec in zip(with_fact, tv, strict=True):
            gold = split_sentences(u.persona_text) or [u.persona_text]
            if float(np.max(embedder.embed(gold) @ vec)) < MATCH:
                mismatched.append((u, t))
    facts = [u for u in utterances if u.persona_text.strip()]
    report = {
        "utterances": len(utterances), "traits_stored": len(stored),
        "false_share": (len(no_fact) + len(mismatched)) / len(stored) if stored else 0.0,
        "false_no_fact": len(no_fact), "false_mismatch": len(mismatched),
        "fact_utterances": len(facts),
        "fact_utterances_with_trait": len(with_fact) / len(facts) if facts else 0.0,
        "examples_no_fact": [{"utterance": u.text, "trait": t} for u, t in no_fact[:15]],
        "examples_mismatch": [{"utterance": u.text, "gold": u.persona_text, "trait": t}
                              for u, t in mismatched[:10]],
    }
    print(f"# false traits on held-out MSC — {stamp()} — {machine()}")
    print(f"utterances {report['utterances']:,}; traits stored {report['traits_stored']:,}; "
          f"false {100 * report['false_share']:.1f}% ({report['false_no_fact']:,} from utterances "
          f"with no fact, {report['false_mismatch']:,} matching none of the gold facts)")
    print(f"utterances with a gold fact that got a trait: "
          f"{100 * report['fact_utterances_with_trait']:.1f}% of {report['fact_utterances']:,}")
    for ex in report["examples_no_fact"][:8]:
        print(f"  no fact: {ex['utterance'][:70]!r} → {ex['trait']!r}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
