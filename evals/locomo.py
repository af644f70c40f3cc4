"""LoCoMo evidence recall: replay each conversation into a fresh memory, then retrieve per question.

The LoCoMo paper (Maharana et al., 2024, Table 3) scores retrieval by evidence recall@k: for each
question, the share of its gold evidence turns found among the top-k retrieved turns of the same
conversation, averaged over questions. Replay uses Kindred's own ingestion path (``Kindred.ingest``:
session boundaries, consolidation into events, persona extraction, storage) with both speakers'
turns at their session times and photo captions appended as "[shares photo: …]"; the dataset's
observations and summaries are never indexed. Two baselines run over the same turns in the same
process: BM25 alone (bm25s, English stop words, Snowball stemming) and dense alone (the same
embedder, flat cosine search).
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from memory.errors import InvalidInputError

__all__ = ["LocomoConversation", "LocomoQuestion", "load_locomo", "evaluate_locomo",
           "recall_at_k", "replay"]

_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")
_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y")


@dataclass(frozen=True)
class LocomoQuestion:
    question: str
    gold: frozenset[str]
    category: int
    answer: str = ""  # empty for category 5 (adversarial: the right reply is "not mentioned")


@dataclass
class LocomoConversation:
    sample_id: str
    speaker_a: str
    speaker_b: str
    sessions: list[tuple[int, float, list[dict[str, str]]]]  # (number, time, turns)
    questions: list[LocomoQuestion] = field(default_factory=list)

    @property
    def n_turns(self) -> int:
        return sum(len(turns) for _, _, turns in self.sessions)


def _parse_time(text: str) -> float:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise InvalidInputError(f"Unrecognised LoCoMo session time {text!r}.")


def _gold(evidence: Sequence[str], known: set[str]) -> frozenset[str]:
    """Normalise evidence ids ("D8:6; D9:17", "D:11:26", "D30:05") and keep those that exist."""
    out = set()
    for item in evidence:
        for part in re.split(r"[;,\s]+", str(item)):
            m = _EVIDENCE.search(part)
            if m:
                dia = f"D{int(m.group(1))}:{int(m.group(2))}"
                if dia in known:
                    out.add(dia)
    return frozenset(out)


def load_locomo(path: str | Path) -> list[LocomoConversation]:
    """Conversations and their answerable questions (those with at least one valid gold turn)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"No LoCoMo file at {path}: pass --data with the path of "
                                "locomo10.json (e.g. ../shared/data/locomo/locomo10.json).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from exc
    convs = []
    for sample in data:
        c = sample["conversation"]
        numbers = sorted(int(k.split("_")[1]) for k in c if re.fullmatch(r"session_\d+", k))
        sessions = []
        for num in numbers:
            turns = []
            for t in c[f"session_{num}"]:
                text = t["text"]
                if t.get("blip_caption"):
                    text = f"{text} [shares photo: {t['blip_caption']}]"
                turns.append({"dia_id": t["dia_id"], "speaker": t["speaker"], "text": text})
            if turns:
                sessions.append((num, _parse_time(c[f"session_{num}_date_time"]), turns))
        known = {t["dia_id"] for _, _, turns in sessions for t in turns}
        conv = LocomoConversation(sample["sample_id"], c["speaker_a"], c["speaker_b"], sessions)
        for qa in sample["qa"]:
            gold = _gold(qa.get("evidence", []), known)
            if gold:
                conv.questions.append(LocomoQuestion(qa["question"], gold, int(qa["category"]),
                                                     str(qa.get("answer", ""))))
        convs.append(conv)
    return convs


def recall_at_k(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    """LoCoMo's recall: the share of gold turns among the top ``k``."""
    return len(set(ranked[:k]) & gold) / len(gold)


def replay(bot, user_id: str, conv: LocomoConversation, ingest_ms: list[float]) -> dict[str, str]:
    """Ingest every session (with its own time), ending each; returns turn id → dia_id."""
    to_dia: dict[str, str] = {}
    for _, ts, turns in conv.sessions:
        batch = [{"speaker": t["speaker"], "text": t["text"], "at": ts + i,
                  "role": "user" if t["speaker"] == conv.speaker_a else "agent"}
                 for i, t in enumerate(turns) if t["text"].strip()]
        start = time.perf_counter()
        ids = bot.ingest(user_id, batch)
        bot.end_session(user_id, at=ts + len(batch))
        ingest_ms.append((time.perf_counter() - start) * 1000 / max(len(batch), 1))
        kept = [t for t in turns if t["text"].strip()]
        to_dia.update({tid: t["dia_id"] for tid, t in zip(ids, kept, strict=True)})
    return to_dia


def _baselines(bot, user_id: str, to_dia: dict[str, str], questions: Sequence[LocomoQuestion],
               qvecs: np.ndarray, kmax: int) -> dict[str, list[list[str]]]:
    import bm25s
    import Stemmer

    turn_ids, texts, vectors = bot.memory.turns.all_vectors(user_id)
    keep = [n for n, tid in enumerate(turn_ids) if tid in to_dia]
    ids = [to_dia[turn_ids[n]] for n in keep]
    stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize([texts[n] for n in keep], stopwords="en", stemmer=stemmer,
                            show_progress=False)
    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    matrix = vectors[keep]
    out: dict[str, list[list[str]]] = {"bm25": [], "dense": []}
    for q, qvec in zip(questions, qvecs, strict=True):
        tokens = bm25s.tokenize([q.question], stopwords="en", stemmer=stemmer,
                                show_progress=False, return_ids=False)[0]
        scores = bm25.get_scores(tokens) if tokens else np.zeros(len(ids))
        out["bm25"].append([ids[i] for i in np.argsort(-scores, kind="stable")[:kmax]])
        dense = matrix @ qvec
        out["dense"].append([ids[i] for i in np.argsort(-dense, kind="stable")[:kmax]])
    return out


def _summarise(recalls: dict[int, list[float]]) -> dict[str, float]:
    return {str(k): round(float(np.mean(v)), 4) for k, v in recalls.items()}


def evaluate_locomo(convs: Sequence[LocomoConversation], ks: Sequence[int], *,
                    make_bot: Callable[[Path], Any],
                    progress: Callable[[str, int], Any] | None = None,
                    rankings: dict[tuple[str, str], list] | None = None) -> dict[str, Any]:
    """Replay, retrieve and score; returns the report dict (the ``--json`` shape).

    Kindred's ranking is ``Kindred.recall`` (what a chat turn retrieves) with no score floor:
    recall@k needs the ranking down to the largest k, where a chat prompt keeps only the turns
    above ``turn_min_score``; the top of the ranking is the same. ``rankings``, when given, is
    filled with each question's ranked turns (``RetrievedMemory``), keyed by ``(sample_id, question)``.
    """
    kmax = max(ks)
    systems = {"kindred": {k: [] for k in ks}, "bm25": {k: [] for k in ks},
               "dense": {k: [] for k in ks}}
    by_cat: dict[int, dict[int, list[float]]] = {}
    ingest_ms: list[float] = []
    query_ms: list[float] = []
    for conv in convs:
        with tempfile.TemporaryDirectory(prefix="kindred-locomo-") as tmp:
            bot = make_bot(Path(tmp))
            user_id = re.sub(r"[^A-Za-z0-9_.@-]", "-", conv.sample_id)
            to_dia = replay(bot, user_id, conv, ingest_ms)
            now = conv.sessions[-1][1] + timedelta(days=1).total_seconds()
            qvecs = bot.memory.embedder.embed([q.question for q in conv.questions])
            for q in conv.questions:
                start = time.perf_counter()
                found = bot.recall(user_id, q.question, at=now, k=kmax, min_score=None)
                query_ms.append((time.perf_counter() - start) * 1000)
                ranked = [to_dia[m.id] for m in found.turns if m.id in to_dia]
                if rankings is not None:
                    rankings[(conv.sample_id, q.question)] = found.turns
                for k in ks:
                    r = recall_at_k(ranked, q.gold, k)
                    systems["kindred"][k].append(r)
                    by_cat.setdefault(q.category, {kk: [] for kk in ks})[k].append(r)
                if progress:
                    progress(conv.sample_id, 1)
            for name, ranked_by in _baselines(bot, user_id, to_dia, conv.questions, qvecs,
                                             kmax).items():
                for q, ranked in zip(conv.questions, ranked_by, strict=True):
                    for k in ks:
                        systems[name][k].append(recall_at_k(ranked, q.gold, k))
            bot.close()
    return {
        "n_questions": len(systems["kindred"][ks[0]]),
        "recall": _summarise(systems["kindred"]),
        "by_category": {str(c): _summarise(v) for c, v in sorted(by_cat.items())},
        "baselines": {"bm25": {"recall": _summarise(systems["bm25"])},
                      "dense": {"recall": _summarise(systems["dense"])}},
        "latency_ms": {"ingest_per_turn_p50": round(statistics.median(ingest_ms), 2),
                       "query_p50": round(statistics.median(query_ms), 2),
                       "query_p95": round(float(np.percentile(query_ms, 95)), 2)},
    }
