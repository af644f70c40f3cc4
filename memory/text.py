"""Plain-text helpers shared by summaries, persona checks and evaluations."""

from __future__ import annotations

import re
import zlib

__all__ = ["AGENT_PARSE_CHARS", "LAUGH", "MAX_PIECES", "PARSE_CHARS", "PIECE_CHARS", "digest",
           "is_laugh", "parse_prefix", "parse_span", "split_sentences", "tail_pieces"]

# How much of one message spaCy reads for topics and traits: what the message's own vector reads
# (the embedder's 256 word pieces, about 1,000-1,200 characters of English). The rest of a long
# message is found through its pieces' vectors and its words; its nouns and statements are not
# parsed. Why: spaCy's time grows faster than a text's length, and at 2,000 characters parsing
# the long answers of a LongMemEval haystack took 6.8 s of CPU per question, as much as a
# third of the embedder's own work, for nouns only the session's event topics read (measured
# 2026-12-05: two haystacks parsed in 10.0-12.9 s at 2,000 characters, 6.1-6.3 s at 1,000).
# Conversational turns (LoCoMo's longest is 486 characters with its photo caption, MSC's
# shorter) are never cut.
PARSE_CHARS = 1000

# How much of the agent's own message spaCy reads: its opening, where a reply says what it is
# about and what it says of itself. Why: an assistant's long answers were 80% of a LongMemEval
# haystack's parse at PARSE_CHARS (3.5-4 s of CPU per question, a third of the encoder's work),
# and at 500 characters the rules kept the same 92 self-statements from 500 replies of two
# haystacks as at 1,000, in a quarter of the time (measured 2026-12-05). The rest of an answer is
# found by its vectors and its words. Conversational turns are never cut (LoCoMo's longest, 486
# characters with its photo caption, is under it, whichever speaker is the agent).
AGENT_PARSE_CHARS = 500

# What one vector of a long message reads: about the embedder's 256 word pieces. A message longer
# than this gets vectors for the rest of it too (``tail_pieces``), at most MAX_PIECES of them
# (16,000 more characters; past that a pasted document is found by its words only).
PIECE_CHARS = 1000
MAX_PIECES = 16

_SENTENCE = re.compile(r"(?<=[.!?])\s+")

# A laugh or a smiley said beside a statement ("so tired today lol"): neither a fact (the trait
# rules step over it) nor news (an event's sentence drops it). One pattern for both readers.
LAUGH = r"(?:lol|lmao|lmfao|rofl|xd|(?:ha){2,}h?|(?:he){2,}h?|:\)|:d|;\))"
_LAUGH_WORD = re.compile(LAUGH, re.IGNORECASE)


def is_laugh(word: str) -> bool:
    """Whether one word (a token) is a laugh or a smiley (:data:`LAUGH`)."""
    return bool(_LAUGH_WORD.fullmatch(word))


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ?), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def parse_prefix(text: str, limit: int = PARSE_CHARS) -> str:
    """The start of ``text`` that spaCy reads: all of it up to ``limit`` characters, else cut at
    the last sentence end (or space) before the limit, so no clause is parsed half."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), head.rfind("\n"))
    if cut < limit // 2:
        cut = head.rfind(" ")
    return head[:cut + 1] if cut > 0 else head


def parse_span(role: str, text: str) -> str:
    """What spaCy reads of an utterance by ``role``: a user's first :data:`PARSE_CHARS`, the
    agent's first :data:`AGENT_PARSE_CHARS` (both cut as :func:`parse_prefix` cuts). Whoever
    reads a stored or replayed turn's topics or traits reads this span, so the same text is one
    parse."""
    return parse_prefix(text, AGENT_PARSE_CHARS if role == "agent" else PARSE_CHARS)


def tail_pieces(text: str, size: int = PIECE_CHARS, most: int = MAX_PIECES) -> list[str]:
    """The parts of a long message past what its own vector reads, in pieces of about ``size``
    characters cut at sentence ends (or spaces), so a 256-token embedder window does not hide
    them; none for a message of ``size`` characters or fewer.

    Why: a chatbot's users paste documents and get long answers (LongMemEval's haystacks hold
    single messages of 24k characters); a question about their middle must find the message by
    meaning too, not by its words alone. A last piece shorter than half of ``size`` is taken as
    the message's last ``size`` characters instead (overlapping the one before): a scrap of a
    few words matches too many queries."""
    if len(text) <= size:
        return []
    pieces: list[str] = []
    rest = text[len(parse_prefix(text, size)):]
    while rest.strip() and len(pieces) < most:
        rest = rest.lstrip()
        piece = parse_prefix(rest, size)
        pieces.append(piece.strip())
        rest = rest[len(piece):]
    if pieces and len(pieces[-1]) < size // 2:
        tail = text[-size:]
        pieces[-1] = tail[tail.find(" ") + 1:].strip()
    return [p for p in pieces if p]


def digest(text: str) -> int:
    """A short fingerprint of an embedded text, kept in its vector's metadata: a process whose
    copy holds an item under the same id can tell that another process stored new words (and
    so a new vector) under it, without fetching the vector (:mod:`memory.backends.cached`)."""
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF
