"""Choose the hybrid turn weights on one part of the LongMemEval dev split; report another.

Each question's haystack is replayed once through ``Kindred.ingest`` (as ``kindred eval
longmemeval`` does) into a data dir kept under ``--cache``; then every weight set of the grid
ranks the same stored turns through the public recall path (``graphs.recall.recall``, what a
chat turn retrieves, no score floor), and the grid is printed as turn recall@10 and session
recall_all@5, overall and by question type. ``--part even`` (questions at even positions of the
file) is for choosing, ``--part odd`` for reporting the choice on questions it was not chosen on.

    python benchmarks/lme_weights.py --data ../shared/data/longmemeval/longmemeval_s_dev.json.gz \\
        --part even --per-type 4
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
from pathlib import Path

import _common  # noqa: F401  (process defaults before torch)
from rich.console import Console
from rich.progress import track
from rich.table import Table

from agent import Kindred
from agent.validation import check_scope
from evals.longmemeval import TYPES, _replay, _scores, load_longmemeval
from graphs.recall import recall

_DEPTH = 50
_GRID = {"lexical": (0.8, 1.2, 1.6), "neighbour": (0.25, 0.5), "session": (0.0, 0.15, 0.3),
         "decay": (0.0, 0.15)}


def _chosen(path: Path, part: str, per_type: int):
    questions = [q for n, q in enumerate(load_longmemeval(path))
                 if not q.question_id.endswith("_abs")
                 and (part == "all" or n % 2 == (0 if part == "even" else 1))]
    return [q for t in TYPES for q in [q for q in questions if q.question_type == t][:per_type]]


def _replayed(q, cache: Path) -> tuple[Kindred, dict]:
    where = cache / q.question_id
    meta = where / "replay.json"
    if meta.is_file():
        return Kindred(data_dir=where, chat_model="fake"), json.loads(meta.read_text())
    bot = Kindred(data_dir=where, chat_model="fake")
    session_of, gold, _, seconds = _replay(bot, "user", q)
    info = {"session_of": session_of, "gold": sorted(gold), "ingest_s": seconds}
    meta.write_text(json.dumps(info))
    return bot, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--part", choices=("even", "odd", "all"), default="even")
    ap.add_argument("--per-type", type=int, default=4)
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/lme-replays"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None, help="a PNG of recall along the grid")
    ap.add_argument("--grid", type=json.loads, default=None,
                    help='the weights to vary, as JSON (e.g. \'{"piece_margin": [0, 0.05, 1]}\'); '
                         "the others stay at their defaults")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    chosen_grid = args.grid or _GRID
    keys, grid = list(chosen_grid), list(itertools.product(*chosen_grid.values()))
    rows: dict[tuple, list[dict]] = {g: [] for g in grid}
    for q in track(_chosen(args.data, args.part, args.per_type), description="replay and rank"):
        bot, info = _replayed(q, args.cache)
        try:
            services = bot._services
            scope = check_scope("user")
            for g in grid:
                base = services.config
                hybrid = base.retrieval.hybrid.model_copy(update=dict(zip(keys, g, strict=True)))
                cfg = base.model_copy(update={"retrieval": base.retrieval.model_copy(
                    update={"hybrid": hybrid})})
                found = recall(dataclasses.replace(services, config=cfg), scope,
                               q.question, q.date, k=_DEPTH, min_score=None, count_hit=False,
                               feedback=False)
                rows[g].append({"type": q.question_type, **_scores(
                    [m.id for m in found.turns], frozenset(info["gold"]), info["session_of"],
                    q.answer_sessions, (5, 10))})
        finally:
            bot.close()
    summary = []
    for g, scored in rows.items():
        by_type = {t: statistics.fmean(r["turn_recall@10"] for r in scored if r["type"] == t)
                   for t in TYPES if any(r["type"] == t for r in scored)}
        summary.append({"weights": dict(zip(keys, g, strict=True)),
                        "turn_recall@10": statistics.fmean(r["turn_recall@10"] for r in scored),
                        "turn_recall@5": statistics.fmean(r["turn_recall@5"] for r in scored),
                        "recall_all@5": statistics.fmean(r["recall_all@5"] for r in scored),
                        "by_type": by_type})
    summary.sort(key=lambda s: -s["turn_recall@10"])
    table = Table(title=f"LongMemEval dev, part {args.part}, {len(next(iter(rows.values())))} "
                        "questions: hybrid weights by turn recall@10")
    for col in [*keys, "R@5", "R@10", "all@5", *[t.split("-")[-1][:6] for t in TYPES]]:
        table.add_column(col, justify="right")
    for s in summary[:12]:
        table.add_row(*[str(v) for v in s["weights"].values()],
                      *[f"{100 * s[m]:.1f}" for m in ("turn_recall@5", "turn_recall@10",
                                                      "recall_all@5")],
                      *[f"{100 * s['by_type'].get(t, float('nan')):.0f}" for t in TYPES])
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    if args.plot:
        _plot(summary, keys, args)


def _plot(summary: list[dict], keys: list[str], args) -> None:
    """Turn recall@5/@10 along the grid (one line per measure; points in grid order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(summary, key=lambda s: tuple(s["weights"].values()))
    labels = [", ".join(f"{v:g}" for v in s["weights"].values()) for s in points]
    fig, ax = plt.subplots(figsize=(max(5, len(points) * 0.9), 3.5))
    for measure in ("turn_recall@5", "turn_recall@10", "recall_all@5"):
        ax.plot(labels, [100 * s[measure] for s in points], marker="o", label=measure)
    ax.set_xlabel(", ".join(keys))
    ax.set_ylabel("%")
    ax.set_title(f"LongMemEval dev, part {args.part}, {args.per_type} a type")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
