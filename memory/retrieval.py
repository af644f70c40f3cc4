"""LD-Agent's topic-based retrieval: semantic similarity, noun overlap and time decay.

For a query with noun set Vq and a memory with noun set Vk:

* ``s_top = ½(|Vq∩Vk|/|Vq| + |Vq∩Vk|/|Vk|)`` (:func:`memory.topics.topic_overlap`);
* ``λ = exp(-Δt/τ)``, τ = 1e7 s (a week: 0.94, a year: 0.04);
* paper scoring (default): ``score = λ·(s_sem + s_top)`` over memories with cosine ``s_sem > γ``;
* code scoring (LD-Agent's repository): the single nearest memory by embedding, kept only when it
  shares a noun with the query, scored ``λ·s_top``.

γ = 0.5 in the paper was set for its encoder. all-MiniLM-L6-v2 gives lower cosines for related
texts (a question and the statement that answers it typically sit at 0.35–0.7), so Kindred's
default γ is 0.40, calibrated on LoCoMo by ``benchmarks/event_gamma.py``: a floor that keeps events
away from queries about something else (99% of another conversation's questions get none; 96% at
0.35) while LoCoMo's own questions still get their session's event (0.35-0.45 is a plateau of the
calibration's criterion; turn recall is the same at 0.35 and 0.40). It is a setting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import Field

from memory.backends.base import VectorHit
from memory.config import ComponentConfig
from memory.topics import topic_overlap
from memory.types import RetrievedMemory

__all__ = ["ScoringConfig", "ScoringMode", "format_age", "score_hits", "time_decay"]

ScoringMode = Literal["paper", "code"]


class ScoringConfig(ComponentConfig):
    """The constants of LD-Agent scoring (see the module docstring for where each comes from)."""

    mode: ScoringMode = Field(default="paper", description="paper: λ·(s_sem+s_top) over cosine > γ; "
                                                          "code: LD-Agent's repository")
    tau_s: float = Field(default=1e7, gt=0, description="time-decay constant τ (LD-Agent: 1e7 s)")
    gamma: float = Field(default=0.40, ge=-1, le=1,
                         description="semantic floor γ; paper 0.5 for its encoder, 0.40 for MiniLM "
                                     "(benchmarks/event_gamma.py)")
    use_topics: bool = Field(default=True, description="noun overlap in the scores (False: "
                                                       "LD-Agent's w/o-topic ablation)")


def time_decay(age_s: float, tau_s: float) -> float:
    """``exp(-Δt/τ)``; a memory from the future (clock skew) counts as brand new."""
    return math.exp(-max(age_s, 0.0) / tau_s)


def format_age(age_s: float) -> str:
    """LD-Agent's "<N days M hours> ago" (minutes when under an hour), in good English."""
    age_s = max(age_s, 0.0)
    days, rem = divmod(int(age_s), 86400)
    hours, rem = divmod(rem, 3600)
    if days == 0 and hours == 0:
        return f"{_count(max(rem // 60, 0), 'minute')} ago"
    return f"{_count(days, 'day')} {_count(hours, 'hour')} ago"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def score_hits(hits: Sequence[VectorHit], query_topics: Iterable[str], now: float,
               config: ScoringConfig, kind: Literal["event", "turn"], k: int
               ) -> list[RetrievedMemory]:
    """Score vector hits with LD-Agent's formula and return the best ``k``, best first.

    ``hits`` must come nearest-first (as :meth:`VectorIndex.query` returns them); each hit's
    metadata carries ``ts``, ``topics`` and ``session_id``.
    """
    vq = list(query_topics)
    pool = list(hits[:1]) if config.mode == "code" else list(hits)
    scored: list[RetrievedMemory] = []
    for hit in pool:
        ts = float(hit.metadata.get("ts", now))
        s_sem = float(hit.similarity)
        s_top = topic_overlap(vq, hit.metadata.get("topics") or []) if config.use_topics else 0.0
        lam = time_decay(now - ts, config.tau_s)
        if config.mode == "code" and config.use_topics:
            if s_top <= 0.0:
                continue
            total, reason = lam * s_top, "nearest by embedding and shares a topic (code scoring)"
        else:
            if s_sem <= config.gamma:
                continue
            total, reason = lam * (s_sem + s_top), f"cosine {s_sem:.2f} > γ {config.gamma:.2f}"
        scored.append(RetrievedMemory(
            kind=kind, id=hit.id, text=hit.text, session_id=hit.metadata.get("session_id"),
            ts=ts, age=format_age(now - ts), speaker=hit.metadata.get("speaker"),
            scores={"semantic": round(s_sem, 4), "topic": round(s_top, 4),
                    "decay": round(lam, 4), "total": round(total, 4)},
            reason=reason, turn_ids=list(hit.metadata.get("turn_ids") or [])))
    scored.sort(key=lambda m: m.scores["total"], reverse=True)
    return scored[:k]
