"""Short-term memory: the current session's turns, kept in the graph's checkpointed state.

LD-Agent: both speakers' turns are appended; the prompt shows the last 30; a new message that
arrives more than β seconds after the last turn ends the session (β = 600 s in the paper, 3600 s
in the code; Kindred defaults to the paper). These are pure functions over the list, so the graph's
state stays plain data that the checkpointer can save.
"""

from __future__ import annotations

from collections.abc import Sequence

from memory.types import Turn

__all__ = ["next_index", "session_expired", "window"]


def session_expired(last_ts: float | None, now: float, beta_s: float) -> bool:
    """True when a message at ``now`` starts a new session: the gap since the last turn exceeds β."""
    return last_ts is not None and (now - last_ts) > beta_s


def window(stm: Sequence[Turn], n: int) -> list[Turn]:
    """The last ``n`` turns of the session (what the prompt's CONTEXT shows)."""
    return list(stm[-n:]) if n > 0 else []


def next_index(stm: Sequence[Turn]) -> int:
    """Index for the next turn of the session."""
    return stm[-1].idx + 1 if stm else 0
