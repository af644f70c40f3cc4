"""Does the agent's reply contradict who it is? Checked against its card and its established traits.

Without an LLM, two kinds of contradiction are caught, the ones that make an agent's persona drift:
- **exclusive subjects**: a reply trait about the agent's name, home, job or age that differs from
  what the card or an established trait says ("My name is Bob." from an agent called Kindred);
- **polarity flips**: a sentence of the reply's trait that says nearly what a known fact says but
  with the negation flipped ("I can browse the web." against "I cannot browse the internet."): the
  negations differ and, once removed, the embeddings have cosine ≥ ``flip_similarity``
  (:class:`ConsistencyConfig`, 0.75: "I like jazz" / "I like rock music" sit at 0.62).
The graph regenerates the reply once when one is found (``graphs/nodes/check_persona.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from memory.config import ComponentConfig
from memory.embeddings import Embedder
from memory.text import split_sentences
from personas.bank import EXCLUSIVE_SUBJECTS
from personas.extract.rules import subject_of

__all__ = ["ConsistencyConfig", "Contradiction", "find_contradiction", "own_trait",
           "read_reply_trait", "speaks_of_itself"]


class ConsistencyConfig(ComponentConfig):
    """When a reply's trait contradicts a known fact (see the module docstring)."""

    flip_similarity: float = Field(
        default=0.75, ge=0, le=1,
        description='cosine of the positive forms above which a flipped negation contradicts '
                    '("I like jazz" / "I like rock music" sit at 0.62)')
    same_fact_similarity: float = Field(
        default=0.85, ge=0, le=1,
        description="on an exclusive subject, a trait this close to the fact says the same")
    echo_similarity: float = Field(
        default=0.8, ge=0, le=1,
        description="an agent trait this close to one of the user's traits repeats the user's fact "
                    "(\"My dog is called Biscuit\" said back): not a trait of the agent")

_NEGATION = re.compile(r"\b(not|no|never|cannot|can't|don't|doesn't|didn't|won't|isn't|aren't|"
                       r"wasn't|haven't|hasn't|n't)\b|n't\b", re.IGNORECASE)
_NAME = re.compile(r"\b(?:my name is|i'?m called|call me|(?:i'?m|i am)\b[^.!?]{0,40}?\bnamed)"
                   r"\s+[\"'“]?([A-Z][\w-]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Contradiction:
    """The reply's trait, the known fact it contradicts, and why."""

    trait: str
    fact: str
    reason: str  # "name" | "exclusive:<subject>" | "negation" | "the user's fact"

    def as_dict(self) -> dict[str, str]:
        return {"trait": self.trait, "fact": self.fact, "reason": self.reason}


_STOP = frozenset({"i", "am", "a", "an", "the", "in", "at", "on", "my", "is", "to", "of", "and",
                   "live", "work", "as", "by", "near", "with", "years", "old", "name", "called"})


def _word_set(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _content(text: str) -> set[str]:
    return _word_set(text) - _STOP


def _restates(trait: str, fact: str) -> bool:
    """Whether one says all the other says ("I live in London, by the river" / "I live in London")."""
    a, b = _content(trait), _content(fact)
    return bool(a and b) and (a <= b or b <= a)


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


_UNNEGATE = ((re.compile(r"\bcannot\b|\bcan't\b", re.I), "can"), (re.compile(r"\bwon't\b", re.I), "will"),
             (re.compile(r"\b(do|does|did|is|are|was|were|have|has)n't\b", re.I), r"\1"),
             (re.compile(r"\b(not|never|no)\b\s*", re.I), ""))


def _positive(text: str) -> str:
    """The sentence with its negation removed ("I cannot swim" → "I can swim")."""
    for pattern, repl in _UNNEGATE:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text).strip()


_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself)\b", re.IGNORECASE)
_FUTURE = re.compile(r"\b(?:will|'ll|shall|going to|gonna)\b", re.IGNORECASE)
# What an assistant says of itself while it serves, not who it is: what it cannot do as a model
# ("I don't have personal opinions or beliefs."), offers and deliveries ("I have got some tips to
# help you out.", "I have included the address…"), apologies for its errors, hopes for the user.
# Why: of the agent traits that passed the first-person test in eight LongMemEval haystacks (the
# dev split's even questions 0-14), 257 of 359 were these; they became the agent's persona in the
# prompt, and with the 135M local model its own "I don't have personal preferences or recipes."
# came back as who it is in every later reply. In LoCoMo's 1,188 agent-side traits (a person
# talking) the same rules catch 15, all support or offers ("I am here to support you.", "I'm
# happy to help."), no fact about the speaker (measured 2026-12-05).
_SERVICE_TALK = re.compile(r"""
    \bas\ an?\ (?:ai|artificial|language\ model|assistant|virtual)\b
  | \blanguage\ model\b | \bartificial\ intelligence\b | \bchatbot\b
  | \bpersonal\ (?:opinions?|beliefs?|experiences?|preferences?|emotions?|feelings?|memories
                  |values|views|taste|favou?rites|thoughts|knowledge|information)\b
  | \b(?:opinions?|beliefs?|views|feelings|emotions|preferences)\ or
      \ (?:opinions?|beliefs?|views|feelings|emotions|preferences|values)\b
  | \breal-time\b | \bphysical\ (?:body|form|area|setup|presence)\b | \breal\ world\b
  | \b(?:misunderstanding|confusion|clarify)\b
  | \bI\ (?:have|'ve)\ got\ (?:some|a\ few|you|all\ those)\b
  | \bI\ (?:have|'ve)\ (?:found|included|updated|recorded|listed|compiled|put\ together|prepared
                       |searched|added)\b
  | \bI\ (?:have\ )?(?:made|make)\ (?:a|an)\ (?:error|mistake)\b | \bmade\ errors\b
  | \bI(?:'d|\ would)\ be\ (?:happy|glad|delighted)\ to\b
  | \bI(?:'m|\ am)\ (?:(?:always\ )?here\ to|ready\ to\ help|happy\ to\ (?:help|continue|assist)
                    |glad\ I\ could)\b
  | \b(?:help|assist)\ you\b | \bI\ hope\ (?:this|you|your)\b | \bmore\ information\b
  | \b(?:my|the)\ (?:previous|earlier|last)\ (?:response|answer|message|reply)\b | \bmy\ pleasure\b
  | \bI\ (?:do\ not|don't|cannot|can't|am\ not\ able\ to|am\ unable\ to)\ (?:have\ )?(?:the\ )?
      (?:ability|capability|capacity|access|direct\ (?:access|knowledge)
       |(?:any\ |specific\ |the\ specific\ )?(?:information|knowledge))\b
  | \bI\ (?:do\ not|don't)\ (?:hold|possess)\b | \bI\ am\ unable\b
  | \bI\ (?:am|'m)\ not\ (?:capable|able|aware\ of\ (?:any|specific))\b
  | \bI\ (?:cannot|can't|can\ not)\ (?:provide|predict|speculate|recall|attend|visit|express|give
                                   |guarantee|browse|access)\b
  | \bI\ can\ (?:provide|offer|assist|suggest|recommend|explain|cite|estimate|create|get\ started
                |help)\b
  | \bpredict\ the\ future\b""", re.IGNORECASE | re.VERBOSE)


def speaks_of_itself(text: str, said: str = "") -> bool:
    """Whether a trait the agent said names the agent (I, me, my…) and is neither a promise
    about the conversation ("I'll look that up") nor an assistant's talk about its service
    ("As an AI, I don't have personal opinions.", "I have got some tips for you."). ``said``:
    the utterance the trait was read from, whose sentence holding the trait is tested too.

    Why the agent's traits need it and the user's do not: an assistant's replies state facts
    about the world ("Tomatoes need six hours of sun."), and the extractor's fallback keeps a
    statement without "I" because a person who says it of themself is telling something about
    themself. Every agent trait passes here, in a chat turn (:func:`own_trait`) and in a
    replay; without it half of a LongMemEval history's traits were world facts filed as the
    agent's persona. Why the sentence too: the extractor keeps a clause, and the clause may
    leave out what made its sentence a disclaimer ("As a chatbot designed to assist with
    cooking, I don't have recipes or ingredients available." gave "I don't have recipes or
    ingredients available.", which the local model then read in every later prompt as who it
    is, and refused recipes).
    """
    if not _FIRST_PERSON.search(text) or _FUTURE.search(text) or _SERVICE_TALK.search(text):
        return False
    source = _source_sentence(text, said) if said else ""
    return not (source and _SERVICE_TALK.search(source))


def _source_sentence(trait: str, said: str) -> str:
    """The sentence of ``said`` that shares most of the trait's words (the first of equals; ""
    when none shares half of them: the trait was reworded past recognition, and only its own
    words are tested)."""
    words = _word_set(trait)
    shares = [(len(words & _word_set(s)) / max(len(words), 1), s) for s in split_sentences(said)]
    share, best = max(shares, key=lambda x: x[0], default=(0.0, ""))
    return best if share >= 0.5 else ""


def own_trait(trait: str, user_facts: Sequence[str], embedder: Embedder, *, user_name: str = "",
              said: str = "", config: ConsistencyConfig | None = None) -> bool:
    """Whether a trait found in the agent's own reply says something about the agent: not a
    promise about the conversation ("I'll remember that…"), not the user's fact said back to them
    ("My dog is called Biscuit." after the user said so), not about the user by name."""
    return read_reply_trait(trait, user_facts, embedder, user_name=user_name, said=said,
                            config=config)[0]


def read_reply_trait(trait: str, user_facts: Sequence[str], embedder: Embedder, *,
                     user_name: str = "", said: str = "", config: ConsistencyConfig | None = None
                     ) -> tuple[bool, Contradiction | None]:
    """Whose a trait found in the agent's reply is, in one look (one encode of the trait beside
    the user's facts): whether it is the agent's own (:func:`own_trait`), and, when it claims
    one of the user's facts for the agent in the first person ("I work as a nurse at the
    hospital." after the user said so; "My dog is called Biscuit."), that fact as a
    contradiction to regenerate.

    Why the claim: the 135M local model spoke as the user ("I'm Sam. I live in Porto…" to "What
    do you know about me?"); the trait was rightly not stored as the agent's, but the reply was
    sent. "I love that you live in Porto" says it to the user, of the user: no claim."""
    if not speaks_of_itself(trait, said):
        return False, None
    named = bool(user_name) and re.compile(rf"\b{re.escape(user_name)}\b", re.IGNORECASE).search
    # sentence by sentence: a trait of several clauses ("I have got a beagle named Biscuit. I
    # am Max, Sam's dog.") claimed the user's dog in one and was let through for the user's
    # name in the other
    own_words = [s for s in split_sentences(trait) or [trait]
                 if _FIRST_PERSON.search(s) and not (named and named(s))]
    claims = _users_facts(own_words, user_facts, embedder, config or ConsistencyConfig())
    own = not claims and not (named and named(trait))
    claim = next(((s, fact) for s, fact in claims if not _TO_YOU.search(s)), None)
    return own, (Contradiction(claim[0], claim[1], "the user's fact") if claim else None)


_TO_YOU = re.compile(r"\byou(?:r|rs|rself)?\b", re.IGNORECASE)


def _users_facts(sentences: Sequence[str], user_facts: Sequence[str], embedder: Embedder,
                 config: ConsistencyConfig) -> list[tuple[str, str]]:
    """Each of ``sentences`` that says one of the user's facts again (cosine at least
    ``echo_similarity``, or all of one's content in the other), with that fact; one encode."""
    if not user_facts or not sentences:
        return []
    vectors = np.asarray(embedder.embed([*sentences, *user_facts]))
    sims = vectors[len(sentences):] @ vectors[:len(sentences)].T  # facts × sentences
    found = []
    for n, sentence in enumerate(sentences):
        best = int(np.argmax(sims[:, n]))
        fact = user_facts[best] if float(sims[best, n]) >= config.echo_similarity else next(
            (f for f in user_facts if _restates(sentence, f)), None)
        if fact is not None:
            found.append((sentence, fact))
    return found


def find_contradiction(trait: str, facts: Sequence[str], embedder: Embedder, *,
                       agent_name: str = "", reply: str = "", user_name: str = "",
                       config: ConsistencyConfig | None = None) -> Contradiction | None:
    """The first known fact ``trait`` contradicts, or None. ``reply``, when given, is searched
    for a name the agent gives itself (the trait may have cut that clause), ``user_name``'s
    among them ("I'm Sam." to Sam: the small local model spoke as the user)."""
    said = _NAME.search(reply or trait)
    if said and agent_name and said.group(1).lower() != agent_name.split()[0].lower():
        return Contradiction(said.group(0).strip(), f"My name is {agent_name}.", "name")
    if user_name and agent_name and user_name.lower() != agent_name.split()[0].lower():
        claimed = re.search(rf"\b(?:i'?m|i am|my name is)\s+{re.escape(user_name)}\b(?!['’]s)",
                            reply or trait, re.IGNORECASE)
        if claimed:
            return Contradiction(claimed.group(0), f"My name is {agent_name}.", "name")
    if not facts:
        return None
    config = config or ConsistencyConfig()
    vectors = np.asarray(embedder.embed([trait, *facts]))
    sims = vectors[1:] @ vectors[0]
    # only what the agent says about itself can contradict who it is: "The cat's name is Pixel."
    # is about the user's cat, whatever facts the agent holds
    for sentence in (s for s in split_sentences(trait) if _FIRST_PERSON.search(s)):
        flips = [i for i, fact in enumerate(facts) if _negated(fact) != _negated(sentence)]
        if not flips:
            continue
        # compare the positive forms: embeddings weigh a "not" heavily
        positive = np.asarray(embedder.embed([_positive(sentence)]
                                             + [_positive(facts[i]) for i in flips]))
        for i, sim in zip(flips, positive[1:] @ positive[0], strict=True):
            if sim >= config.flip_similarity:
                return Contradiction(sentence, facts[i], "negation")
    subject = subject_of(trait)
    if not _FIRST_PERSON.search(trait):
        return None
    for fact, sim in sorted(zip(facts, sims, strict=True), key=lambda p: -p[1]):
        if (subject in EXCLUSIVE_SUBJECTS and subject_of(fact) == subject
                and sim < config.same_fact_similarity and not _restates(trait, fact)):
            return Contradiction(trait, fact, f"exclusive:{subject}")
    return None
