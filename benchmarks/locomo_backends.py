"""LoCoMo evidence recall on each record backend, in one run: SQLite (FTS5) against PostgreSQL.

    .venv/bin/python benchmarks/locomo_backends.py [--data ../shared/data/locomo/locomo10.json]
                                                   [--convs N] [--plot OUT.png]

The same replay and recall (``evals.locomo.evaluate_locomo``, as ``kindred eval locomo``) with
records and words in SQLite, then in PostgreSQL (started here, on loopback); vectors in embedded
Chroma both times, so only the record backend differs. PostgreSQL's BM25 is FTS5's formula in SQL
over the same stemmed words (memory/backends/postgres.py); the target is recall within 1 point of
SQLite's at every k. Also printed: ingest and query time per backend.
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import sys
from pathlib import Path

from _common import machine, stamp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import postgres_server  # noqa: E402

KS = (5, 10, 25, 50)


def _schema(url: str) -> str:
    import uuid

    import psycopg

    name = f"locomo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}?options=-csearch_path%3D{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data" /
                        "locomo" / "locomo10.json")
    parser.add_argument("--convs", type=int, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()

    from rich.progress import Progress

    from agent import Kindred
    from evals.locomo import evaluate_locomo, load_locomo

    convs = load_locomo(args.data)
    convs = convs[:args.convs] if args.convs else convs
    reports: dict[str, dict] = {}
    with postgres_server() as url, Progress() as progress:
        for name, server in (("SQLite", None), ("PostgreSQL", url)):
            def make_bot(d: Path, server=server) -> Kindred:  # closed by evaluate_locomo
                # each conversation a fresh memory, as on SQLite: a schema of its own
                storage = {"database_url": _schema(server)} if server else {}
                return Kindred(data_dir=d, chat_model="fake", storage=storage)

            task = progress.add_task(f"LoCoMo on {name}",
                                     total=sum(len(c.questions) for c in convs))
            reports[name] = evaluate_locomo(convs, KS, make_bot=make_bot,
                                            progress=lambda _c, n, t=task: progress.advance(t, n))
    print(f"# LoCoMo evidence recall by record backend, {stamp()}, {machine()}")
    print(f"{len(convs)} conversations, {reports['SQLite']['n_questions']} questions")
    print(f"{'backend':12s} " + " ".join(f"R@{k:<5d}" for k in KS) + "  ingest ms/turn  query ms")
    for name, r in reports.items():
        recall, ms = r["recall"], r["latency_ms"]
        print(f"{name:12s} " + " ".join(f"{100 * recall[str(k)]:6.1f}" for k in KS)
              + f"  {ms['ingest_per_turn_p50']:14.1f}  {ms['query_p50']:8.1f}")
    diff = [100 * (reports["PostgreSQL"]["recall"][str(k)] - reports["SQLite"]["recall"][str(k)])
            for k in KS]
    print("PostgreSQL − SQLite (points): " + " ".join(f"{d:+.1f}" for d in diff))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, r in reports.items():
            ax.plot(KS, [100 * r["recall"][str(k)] for k in KS], marker="o",
                    label=name)
        ax.set(xlabel="k", ylabel="evidence recall@k (%)", xscale="log", xticks=KS,
               xticklabels=[str(k) for k in KS], title="LoCoMo recall by record backend")
        ax.minorticks_off()
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
