"""A local model's tokens streamed a whole sentence at a time, so a reply cut by the token limit
ends at its last full sentence.

Why: the embedded models stop at ``generation.max_new_tokens`` (120), and the 135M model often
runs on to it: the terminal showed replies ending "It was a few years ago when Max was", and the
stored turn kept the fragment. Only the model knows that it stopped for the limit (llama.cpp's
``finish_reason`` "length", transformers' count of new tokens), so the cut is made where the
tokens come from, before any reaches the stream: a client never sees a fragment it must unprint.
The text after the last sentence end is held back until the next end or the finish; a reply that
never finished its first sentence is kept, with an ellipsis. A model that stopped on its own
keeps every word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["SentenceStream"]

# a sentence ends at . ! ? or … (and any closing quotes or brackets) before a space, or at a
# line break; "e.g. this" or "3.5" end nothing (no space after, or a lower-case word follows)
_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+(?:[^a-z\s]|$))|\n")
_COMPLETE = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
_MARKER = re.compile(r"\s*(?:\d+[.)]|[-*•#]+)?\s*")  # a list item's number or bullet, no words yet


class SentenceStream:
    """Feed the pieces as they come; emit what :meth:`feed` returns, then :meth:`finish`.

    ``stop``: strings that end the reply where they begin (a backend that does not stop on them
    itself); :attr:`stopped` says when one came, and the text before it is all sent."""

    def __init__(self, stop: Sequence[str] | None = None) -> None:
        self._stop = [s for s in stop or () if s]
        self._all = ""  # every piece fed, up to a stop string
        self._sent = 0  # how much of it was returned
        self.stopped = False

    def feed(self, piece: str) -> str:
        """The text that may be shown now: everything up to the last sentence end so far (or,
        after a stop string, everything before it)."""
        if self.stopped:
            return ""
        self._all += piece
        found = [i for i in (self._all.find(s) for s in self._stop) if i >= 0]
        if found:  # the model's reply ends here, whole: nothing is held back
            self._all, self.stopped = self._all[:max(min(found), self._sent)], True
            return self._take(len(self._all))
        ends = [m.end() for m in _END.finditer(self._all, self._sent)]
        return self._take(ends[-1]) if ends else ""

    def finish(self, *, cut: bool) -> str:
        """The rest: all of it when the model stopped on its own; when ``cut`` (the token limit),
        nothing, or the unfinished first sentence with an ellipsis when nothing was sent."""
        rest = self._all[self._sent:]
        if not cut or self.stopped:
            return self._take(len(self._all))
        if _MARKER.fullmatch(rest):  # "…yourself.\n2." at the limit: the next item's number
            self._take(len(self._all))
            return ""
        if _COMPLETE.search(rest):  # the limit fell just after a sentence's end
            return self._take(len(self._all))
        if self._all[:self._sent].strip() or not rest.strip():
            return ""
        self._take(len(self._all))
        return rest.rstrip(" ,;:-–—") + "…"

    def _take(self, upto: int) -> str:
        out, self._sent = self._all[self._sent:upto], max(upto, self._sent)
        return out
