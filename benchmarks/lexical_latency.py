"""BM25 search latency on each record backend: SQLite's FTS5 against PostgreSQL's SQL BM25.

Fills one user's words with ``--turns`` real turns (LoCoMo's, replayed under distinct sessions)
in batches of 500, as a bulk ingest writes them, into a fresh SQLite file and a fresh PostgreSQL
database (started here; Debian's postgresql, ``make services``), then times ``--queries`` LoCoMo
questions on each, straight after the fill (PostgreSQL has gathered no statistics yet, as after
any bulk ingest) and again after ``ANALYZE``. PostgreSQL's time is given as a ratio to SQLite's
on the same queries in the same run, and the two backends' top-10 are compared (they compute
the same formula over the same stemmed words). The SQLite backend asks FTS5 once per query word (to
put Lucene's idf in place of FTS5's, :mod:`memory.lexical`); FTS5's own single ``ORDER BY bm25()``
query over the same table is timed beside it, as the baseline that costs.

    python benchmarks/lexical_latency.py [--turns 2000] [--queries 100]
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import LOCOMO, locomo_text, machine, pct, stamp
from evals.locomo import load_locomo
from memory.backends.base import IndexTexts
from memory.backends.postgres import PgDatabase, PgLexicalIndex
from memory.backends.sqlite import Database, SqliteLexicalIndex
from memory.lexical import query_terms
from memory.scope import as_scope

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import postgres_server  # noqa: E402

_USER = as_scope("bench")


def _fill(index, rows: list[tuple[str, str, str]]) -> None:
    for start in range(0, len(rows), 500):
        with index.transaction():
            index.batch([IndexTexts(_USER, tuple(rows[start:start + 500]))])


def _timed(index, questions: list[str]) -> tuple[list[float], list[list[str]]]:
    times, tops = [], []
    for q in questions:
        started = time.perf_counter()
        hits = index.search(_USER, q, 10)
        times.append(time.perf_counter() - started)
        tops.append([h.turn_id for h in hits])
    return times, tops


def _fts5_alone(index: SqliteLexicalIndex, questions: list[str]) -> list[float]:
    """FTS5's own BM25 in one query per question (its idf, not Lucene's; the index's field
    weights): the floor."""
    w = (index.weights.body, index.weights.context)
    with index.db.transaction() as conn:
        table = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                             "sql LIKE 'CREATE VIRTUAL TABLE%'").fetchone()[0]
        times = []
        for q in questions:
            match = " OR ".join(f'"{t}"' for t in query_terms(q))
            started = time.perf_counter()
            if match:
                conn.execute(f"SELECT turn_id, -bm25({table}, 0.0, ?, ?) FROM {table} WHERE "
                             f"{table} MATCH ? ORDER BY bm25({table}, 0.0, ?, ?) LIMIT 10",
                             [*w, match, *w]).fetchall()
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=LOCOMO)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    source, questions = locomo_text(load_locomo(args.data))
    questions = questions[: args.queries]
    rows, prev = [], ""
    for n in range(args.turns):
        speaker, text = source[n % len(source)]
        rows.append((f"bench/s{n // 20:04d}/{n % 20}", f"{speaker}: {text}", prev))
        prev = text
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as url:
        sqlite = SqliteLexicalIndex(Database(Path(tmp) / "kindred.db"))
        pg_db = PgDatabase(url, max_connections=4)
        pg = PgLexicalIndex(pg_db)
        try:
            _fill(sqlite, rows)
            _fill(pg, rows)
            alone = _fts5_alone(sqlite, questions)
            fts, fts_top = _timed(sqlite, questions)
            alone = [min(a, b) for a, b in zip(alone, _fts5_alone(sqlite, questions), strict=True)]
            cold, pg_top = _timed(pg, questions)
            with pg_db.connection() as conn:
                conn.execute("ANALYZE kindred_lex_docs")
                conn.execute("ANALYZE kindred_lex_terms")
            warm, _ = _timed(pg, questions)
        finally:
            sqlite.db.close()
            pg_db.close()
    same = sum(a == b for a, b in zip(fts_top, pg_top, strict=True))
    print(f"# lexical search, {stamp()}, {machine()}")
    print(f"{args.turns} turns of one user, {len(questions)} LoCoMo questions, top 10")
    print(f"{'FTS5 bm25(), one query':28s} p50 {1000 * pct(alone, 50):7.2f} ms  "
          f"p95 {1000 * pct(alone, 95):7.2f} ms  (FTS5's idf; the baseline of the next line)")
    print(f"{'SQLite backend (Lucene idf)':28s} p50 {1000 * pct(fts, 50):7.2f} ms  "
          f"p95 {1000 * pct(fts, 95):7.2f} ms  {pct(fts, 50) / pct(alone, 50):6.1f}x FTS5's query")
    for name, t in (("PostgreSQL, no statistics", cold), ("PostgreSQL, after ANALYZE", warm)):
        print(f"{name:28s} p50 {1000 * pct(t, 50):7.2f} ms  p95 {1000 * pct(t, 95):7.2f} ms  "
              f"{pct(t, 50) / pct(fts, 50):6.1f}x the SQLite backend at p50")
    print(f"same top 10 on both backends: {same} of {len(questions)}")


if __name__ == "__main__":
    main()
