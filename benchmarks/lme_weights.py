"""Choose the hybrid turn weights on one part of the LongMemEval dev split; report another.

Each question's haystack is replayed once through ``Kindred.ingest`` (as ``kindred eval
longmemeval`` does) into a data dir kept under ``--cache``; its turn pool (``graphs.recall.
turn_pool``: the candidates recall ranks, with their unweighted components) is kept beside it
as ``pool.json``, with BM25's and dense's rankings of the same stored turns. Every weight set
of the grid then ranks the kept pools (what recall would return, no score floor: a test holds
the two equal), and the grid is printed as turn recall@10 and session recall_all@5, overall and
by question type, with the baselines on the same questions. ``--part even`` (questions at even
positions of the file) is for choosing, ``--part odd`` for reporting the choice on questions it
was not chosen on.

    python benchmarks/lme_weights.py --data ../shared/data/longmemeval/longmemeval_s_dev.json.gz \\
        --part even --per-type 4
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import re
import statistics
from pathlib import Path

import _common  # noqa: F401  (process defaults before torch)
import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from agent import Kindred
from evals.longmemeval import TYPES, _baselines, _replay, _scores, load_longmemeval
from graphs.recall import turn_pool
from memory.hybrid import HybridWeights, TurnPool, gathers
from memory.timeexpr import resolve_time_window

_DEPTH = 50
_GRID = {"lexical": (0.8, 1.2, 1.6), "neighbour": (0.25, 0.5), "session": (0.0, 0.15, 0.3),
         "decay": (0.0, 0.15)}


def _chosen(path: Path, part: str, per_type: int, types: tuple[str, ...] = TYPES):
    questions = [q for n, q in enumerate(load_longmemeval(path))
                 if not q.question_id.endswith("_abs")
                 and (part == "all" or n % 2 == (0 if part == "even" else 1))]
    return [q for t in types for q in [q for q in questions if q.question_type == t][:per_type]]


def _pooled(q, cache: Path) -> tuple[TurnPool, dict]:
    """The question's pool and replay facts, from ``cache`` or by replaying it there."""
    where = cache / q.question_id
    meta, kept = where / "replay.json", where / "pool.json"
    if kept.is_file():
        return TurnPool.from_json(json.loads(kept.read_text())), json.loads(meta.read_text())
    bot = Kindred(data_dir=where, chat_model="fake")
    try:
        if meta.is_file():
            info = json.loads(meta.read_text())
        else:
            session_of, gold, _, seconds = _replay(bot, "user", q)
            info = {"session_of": session_of, "gold": sorted(gold), "ingest_s": seconds}
            meta.write_text(json.dumps(info))
        pool = turn_pool(bot._services, "user", q.question, q.date, k=_DEPTH)
        info["baselines"] = _baselines(bot, "user", q.question, info["session_of"])
        meta.write_text(json.dumps(info))
        kept.write_text(json.dumps(pool.to_json()))
    finally:
        bot.close()
    return pool, info


_MEASURES = ("turn_recall@5", "turn_recall@10", "recall_all@5")
_LOCOMO_KS = (5, 10, 25)


def _locomo_pools(path: Path, cache: Path, flat: bool = False
                  ) -> list[tuple[TurnPool, frozenset[str], dict]]:
    """Every LoCoMo question's pool (as ``kindred eval locomo`` queries: a day after the last
    session, k = 25), with its gold dia ids and the turn id → dia id map; replayed once into
    ``cache/locomo``."""
    from evals.locomo import load_locomo, replay

    out = []
    for conv in track(load_locomo(path), description="LoCoMo pools"):
        where = cache / "locomo" / conv.sample_id
        kept = where / "pools.json"
        if not kept.is_file():
            where.mkdir(parents=True, exist_ok=True)
            bot = Kindred(data_dir=where, chat_model="fake")
            try:
                user = re.sub(r"[^A-Za-z0-9_.@-]", "-", conv.sample_id)
                to_dia = replay(bot, user, conv, [])
                now = conv.sessions[-1][1] + 86400
                pools = [turn_pool(bot._services, user, q.question, now,
                                   k=max(_LOCOMO_KS)).to_json() for q in conv.questions]
            finally:
                bot.close()
            kept.write_text(json.dumps({"to_dia": to_dia, "pools": pools}))
        data = json.loads(kept.read_text())
        now = conv.sessions[-1][1] + 86400
        out += [(_read_again(TurnPool.from_json(p), q.question, now, flat), q.gold,
                 data["to_dia"]) for p, q in zip(data["pools"], conv.questions, strict=True)]
    return out


def _read_again(pool: TurnPool, question: str, now: float, flat: bool = False) -> TurnPool:
    """``pool`` with the question's form and time window read again by today's code (a kept
    pool may predate a change to them); ``flat``: every window flat, as before 2026-12-08."""
    pool = dataclasses.replace(pool, gathers=gathers(question))
    if not pool.ts:  # kept before pools carried their times: the window stays as it was
        return pool
    window = resolve_time_window(question, now)
    if window and flat:
        window = dataclasses.replace(window, centre=None)
    ts = np.asarray(pool.ts)
    return dataclasses.replace(pool, components={
        **pool.components,
        "time_window": window.membership(ts) if window else np.zeros(len(ts))})


def _locomo_recall(pools, weights: HybridWeights) -> dict[int, float]:
    """LoCoMo evidence recall@k of the pools ranked with ``weights``."""
    from evals.locomo import recall_at_k

    got = {k: [] for k in _LOCOMO_KS}
    for pool, gold, to_dia in pools:
        ranked = [to_dia[pool.ids[i]] for i in pool.rank(weights, max(_LOCOMO_KS))
                  if pool.ids[i] in to_dia]
        for k in _LOCOMO_KS:
            got[k].append(recall_at_k(ranked, gold, k))
    return {k: statistics.fmean(v) for k, v in got.items()}


def _summary(scored: list[dict]) -> dict:
    """Mean of each measure over the questions, overall and by type."""
    def mean(rows):
        return {m: statistics.fmean(r[m] for r in rows) for m in _MEASURES}
    return {**mean(scored), "by_type": {t: mean([r for r in scored if r["type"] == t])
                                        for t in TYPES if any(r["type"] == t for r in scored)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--part", choices=("even", "odd", "all"), default="even")
    ap.add_argument("--per-type", type=int, default=4)
    ap.add_argument("--types", type=lambda v: tuple(v.split(",")), default=TYPES,
                    help=f"question types, comma-separated (default all: {','.join(TYPES)})")
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/out/lme-replays"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--cached", action="store_true",
                    help="only the questions already replayed under --cache (a replay of the "
                         "part may be running beside: its latest question is left alone)")
    ap.add_argument("--locomo", type=Path, default=None,
                    help="LoCoMo's JSON: also rank its questions with every weight set (the "
                         "weights chosen here must keep its evidence recall)")
    ap.add_argument("--flat-windows", action="store_true",
                    help='every time window flat, "two weeks ago" too (as before 2026-12-08)')
    ap.add_argument("--top", type=int, default=12, help="grid rows printed, best first")
    ap.add_argument("--plot", type=Path, default=None, help="a PNG of recall along the grid")
    ap.add_argument("--grid", type=json.loads, default=None,
                    help='the weights to vary, as JSON (e.g. \'{"piece_margin": [0, 0.05, 1]}\'); '
                         "the others stay at their defaults")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    chosen_grid = args.grid or _GRID
    keys, grid = list(chosen_grid), list(itertools.product(*chosen_grid.values()))
    rows: dict[tuple, list[dict]] = {g: [] for g in grid}
    base_rows: dict[str, list[dict]] = {"bm25": [], "dense": []}
    defaults = HybridWeights()
    defaults_row = tuple(getattr(defaults, k) for k in keys)
    rows.setdefault(defaults_row, [])  # today's defaults are always a row of the grid
    if unknown := set(args.types) - set(TYPES):
        ap.error(f"unknown question types {sorted(unknown)}; choose from {', '.join(TYPES)}")
    chosen = _chosen(args.data, args.part, args.per_type, args.types)
    if args.cached:
        done = [q for q in chosen if (args.cache / q.question_id / "replay.json").is_file()]
        chosen = done[:-1] if done and not (args.cache / done[-1].question_id / "pool.json"
                                             ).is_file() else done
    for q in track(chosen, description="replay and rank"):
        pool, info = _pooled(q, args.cache)
        pool = _read_again(pool, q.question, q.date, args.flat_windows)
        gold, session_of = frozenset(info["gold"]), info["session_of"]
        for g in rows:
            ranked = [pool.ids[i] for i in pool.rank(
                defaults.model_copy(update=dict(zip(keys, g, strict=True))), _DEPTH)]
            rows[g].append({"type": q.question_type, **_scores(
                ranked, gold, session_of, q.answer_sessions, (5, 10))})
        for name, ranked in info["baselines"].items():
            base_rows[name].append({"type": q.question_type, **_scores(
                ranked, gold, session_of, q.answer_sessions, (5, 10))})
    summary = [{"weights": dict(zip(keys, g, strict=True)), **_summary(scored)}
               for g, scored in rows.items()]
    summary.sort(key=lambda s: -s["turn_recall@10"])
    baselines = {name: _summary(scored) for name, scored in base_rows.items()}
    if args.locomo:
        pools = _locomo_pools(args.locomo, args.cache, args.flat_windows)
        for s in summary:
            s["locomo"] = _locomo_recall(pools, defaults.model_copy(update=s["weights"]))
        baselines["default"] = {"locomo": _locomo_recall(pools, defaults)}
    n = len(next(iter(rows.values())))
    table = Table(title=f"LongMemEval dev, part {args.part}, {n} questions: hybrid weights by "
                        "turn recall@10 (by type: turn recall@10 / session recall_all@5)")
    lo = [f"L@{k}" for k in _LOCOMO_KS] if args.locomo else []
    for col in [*keys, "T@5", "T@10", "S@5", *[t.split("-")[-1][:6] for t in TYPES], *lo]:
        table.add_column(col, justify="right")
    for label, s in [*[(list(s["weights"].values()), s) for s in summary[:args.top]],
                     *[([name] + [""] * (len(keys) - 1), s) for name, s in baselines.items()]]:
        table.add_row(*[str(v) for v in label],
                      *[f"{100 * s[m]:.1f}" if m in s else "" for m in _MEASURES],
                      *[f"{100 * s['by_type'][t]['turn_recall@10']:.0f}/"
                        f"{100 * s['by_type'][t]['recall_all@5']:.0f}"
                        if t in s.get("by_type", {}) else "" for t in TYPES],
                      *[f"{100 * s['locomo'][k]:.2f}" if "locomo" in s else ""
                        for k in _LOCOMO_KS][:len(lo)])
    Console(width=200).print(table)
    if args.json:
        args.json.write_text(json.dumps({"part": args.part, "questions": n, "grid": summary,
                                         "baselines": baselines}, indent=1))
    if args.plot:
        _plot(summary, keys, args, n)


def _plot(summary: list[dict], keys: list[str], args, n: int) -> None:
    """Turn recall@5/@10 and session recall_all@5 along the grid, and LoCoMo's evidence recall
    when it was ranked too (dashed; one line per measure, points in grid order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(summary, key=lambda s: tuple(s["weights"].values()))
    labels = [", ".join(f"{v:g}" for v in s["weights"].values()) for s in points]
    fig, ax = plt.subplots(figsize=(max(5, len(points) * 0.9) + 2, 3.5))
    for measure in ("turn_recall@5", "turn_recall@10", "recall_all@5"):
        ax.plot(labels, [100 * s[measure] for s in points], marker="o", label=f"LME {measure}")
    if "locomo" in points[0]:
        for k in _LOCOMO_KS[:2]:
            ax.plot(labels, [100 * s["locomo"][k] for s in points], marker="s", linestyle="--",
                    label=f"LoCoMo R@{k}")
    ax.set_xlabel(", ".join(keys))
    ax.set_ylabel("%")
    ax.set_title(f"LongMemEval dev, part {args.part} ({n} questions)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
