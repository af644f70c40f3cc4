"""MaLP's dual-process consolidation: short-term items rehearsed θ times become long-term.

MaLP (Zhang et al., NAACL 2024): notes of the current round (working memory) become short-term
knowledge items; a counter per item counts how often it comes up again; at count ≥ θ the item is
promoted to long-term memory; short-term memory is flushed every N rounds, long-term never. The
paper gives no θ (a later reconstruction used 3) and no N. Kindred counts rounds in *sessions*: a
trait said once and not repeated within ``flush_after_sessions`` sessions expires (it stays in the
history, marked expired), so one-off remarks fade while repeated facts stay.

Matching follows MaLP's code: a new item matches a short-term item by edit distance (< 6 on the
normalised text) and a long-term item by embedding cosine (its 0.9 was for a trained encoder; for
all-MiniLM-L6-v2 Kindred uses 0.85, the same threshold the bank uses to merge near-duplicates).
"""

from __future__ import annotations

import re

from pydantic import Field
from rapidfuzz.distance import Levenshtein

from memory.config import ComponentConfig

__all__ = ["RehearsalPolicy", "normalise_item"]


def normalise_item(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


class RehearsalPolicy(ComponentConfig):
    """θ, the flush period and the two matching thresholds (see the module docstring)."""

    theta: int = Field(default=3, ge=1, description="MaLP promotion count θ")
    flush_after_sessions: int = Field(
        default=5, ge=1, description="unrehearsed short-term traits expire after N sessions")
    stm_max_edit_distance: int = Field(default=6, ge=1,
                                       description="a short-term trait matches under this distance")
    ltm_min_similarity: float = Field(
        default=0.85, ge=0, le=1,
        description="cosine at which a trait is the same as a stored one (merged, not added)")

    def tier(self, count: int) -> str:
        """``long`` once an item has been seen θ times, else ``short``."""
        return "long" if count >= self.theta else "short"

    def stm_match(self, new: str, old: str) -> bool:
        """MaLP's short-term match: edit distance below the limit on normalised text."""
        a, b = normalise_item(new), normalise_item(old)
        return Levenshtein.distance(a, b, score_cutoff=self.stm_max_edit_distance) \
            < self.stm_max_edit_distance

    def expired(self, last_session: int, current_session: int) -> bool:
        """A short-term item not rehearsed in the last ``flush_after_sessions`` sessions."""
        return current_session - last_session >= self.flush_after_sessions
