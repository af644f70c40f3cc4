"""Calibrate LD-Agent's semantic floor γ for events (session summaries) on LoCoMo.

    .venv/bin/python benchmarks/event_gamma.py --data ../shared/data/locomo/locomo10.json

γ = 0.5 in the LD-Agent paper was set for its own encoder; Kindred's default (0.35) was an estimate
for all-MiniLM-L6-v2 that no data had checked. Each conversation is replayed into a fresh memory
through ``Kindred.ingest`` (events are the extractive summaries the local model gets); for every
question the events are retrieved exactly as a chat turn does (nearest candidates, then LD-Agent's
score ``λ·(s_sem + s_top)`` over those with cosine > γ, top ``events_k``), once per γ. An event is
relevant when its session holds the question's evidence. Per γ: event recall (relevant sessions
found / min(evidence sessions, k)), precision (relevant / shown, over questions shown any), share
of questions shown no event, and F1 per question (0 when none is shown).

The floor exists for queries that no memory answers (small talk, a new subject), which LoCoMo's
questions never are. So each memory is also asked the questions of the *next* conversation
(other people, other events: every event shown for them is noise); for those "F1" is 1 when no
event is shown and 0 otherwise. γ is chosen by the mean F1 over both kinds of question (1:1) on
conversations 1-5 and checked on 6-10.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import machine, stamp

from evals.locomo import load_locomo, replay
from agent.kindred import Kindred
from memory.retrieval import score_hits

GAMMAS = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def _session_of(dia: str) -> int:
    return int(dia[1:].split(":")[0])


Row = dict[float, tuple[float, float, bool]]


def _conversation_rows(conv, foreign, embedder) -> tuple[list[Row], list[Row]]:
    """Per question of ``conv`` and of ``foreign`` (another conversation), asked of ``conv``'s
    memory: γ → (recall, precision, shown any); for foreign questions only "shown any" counts."""
    bot = Kindred(data_dir=tempfile.mkdtemp(prefix="kindred-gamma-"), chat_model="fake",
                  embedder=embedder)
    try:
        to_dia = replay(bot, "gamma", conv, [])
        session_no = {tid.split("/")[-2]: _session_of(dia) for tid, dia in to_dia.items()}
        cfg = bot.settings.retrieval
        now = conv.sessions[-1][1] + 86400.0
        questions = [(q, {_session_of(d) for d in q.gold}) for q in conv.questions] + \
            [(q, set()) for q in foreign.questions]
        qvecs = bot.memory.embedder.embed([q.question for q, _ in questions])
        rows = []
        for (q, gold), qvec in zip(questions, qvecs, strict=True):
            hits = bot.memory.events.search("gamma", qvec, cfg.candidates)
            topics = bot.memory.topics.topics(q.question)
            row = {}
            for gamma in GAMMAS:
                config = cfg.scoring.model_copy(update={"gamma": gamma})
                shown = {session_no.get(e.session_id or "")
                         for e in score_hits(hits, topics, now, config, "event", cfg.events_k)}
                found = len(shown & gold)
                row[gamma] = (found / min(len(gold), cfg.events_k) if gold else 0.0,
                              found / len(shown) if shown else 0.0, bool(shown))
            rows.append(row)
        n = len(conv.questions)
        return rows[:n], rows[n:]
    finally:
        bot.close()


def _table(rows: list[Row], foreign: list[Row], title: str) -> dict[float, float]:
    print(f"\n{title} ({len(rows)} questions; {len(foreign)} of other conversations)")
    print(f"{'γ':>5} | {'recall':>6} | {'precision':>9} | {'no event':>8} | {'F1':>5} | "
          f"{'other conv.: no event':>21} | {'mean':>5}")
    means = {}
    for gamma in GAMMAS:
        rec = [r[gamma][0] for r in rows]
        shown = [r[gamma] for r in rows if r[gamma][2]]
        f1 = statistics.fmean(2 * rc * pr / (rc + pr) if rc + pr else 0.0
                              for rc, pr, _ in (r[gamma] for r in rows))
        quiet = statistics.fmean(0.0 if r[gamma][2] else 1.0 for r in foreign)
        means[gamma] = (f1 + quiet) / 2
        print(f"{gamma:>5.2f} | {100 * statistics.fmean(rec):6.1f} | "
              f"{100 * statistics.fmean(s[1] for s in shown) if shown else 0.0:9.1f} | "
              f"{100 * (1 - len(shown) / len(rows)):7.1f}% | {100 * f1:5.1f} | "
              f"{100 * quiet:20.1f}% | {100 * means[gamma]:5.1f}")
    return means


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="path of locomo10.json")
    args = ap.parse_args()
    from memory.embeddings import default_embedder
    from rich.progress import track

    convs = load_locomo(args.data)
    embedder = default_embedder()
    per_conv = [_conversation_rows(c, convs[(i + 1) % len(convs)], embedder)
                for i, c in enumerate(track(convs, description="replaying LoCoMo conversations"))]
    print(f"# event γ calibration — {stamp()} — {machine()}")

    def table(part, title):
        return _table([r for own, _ in part for r in own], [r for _, fo in part for r in fo], title)

    fit = table(per_conv[:5], "conversations 1-5 (choose γ)")
    best = max(GAMMAS, key=lambda g: (round(fit[g], 4), -abs(g - 0.35)))
    check = table(per_conv[5:], "conversations 6-10 (check)")
    print(f"\nbest γ on 1-5: {best:.2f} (mean {100 * fit[best]:.1f}); on 6-10 it gives "
          f"{100 * check[best]:.1f} against {100 * check[0.35]:.1f} at the current 0.35")


if __name__ == "__main__":
    main()
