"""Recognising a user turn that corrects the agent's previous reply (implicit feedback).

MemPrompt learns from feedback on the agent's understanding; users rarely type a command for it,
they say "no, I meant …", "that's not what I asked", "actually, my sister is called Ana". These
rules are deliberately conservative: a false positive stores a wrong correction that later joins
unrelated prompts, so small talk that merely starts with "no" or "actually" is not a correction.
"""

from __future__ import annotations

import re

__all__ = ["LLMCorrectionJudge", "about_the_request", "detect_correction", "maybe_correction"]

_PATTERNS = [
    re.compile(r"^(?:no|nope|wrong|not quite|incorrect|that'?s wrong|that is wrong)\b[,.!]?\s+"
               r"(?:i\s+(?:meant|mean|said|asked|wanted)|it'?s|it\s+is|my|that|you|the\s+\w+\s+is)"
               r"\b", re.I),
    re.compile(r"\b(?:that'?s|that\s+is|this\s+is)\s+not\s+what\s+i\s+(?:asked|meant|said|wanted)",
               re.I),
    re.compile(r"^(?:well,?\s+)?(?:i\s+meant|what\s+i\s+meant\s+(?:was|is))\b", re.I),
    re.compile(r"\byou\s+(?:misunderstood|got\s+(?:it|that|me)\s+wrong|misheard)\b", re.I),
    re.compile(r"^actually,?\s+(?:my|it'?s|it\s+is|the|i\s+(?:meant|said|asked))\b.*"
               r"\b(?:is|was|are|were|called|named|not|meant)\b", re.I),
]
_DECLINE = re.compile(r"^(?:no|nope)[,.!]?\s+(?:thanks|thank\s+you|worries|problem|way)\b", re.I)


_ABOUT_REQUEST = re.compile(r"^(?:(?:no|nope|well|actually|sorry)[,.!]?\s+)*i\s+(?:meant|mean|wanted|"
                            r"want(?:ed)?\s+to\s+know|asked|said|was\s+(?:asking|talking|"
                            r"looking))\b", re.I)


def about_the_request(statement: str) -> bool:
    """Whether a first-person statement in a correction is about the request, not the speaker:
    "I meant a vegetarian restaurant", "I wanted his name" say what was asked, not who asks."""
    return bool(_ABOUT_REQUEST.search(statement.strip()))


def detect_correction(text: str) -> bool:
    """Whether ``text`` corrects the previous reply (rules; see the module docstring)."""
    stripped = text.strip()
    if _DECLINE.search(stripped):
        return False
    return any(p.search(stripped) for p in _PATTERNS)


_CUE = re.compile(r"^(?:no|nope|not|wrong|actually|hmm|well|that'?s|that\s+is|i\s+(?:said|asked|meant|"
                  r"wanted)|you)\b", re.I)


def maybe_correction(text: str) -> bool:
    """A cheap pre-filter: the turn opens like a correction, but the rules were not sure."""
    return bool(_CUE.search(text.strip()))


class LLMCorrectionJudge:
    """Asks a capable chat model whether a turn corrects the previous reply (YES/NO).

    Used only for turns the rules missed that still open like a correction
    (:func:`maybe_correction`), so a capable model costs one short call on few turns.
    """

    def __init__(self, chat_model, prompt: str) -> None:
        self._model, self._prompt = chat_model, prompt

    def __call__(self, request: str, reply: str, text: str) -> bool:
        from langchain_core.messages import HumanMessage

        answer = self._model.invoke([HumanMessage(self._prompt.format(
            request=request, reply=reply, text=text))])
        return str(answer.content).strip().upper().startswith("YES")
