"""A user taking back what they just said: "I was just kidding about the bike.", "jk", "Scratch
that." The traits that statement gave are retracted, not kept as facts about the user.

Why only traits first said in the open session: "just kidding" answers the last few lines, not a
fact the user has told for weeks (a trait seen in an earlier session is left alone; its newest
mention is the turn the user takes back, which stays in the turn log like every turn). Why
rules: the phrases are few and fixed, and a take-back that is missed leaves the trait as it was
before this module existed, while one read where there is none would drop a fact ("No kidding!"
and "I'm not joking" are not take-backs).

Which trait: the one whose words share a noun with what the message names ("about the bike"),
else, when it names nothing, the one the user's last message gave ("Just kidding!" after a
message that gave none takes nothing back). Nothing when what it names matches no trait of the
session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from personas.bank import Trait

__all__ = ["TakeBack", "retracted", "take_back"]

# chat noise before the phrase: "haha jk", "oh, I was kidding", "ok scratch that", "No, I was
# just kidding" (a "no" only with a comma: "No kidding!" is surprise, not a take-back)
_LEAD = (r"(?:(?:(?:oh|ah|ha(?:ha)+|he(?:he)+|lol|lmao|ok(?:ay)?|well|sorry|um+|hmm+|actually)\b"
         r"|(?:no+|nah|nope)(?:\s+no+)*\s*[,.!]+)[\s,.!]*)*")
_PHRASE = re.compile(
    _LEAD + r"(?:"
    r"(?:i(?:'m|’m|\s+am|\s+was)\s+)?(?:just\s+|only\s+)?(?:kidding|joking)"
    r"|j/?k"
    r"|scratch\s+that"
    r"|i\s+take\s+(?:it|that)\s+back"
    r"|(?:that|it)\s+was\s+(?:just\s+|only\s+)?a\s+joke"
    r")\b(?P<rest>[^.!?]*)",
    re.IGNORECASE)
# what may follow the phrase: nothing but a laugh; a new clause after a comma ("Just kidding,
# I love my job."); or what it takes back ("about the bike"). Anything else is a statement that
# only uses the words ("I was joking with my friends"), not a take-back.
_NOTHING = re.compile(r"[\s!.)(]*(?:(?:lol|ha(?:ha)+|lmao|xd|:\)|:p|;\))[\s!.)(]*)*", re.IGNORECASE)
_CLAUSE = re.compile(r"\s*[,;:\-–—]")
_NAMED = re.compile(r"\s*(?:about|regarding|re|on)\s+(?P<named>\S.*)", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


@dataclass(frozen=True)
class TakeBack:
    """A take-back: what it names ("" for the last thing said) and what the message says after
    it ("Just kidding, I love my job." says "I love my job."), the only words of the message
    that may still hold a trait."""

    named: str
    after: str


def take_back(text: str) -> TakeBack | None:
    """The message's take-back ("I was just kidding about the bike." names "the bike"), None
    when it takes nothing back."""
    sentences = _SENTENCE.findall(text)
    for n, sentence in enumerate(sentences):
        found = _PHRASE.match(sentence.strip())
        if not found:
            continue
        rest, later = found.group("rest"), "".join(sentences[n + 1:]).strip()
        if _NOTHING.fullmatch(rest):
            return TakeBack("", later)
        clause = _CLAUSE.match(rest)
        if clause:
            after = rest[clause.end():].strip() + sentence[len(sentence.rstrip(".!?")):]
            return TakeBack("", " ".join(p for p in (after, later) if p))
        named = _NAMED.match(rest)
        if named:
            return TakeBack(named.group("named").strip(" ,;:!."), later)
    return None


def retracted(named: str, traits: Sequence[Trait], said: Sequence[str],
              topics: Callable[[str], list[str]]) -> list[Trait]:
    """The user traits a take-back naming ``named`` retracts, of the active ``traits``: when it
    names nothing, those the user's last message gave; else those first said in the open
    session (every turn they came from in ``said``, the ids of the session's user turns, in
    order) sharing a noun with ``named`` (``topics`` gives a text's nouns)."""
    if not said:
        return []
    now = set(said)
    said_now = [t for t in traits if t.owner == "user" and t.status == "active"
                and t.source_turn_ids and set(t.source_turn_ids) <= now]
    if not named:
        return [t for t in said_now if said[-1] in t.source_turn_ids]
    wanted = set(topics(named))
    return [t for t in said_now if wanted & set(topics(t.text))]
