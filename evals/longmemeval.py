"""LongMemEval retrieval (and QA): each question's own haystack replayed into a fresh memory.

LongMemEval (Wu et al., ICLR 2025, MIT licence) gives every question ~50 timestamped
user–assistant sessions. Each is replayed through Kindred's public ingestion path
(``Kindred.ingest``: user turns as the user, assistant turns as the agent, at the session's date,
each session then ended, so it becomes an event) and the question is asked at its own date through
the public recall (``Kindred.recall``, what a chat turn retrieves, with no score floor). Scored as
the paper's ``src/retrieval/eval_utils.py``: session-level recall_any@k, recall_all@k and NDCG@k
(sessions ranked by their best turn), and turn-level recall@k of the ``has_answer`` turns;
abstention questions (``_abs``) are left out of retrieval, as in the paper (and, without
``--qa``, not replayed: nothing of theirs is scored). BM25 alone (bm25s) and
dense alone (the same embedder, flat cosine) rank the same stored turns in the same run. The ingest
throughput is reported as turns/s and as a ratio to the embedder alone encoding the same texts.

``--qa``: the answering model replies to the question (``Kindred.preview``: the reply chat would
give at the question's date, storing nothing) and a judge model grades it with a judge prompt after
the paper's, by question type; accuracy overall and by type.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from evals.checkpoint import Checkpoint
from memory.errors import InvalidInputError

__all__ = ["TYPES", "LmeQuestion", "evaluate_longmemeval", "load_longmemeval", "parse_date",
           "session_metrics"]

TYPES = ("single-session-user", "single-session-assistant", "single-session-preference",
         "multi-session", "knowledge-update", "temporal-reasoning")
_USER = "user"
_TURNS_DEPTH = 50  # turns ranked per question: enough to rank sessions down to k = 10


@dataclass(frozen=True)
class LmeQuestion:
    question_id: str
    question_type: str
    question: str
    answer: str
    date: float
    sessions: tuple[tuple[str, float, tuple[dict[str, Any], ...]], ...]  # (id, time, turns)
    answer_sessions: frozenset[str]

    @property
    def abstention(self) -> bool:
        return self.question_id.endswith("_abs")

    @property
    def n_turns(self) -> int:
        return sum(len(turns) for _, _, turns in self.sessions)


def parse_date(text: str) -> float:
    """LongMemEval's dates ("2023/05/28 (Sun) 19:47") as epoch seconds, UTC."""
    cleaned = re.sub(r"\s*\([A-Za-z]{3}\)\s*", " ", str(text)).strip()
    for fmt in ("%Y/%m/%d %H:%M", "%Y/%m/%d"):
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise InvalidInputError(f"Unrecognised LongMemEval date {text!r} (expected "
                            "'2023/05/28 (Sun) 19:47').")


def load_longmemeval(path: str | Path) -> list[LmeQuestion]:
    """The questions of an official LongMemEval JSON file (plain or ``.gz``), sessions sorted by
    date (stably: sessions that share a minute keep their order)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"No LongMemEval file at {path}: pass --data with its path (e.g. "
                                "../shared/data/longmemeval/longmemeval_s_dev.json.gz).")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError, EOFError) as exc:
        raise InvalidInputError(f"{path} is not LongMemEval JSON: {exc}") from exc
    out = []
    for item in data:
        try:
            sessions = sorted(
                ((str(sid), parse_date(date), tuple(turns)) for sid, date, turns in
                 zip(item["haystack_session_ids"], item["haystack_dates"],
                     item["haystack_sessions"], strict=True)),
                key=lambda s: s[1])
            out.append(LmeQuestion(str(item["question_id"]), str(item["question_type"]),
                                   str(item["question"]), str(item["answer"]),
                                   parse_date(item["question_date"]), tuple(sessions),
                                   frozenset(map(str, item.get("answer_session_ids") or ()))))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}: question {item.get('question_id', '?')!r} is not "
                                    f"in LongMemEval's schema ({exc}).") from exc
    return out


def session_metrics(ranked_sessions: Sequence[str], gold: frozenset[str], k: int
                    ) -> dict[str, float]:
    """recall_any@k, recall_all@k and NDCG@k of a session ranking (binary relevance)."""
    top = list(ranked_sessions[:k])
    hits = [1.0 if s in gold else 0.0 for s in top]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return {f"recall_any@{k}": float(any(hits)),
            f"recall_all@{k}": float(gold <= set(top)),
            f"ndcg@{k}": dcg / ideal if ideal else 0.0}


def _sessions_of(ranked_turns: Sequence[str], session_of: dict[str, str]) -> list[str]:
    seen: list[str] = []
    for tid in ranked_turns:
        s = session_of.get(tid)
        if s is not None and s not in seen:
            seen.append(s)
    return seen


def _scores(ranked_turns: Sequence[str], gold_turns: frozenset[str], session_of: dict[str, str],
            gold_sessions: frozenset[str], ks: Sequence[int]) -> dict[str, float]:
    out: dict[str, float] = {}
    sessions = _sessions_of(ranked_turns, session_of)
    for k in ks:
        if gold_turns:
            out[f"turn_recall@{k}"] = len(set(ranked_turns[:k]) & gold_turns) / len(gold_turns)
        out.update(session_metrics(sessions, gold_sessions, k))
    return out


def _replay(bot, user: str, q: LmeQuestion) -> tuple[dict[str, str], set[str], list[str], float]:
    """Ingest every session at its date, each opening a session of its own, in as few calls as
    the ingest limits allow (a call's texts are encoded in one batch), then end the last one;
    returns turn id → session id, the turn ids holding evidence, the keys embedded ("speaker:
    text", and a long turn's pieces), and the seconds spent."""
    session_of: dict[str, str] = {}
    gold: set[str] = set()
    keys: list[str] = []
    started = time.perf_counter()
    last = -math.inf
    utterances: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for sid, ts, turns in q.sessions:
        kept = [t for t in turns if str(t.get("content", "")).strip()]
        if not kept:
            continue
        ts = max(ts, last)  # sessions sharing a minute: keep time order within the replay
        utterances += [({"speaker": user if t["role"] == _USER else "assistant",
                         "role": "user" if t["role"] == _USER else "agent",
                         "text": str(t["content"]), "at": ts + i, "session_start": i == 0},
                        sid, t) for i, t in enumerate(kept)]
        last = ts + len(kept) + 1
    for call in _calls(utterances, bot.settings.limits):
        ids = bot.ingest(user, [u for u, _, _ in call])
        for tid, (u, sid, t) in zip(ids, call, strict=True):
            session_of[tid] = sid
            keys += bot.memory.turns.keys_of(u["speaker"], u["text"])  # and a long turn's pieces
            if t.get("has_answer"):
                gold.add(tid)
    if utterances:
        bot.end_session(user, at=last)
    return session_of, gold, keys, time.perf_counter() - started


def _calls(utterances: list, limits) -> list[list]:
    """The utterances as ingest calls within the limits of utterances and characters."""
    calls: list[list] = []
    call: list = []
    size = 0
    for item in utterances:
        n = len(item[0]["text"])
        if call and (len(call) >= limits.max_ingest_utterances
                     or size + n > limits.max_ingest_chars):
            calls.append(call)
            call, size = [], 0
        call.append(item)
        size += n
    if call:
        calls.append(call)
    return calls


def _embed_floor(embedder, keys: Sequence[str]) -> float:
    """Seconds the embedder alone takes to encode the keys the replay stored, from cold (the
    replay left them in its cache)."""
    clear = getattr(embedder, "clear_cache", None)
    if clear is not None:
        clear()
    started = time.perf_counter()
    embedder.embed(list(keys))
    return time.perf_counter() - started


def _baselines(bot, user: str, question: str, session_of: dict[str, str]
               ) -> dict[str, list[str]]:
    import bm25s
    import Stemmer

    turn_ids, texts, vectors = bot.memory.turns.all_vectors(user)
    keep = [n for n, tid in enumerate(turn_ids) if tid in session_of]
    ids = [turn_ids[n] for n in keep]
    stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize([texts[n] for n in keep], stopwords="en", stemmer=stemmer,
                            show_progress=False)
    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False,
                            return_ids=False)[0]
    scores = bm25.get_scores(tokens) if tokens else np.zeros(len(ids))
    qvec = bot.memory.embedder.embed([question])[0]
    dense = vectors[keep] @ qvec
    return {"bm25": [ids[i] for i in np.argsort(-scores, kind="stable")[:_TURNS_DEPTH]],
            "dense": [ids[i] for i in np.argsort(-dense, kind="stable")[:_TURNS_DEPTH]]}


def _judge(judge, q: LmeQuestion, response: str) -> bool:
    from langchain_core.messages import HumanMessage

    from graphs import prompts

    kind = "abstention" if q.abstention else q.question_type
    prompt = prompts.LONGMEMEVAL_JUDGE.format(
        extra=prompts.LONGMEMEVAL_JUDGE_EXTRA.get(kind, ""), question=q.question,
        answer=q.answer, response=response)
    verdict = str(judge.invoke([HumanMessage(prompt)]).content).strip().lower()
    return verdict.startswith("yes")


def _question_row(make_bot: Callable[[Path], Any], q: LmeQuestion, ks: Sequence[int],
                  qa: bool, judge: Any, floor: bool = True) -> dict[str, Any]:
    from graphs import prompts

    if q.abstention and not qa:  # not scored without answers (as the paper): nothing to replay
        return {"question_id": q.question_id, "type": q.question_type, "abstention": True,
                "turns": 0, "texts_embedded": 0, "ingest_s": 0.0}
    with tempfile.TemporaryDirectory(prefix="kindred-lme-") as tmp:
        bot = make_bot(Path(tmp))
        try:
            user = "user"
            session_of, gold, keys, ingest_s = _replay(bot, user, q)
            row: dict[str, Any] = {"question_id": q.question_id, "type": q.question_type,
                                   "abstention": q.abstention, "turns": len(session_of),
                                   "texts_embedded": len(keys), "ingest_s": ingest_s}
            if floor:
                row["embed_s"] = _embed_floor(bot.memory.embedder, keys)
            if not q.abstention:
                started = time.perf_counter()
                found = bot.recall(user, q.question, at=q.date, k=_TURNS_DEPTH, min_score=None)
                row["query_ms"] = (time.perf_counter() - started) * 1000
                ranked = {"kindred": [m.id for m in found.turns],
                          **_baselines(bot, user, q.question, session_of)}
                row["scores"] = {name: _scores(r, frozenset(gold), session_of,
                                               q.answer_sessions, ks)
                                 for name, r in ranked.items()}
            if qa:
                date = datetime.fromtimestamp(q.date, tz=timezone.utc).strftime(
                    "%Y-%m-%d (%A) %H:%M")
                reply = bot.preview(user, prompts.LONGMEMEVAL_ASK.format(date=date,
                                                                         question=q.question),
                                    at=q.date)
                row["response"] = reply.text
                if judge is not None:
                    row["judge_correct"] = _judge(judge, q, reply.text)
        finally:
            bot.close()
    return row


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else float("nan")


def _summary(rows: Sequence[dict[str, Any]], system: str) -> dict[str, float]:
    scored = [r["scores"][system] for r in rows if "scores" in r]
    keys = sorted({k for s in scored for k in s})
    return {k: _mean([s[k] for s in scored if k in s]) for k in keys}


def _by_part(rows: Sequence[dict[str, Any]], parts: Mapping[str, str],
             systems: Sequence[str]) -> dict[str, Any]:
    """The figures of each part's questions (overall and by type), parts in sorted order."""
    out: dict[str, Any] = {}
    for part in sorted(set(parts.values())):
        mine = [r for r in rows if parts.get(r["question_id"]) == part]
        if not mine:
            continue
        types = [t for t in TYPES if any(r["type"] == t for r in mine)]
        out[part] = {"n_retrieval": sum("scores" in r for r in mine),
                     "overall": {s: _summary(mine, s) for s in systems},
                     "by_type": {t: {s: _summary([r for r in mine if r["type"] == t], s)
                                     for s in systems} for t in types}}
    return out


def evaluate_longmemeval(questions: Sequence[LmeQuestion], ks: Sequence[int], *,
                         make_bot: Callable[[Path], Any], qa: bool = False, judge: Any = None,
                         checkpoint: Checkpoint | None = None, floor_every: int = 1,
                         parts: Mapping[str, str] | None = None,
                         progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Replay, retrieve (and answer), score; the report dict (the ``--json`` shape). Each
    question is one unit of ``checkpoint``: a resumed run skips the saved ones.

    ``floor_every``: the embedder alone re-encodes the texts of every Nth question (the first,
    then every Nth), and the ingest ratio is taken over those questions. Why: the floor costs
    about as much as the encodes of the replay it measures (two thirds of a question's time
    without it), so a whole-split run measures it on a sample.

    ``parts``: question id → part name (the CLI's ``even``/``odd``: positions in the file); the
    report then has ``by_part``, each part's figures as ``overall`` and ``by_type`` have them.
    Why: weights are chosen on one part and reported on the other, and one run of the whole
    split reports both halves and the whole in the same run, instead of two more replays."""
    if floor_every < 1:
        raise InvalidInputError(f"floor_every must be 1 or more, not {floor_every}.")
    checkpoint = checkpoint or Checkpoint(None, {})
    rows: list[dict[str, Any]] = []
    for n, q in enumerate(questions):
        rows += checkpoint.rows_of(
            q.question_id,
            lambda q=q, n=n: [_question_row(make_bot, q, ks, qa, judge, n % floor_every == 0)])
        if progress:
            progress(1)
    systems = ("kindred", "bm25", "dense")
    types = [t for t in TYPES if any(r["type"] == t for r in rows)]
    turns, ingest_s = sum(r["turns"] for r in rows), sum(r["ingest_s"] for r in rows)
    floored = [r for r in rows if "embed_s" in r]  # the questions whose floor was measured
    floor_turns = sum(r["turns"] for r in floored)
    floor_ingest_s, embed_s = (sum(r["ingest_s"] for r in floored),
                               sum(r["embed_s"] for r in floored))
    report: dict[str, Any] = {
        "n_questions": len(rows),
        "n_retrieval": sum("scores" in r for r in rows),
        "overall": {s: _summary(rows, s) for s in systems},
        "by_type": {t: {s: _summary([r for r in rows if r["type"] == t], s) for s in systems}
                    for t in types},
        "ingest": {"turns": turns, "seconds": round(ingest_s, 2),
                   "turns_per_s": round(turns / ingest_s, 2) if ingest_s else None,
                   "floor_questions": len(floored),
                   "embedder_turns_per_s": (round(floor_turns / embed_s, 2) if embed_s
                                            else None),
                   "ratio_to_embedder": (round(embed_s / floor_ingest_s, 3) if floor_ingest_s
                                         else None)},
        **({"by_part": _by_part(rows, parts, systems)} if parts else {}),
        "query_ms_p50": (round(statistics.median(r["query_ms"] for r in rows if "query_ms" in r),
                               2) if any("query_ms" in r for r in rows) else None),
        "seconds": round(checkpoint.seconds(), 1),
    }
    if qa:
        judged = [r for r in rows if "judge_correct" in r]
        report["qa"] = {
            "judged": len(judged),
            "accuracy": _mean([float(r["judge_correct"]) for r in judged]),
            "by_type": {t: _mean([float(r["judge_correct"]) for r in judged
                                  if r["type"] == t and not r["abstention"]]) for t in types},
            "abstention": _mean([float(r["judge_correct"]) for r in judged if r["abstention"]]),
            "answers": [{k: r[k] for k in ("question_id", "type", "response", "judge_correct")
                         if k in r} for r in rows]}
    return report
