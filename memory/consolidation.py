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
Unlike MaLP's, an edit-distance match must not name another value (:func:`names_other_values`):
"I moved to Lisbon." is 5 edits from "I moved to Berlin." and "I am 31." one from "I am 30.",
and a rehearsal of the old fact would have swallowed the new one.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

from pydantic import Field
from rapidfuzz.distance import Levenshtein

from memory.config import ComponentConfig

__all__ = ["RehearsalPolicy", "names_other_numbers", "names_other_values", "normalise_item"]


def normalise_item(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


_NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def _words(text: str) -> Counter[str]:
    return Counter(_NUMBER_WORDS.get(w, w) for w in normalise_item(text).split())


def _differences(a: str, b: str) -> tuple[list[str], list[str]]:
    """The words of ``a`` not in ``b`` and of ``b`` not in ``a`` ("two" and "2" are one)."""
    wa, wb = _words(a), _words(b)
    return list((wa - wb).elements()), list((wb - wa).elements())


def _is_number(word: str) -> bool:
    return any(c.isdigit() for c in word)


@cache
def _function_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def _respelt(x: str, y: str) -> bool:
    """"cats"/"cat", "colour"/"color", "Anna"/"Ana": the same word, spelt otherwise."""
    return not (_is_number(x) or _is_number(y)) and \
        Levenshtein.distance(x, y) <= max(1, min(len(x), len(y)) // 4)


def names_other_values(a: str, b: str) -> bool:
    """Whether two near-identical statements say different things: a content word or number of
    one is not in the other, nor spelt otherwise there ("Berlin"/"Lisbon", "nurse"/"chef",
    "30"/"31"; not "cats"/"cat", "two"/"2", "have"/"own")."""
    only_a, only_b = _differences(a, b)

    def unmatched(xs: list[str], ys: list[str]) -> bool:
        return any((_is_number(x) or (len(x) >= 3 and x not in _function_words()))
                   and not any(_respelt(x, y) for y in ys) for x in xs)

    return unmatched(only_a, only_b) or unmatched(only_b, only_a)


def names_other_numbers(a: str, b: str) -> bool:
    """Whether two statements give different numbers ("I am 30." / "I am 31.", cosine 0.94)."""
    only_a, only_b = _differences(a, b)
    return any(map(_is_number, only_a)) and any(map(_is_number, only_b))


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
        """MaLP's short-term match: edit distance below the limit on normalised text, naming no
        other value (:func:`names_other_values`)."""
        a, b = normalise_item(new), normalise_item(old)
        return Levenshtein.distance(a, b, score_cutoff=self.stm_max_edit_distance) \
            < self.stm_max_edit_distance and not names_other_values(new, old)

    def expired(self, last_session: int, current_session: int) -> bool:
        """A short-term item not rehearsed in the last ``flush_after_sessions`` sessions."""
        return current_session - last_session >= self.flush_after_sessions
