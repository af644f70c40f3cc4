"""Multi-Session Chat (MSC) from a path: utterances with their persona labels, and session-3 episodes.

The shared copy is the ParlAI test split (``personasummary/session_K/test.txt``, JSON lines, one
episode each; ``dialogue/session_3/test.txt`` with the two earlier sessions and the accumulated
persona facts). Episodes are split by the parity of their number (``test_<n>``): even episodes
are where anything Kindred fits comes from (``fit``), odd ones are what evaluations report on
(``heldout``), so a reported figure never comes from data a weight was fitted on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evals.script import parse_gap
from memory.errors import InvalidInputError

__all__ = ["MSCEpisode", "MSCUtterance", "Split", "load_persona_utterances", "load_session3",
           "load_sessions"]

Split = Literal["fit", "heldout", "all"]


def _gap_s(previous: dict) -> float:
    """Seconds before the next session: ``time_num`` ``time_unit`` ("4 days"); a day per unit the
    gap syntax does not know."""
    num = float(previous.get("time_num", 0))
    try:
        return parse_gap(f"+{num} {previous.get('time_unit', 'day')}")
    except ValueError:
        return num * 86400


@dataclass(frozen=True)
class MSCUtterance:
    episode: int
    session: int
    speaker: int  # 1 or 2 (even index of the dialog → Speaker 1)
    text: str
    persona_text: str  # "" when the utterance reveals nothing


@dataclass(frozen=True)
class MSCEpisode:
    """Sessions 1–3 of one episode, the gaps between them, and each speaker's accumulated facts."""

    episode: int
    sessions: tuple[tuple[str, ...], ...]  # utterances per session; even index = Speaker 1
    gaps_s: tuple[float, ...]  # seconds before sessions 2 and 3
    personas: tuple[tuple[str, ...], tuple[str, ...]]  # Speaker 1's facts, Speaker 2's facts


def _episode_number(raw: str) -> int:
    try:
        return int(str(raw).rsplit("_", 1)[1])
    except (IndexError, ValueError) as exc:
        raise InvalidInputError(f"Unexpected MSC episode id {raw!r} (expected 'test_<n>').") from exc


def _keep(episode: int, split: Split) -> bool:
    return split == "all" or (episode % 2 == 0) == (split == "fit")


def _lines(path: Path) -> Iterable[dict]:
    if not path.exists():
        raise InvalidInputError(f"MSC file {path} is missing: pass --data the folder that holds "
                                "personasummary/ and dialogue/ (e.g. ../shared/data/msc).")
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(f"{path}:{number} is not JSON: {exc.msg}") from exc


def load_persona_utterances(data_dir: str | Path, sessions: Sequence[int] = (1, 2, 3, 4),
                            split: Split = "heldout") -> list[MSCUtterance]:
    """Every utterance of the chosen sessions, with its ``persona_text`` label."""
    root = Path(data_dir)
    out = []
    for session in sessions:
        if session not in (1, 2, 3, 4):
            raise InvalidInputError(f"MSC sessions are 1-4, got {session}.")
        for episode in _lines(root / "personasummary" / f"session_{session}" / "test.txt"):
            number = _episode_number(episode.get("initial_data_id", ""))
            if not _keep(number, split):
                continue
            for i, utt in enumerate(episode["dialog"]):
                out.append(MSCUtterance(number, session, 1 + i % 2, utt["text"],
                                        (utt.get("persona_text") or "").strip()))
    return out


def load_session3(data_dir: str | Path, split: Split = "heldout") -> list[MSCEpisode]:
    """Episodes of ``dialogue/session_3`` (sessions 1–2 as history, session 3, the facts)."""
    out = []
    for ep in _lines(Path(data_dir) / "dialogue" / "session_3" / "test.txt"):
        number = _episode_number(ep["metadata"]["initial_data_id"])
        if not _keep(number, split):
            continue
        history = ep["previous_dialogs"]
        sessions = tuple(tuple(u["text"] for u in d["dialog"]) for d in history)
        sessions += (tuple(u["text"] for u in ep["dialog"]),)
        gaps = tuple(_gap_s(d) for d in history)
        personas = ep["personas"]
        out.append(MSCEpisode(number, sessions, gaps, (tuple(personas[0]), tuple(personas[1]))))
    return out


def load_sessions(data_dir: str | Path, split: Split = "heldout") -> list[tuple[int, list[list[str]]]]:
    """(episode, [session 1 utterances, …, session 4 utterances]) from ``personasummary``, joined on
    ``initial_data_id``; episodes missing a session are left out."""
    sessions: dict[int, dict[int, list[str]]] = {}
    for k in (1, 2, 3, 4):
        for episode in _lines(Path(data_dir) / "personasummary" / f"session_{k}" / "test.txt"):
            number = _episode_number(episode.get("initial_data_id", ""))
            if _keep(number, split):
                sessions.setdefault(number, {})[k] = [u["text"] for u in episode["dialog"]]
    return [(n, [s[k] for k in (1, 2, 3, 4)]) for n, s in sorted(sessions.items()) if len(s) == 4]
