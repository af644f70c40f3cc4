"""MSC response generation, following LD-Agent's protocol: sessions 2–4 with ground-truth history.

For each episode and each evaluated session K, sessions 1..K-1 are replayed into a fresh Kindred
(``ingest``; Speaker 1 is the user, Speaker 2 the agent; sessions one week apart, since the
personasummary files carry no gaps), then session K is walked turn by turn with teacher forcing:
before each of Speaker 2's utterances the agent generates its own reply to Speaker 1's last
utterance with ``Kindred.preview`` (what a chat turn would answer: recalled memories, traits, the
session so far, within the token budget, storing nothing); then both gold utterances, not the
generated one, are stored.

Scores: BLEU-2/BLEU-3 and ROUGE-L as in :mod:`evals.msc_persona` (NLTK with smoothing method 1,
``rouge-score`` F1), averaged over generated replies; Dist-1/Dist-2 over all replies of the run
(distinct n-grams / all n-grams).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.reply import Utterance
from evals.checkpoint import Checkpoint
from evals.msc_persona import text_scores, word_tokens

__all__ = ["distinct_n", "evaluate_msc_generation"]

_WEEK = 7 * 86400.0
_T0 = 1_600_000_000.0


def distinct_n(texts: Sequence[str], n: int) -> float:
    grams = [tuple(toks[i:i + n]) for t in texts for toks in [word_tokens(t)]
             for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _generate(bot, user: str, text: str, now: float) -> str:
    """The reply a chat turn would give to ``text`` now, storing nothing (``Kindred.preview``)."""
    return bot.preview(user, text, at=now).text


def evaluate_msc_generation(episodes: Sequence[tuple[int, list[list[str]]]], *,
                            make_bot: Callable[[Path], Any], sessions: Sequence[int] = (2, 3, 4),
                            max_replies: int | None = None,
                            progress: Callable[[int], Any] | None = None,
                            checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """BLEU-2/3, ROUGE-L, Dist-1/2 of generated agent replies, overall and per session.

    Each (episode, session) is one unit of ``checkpoint``: a resumed run skips the saved ones.
    """
    checkpoint = checkpoint or Checkpoint(None, {})
    rows: list[dict[str, Any]] = []
    for number, dialog in episodes:
        for k in sessions:
            rows.extend(checkpoint.rows_of(
                f"{number}:{k}",
                lambda number=number, dialog=dialog, k=k: _generate_session(
                    make_bot, number, dialog, k, max_replies, progress), progress))
    replies = [r["generated"] for r in rows]

    def summary(sub: list[dict[str, Any]]) -> dict[str, float]:
        return {m: statistics.fmean(r[m] for r in sub) if sub else 0.0
                for m in ("bleu2", "bleu3", "rougeL")}

    return {"n_replies": len(rows), **summary(rows), "dist1": distinct_n(replies, 1),
            "dist2": distinct_n(replies, 2),
            "by_session": {str(k): summary([r for r in rows if r["session"] == k])
                           for k in sessions},
            "seconds": checkpoint.seconds(), "replies": rows}


def _generate_session(make_bot: Callable[[Path], Any], number: int, dialog: list[list[str]], k: int,
                      max_replies: int | None, progress: Callable[[int], Any] | None
                      ) -> list[dict[str, Any]]:
    """Session ``k`` of one episode on a fresh memory holding sessions 1..k-1."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kindred-mscgen-") as tmp:
        bot = make_bot(Path(tmp) / "data")
        try:
            user = f"msc{number}"
            for s in range(k - 1):  # ground-truth history
                _ingest(bot, user, dialog[s], _T0 + s * _WEEK)
                bot.end_session(user, at=_T0 + s * _WEEK + len(dialog[s]) + 1)
            start = _T0 + (k - 1) * _WEEK
            turns = dialog[k - 1]
            for i in range(1, len(turns), 2):
                if max_replies is not None and len(rows) >= max_replies:
                    break
                reply = _generate(bot, user, turns[i - 1], start + i - 1) \
                    if turns[i - 1].strip() else ""
                rows.append({"episode": number, "session": k, "turn": i,
                             "context": turns[i - 1], "gold": turns[i], "generated": reply,
                             **text_scores(turns[i], reply)})
                _ingest(bot, user, turns[i - 1:i + 1], start + i - 1, first_index=i - 1)
                if progress:
                    progress(1)
        finally:
            bot.close()
    return rows


def _ingest(bot, user: str, utterances: Sequence[str], at: float, first_index: int = 0) -> None:
    items = [Utterance(speaker="Speaker 1" if (first_index + j) % 2 == 0 else "Speaker 2",
                       role="user" if (first_index + j) % 2 == 0 else "agent", text=text,
                       at=at + j)
             for j, text in enumerate(utterances) if text.strip()]
    if items:
        bot.ingest(user, items)
