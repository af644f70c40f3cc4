"""Long-term event memory (LD-Agent) and the summarisers that turn a session into an event.

When a session ends, its turns become one event: a short summary, the session's topics (noun
lemmas), the time of its last turn and the ids of its turns (so a retrieved event can point back at
what was actually said). Two summarisers: :class:`LLMSummariser` (LD-Agent's prompt; good with a
capable chat model) and :class:`ExtractiveSummariser`, which needs no LLM and is the default with
the tiny local model, whose abstractive summaries are mostly invented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import Field

from memory.backends import Stores
from memory.backends.base import Record, VectorHit
from memory.config import ComponentConfig
from memory.embeddings import Embedder
from memory.scope import Scope, as_scope
from memory.text import LAUGH, digest, parse_prefix, split_sentences
from memory.turns import TurnIndex
from memory.types import Event, Turn
from memory.unit import UnitOfWork

__all__ = ["EventMemory", "ExtractiveSummariser", "LLMSummariser", "Summariser",
           "SummariserConfig"]


class SummariserConfig(ComponentConfig):
    """Which summariser turns a finished session into an event, and how long its summary is."""

    kind: Literal["auto", "extractive", "llm"] = Field(
        default="auto", description="auto: the LLM when the chat model is capable, else extractive")
    max_words: int = Field(default=40, ge=5, description="extractive summaries: word limit")
    near_repeat: float = Field(default=0.9, ge=0, le=1, description="extractive: a sentence this "
                                                                    "close to a chosen one is left "
                                                                    "out")
    content_bonus: float = Field(default=0.02, ge=0, description="extractive: score per content "
                                                                 "word (up to 8)")


class Summariser(Protocol):
    """Turns a finished session into a short summary."""

    def summarise(self, turns: Sequence[Turn]) -> str: ...

    def summarise_ahead(self, turns: Sequence[Turn]) -> str | None:
        """The summary :meth:`summarise` will give, when it costs no model call (None: unknown),
        so a bulk ingest can encode the summaries of the sessions it closes in one batch."""
        ...


class ExtractiveSummariser:
    """The session's most central statements, told in the third person, within a word limit. No LLM.

    Score of a sentence = cosine of its turn's vector to the centroid of the candidates' (what the
    session was about) + a small bonus per content word. The turn's vector is its key's, made when
    the turn was stored (:meth:`TurnIndex.key_text`): a cache hit, where encoding each sentence
    was most of a session's consolidation. Candidates are the user's statements when there are any
    (questions and small talk carry no event; the agent's replies restate or, with a small model,
    invent). The chosen sentences keep their order and are reported, not quoted: "Alice said their
    cat is called Pixel and that they work as a nurse." Only pronouns change (singular "they", whose
    verbs agree with "I"'s), so the summary never states anything that was not said.
    """

    def __init__(self, embedder: Embedder, *, max_words: int | None = None,
                 config: SummariserConfig | None = None) -> None:
        self._embedder = embedder
        self.config = config or SummariserConfig()
        self.max_words = max_words or self.config.max_words

    def summarise_ahead(self, turns: Sequence[Turn]) -> str | None:
        """:meth:`summarise` (it needs no model; its turns' vectors are in the cache by then)."""
        return self.summarise(turns)

    def summarise(self, turns: Sequence[Turn]) -> str:
        sents = [(t, s) for t in turns for s in _sentences(t.text)
                 if not _introduces(s, t.speaker)]
        asking = {id(t) for t, s in sents if s.endswith("?")}
        statements = [(t, s) for t, s in sents if not s.endswith("?")]
        sents = statements or sents
        if any(t.role == "user" for t, _ in sents):
            sents = _requested_left_out([(t, s) for t, s in sents if t.role == "user"], asking)
        if not sents:
            return ""
        owners = {id(t): t for t, _ in sents}  # each turn once, in order
        rows = {key: row for row, key in enumerate(owners)}
        owner = [rows[id(t)] for t, _ in sents]
        vecs = self._embedder.embed([TurnIndex.key_text(t) for t in owners.values()])[owner]
        centroid = vecs.mean(axis=0)
        centroid /= float(np.linalg.norm(centroid)) or 1.0
        scores = vecs @ centroid
        for i, (_, sent) in enumerate(sents):
            scores[i] += self.config.content_bonus * min(len(_content_words(sent)), 8)
        chosen: list[int] = []
        words = 0
        for i in np.argsort(-scores, kind="stable"):
            n = len(sents[i][1].split())
            if words and words + n > self.max_words:
                continue
            if any(owner[i] != owner[j] and float(vecs[i] @ vecs[j]) > self.config.near_repeat
                   for j in chosen):
                continue  # a near-repeat adds nothing (one turn's sentences share its vector)
            chosen.append(int(i))
            words += n
            if words >= self.max_words:
                break
        others = {t.role: t.speaker for t in turns}
        return _reported([(sents[i][0], _clip(sents[i][1], self.max_words)) for i in sorted(chosen)],
                         others)


_OPENING = re.compile(r"^(?:(?:hi|hey|hello|oh|ah|well|so|yes|yeah|no|ok|okay|actually|anyway|"
                      r"haha|lol|hmm|wow|great|sure|right)\b[,!.]*\s+)+", re.IGNORECASE)
_LAUGH_AFTER = re.compile(rf"[\s,]+{LAUGH}[\s.!?]*$", re.IGNORECASE)
_GREETING = re.compile(r"^(?:hi|hey|hello|thanks|thank you|bye|goodbye|good (?:morning|night|"
                       r"evening)|ok|okay|yes|no|sure|cool|nice|great|wow)\b", re.IGNORECASE)
_INTRODUCTION = re.compile(r"^(?:i'm|i’m|i am|my name is|my name's|my name’s|call me|this is)\s+"
                           r"(?P<name>[^\W\d_][\w'-]*)(?P<rest>.*)$", re.IGNORECASE)
_PLEASED = re.compile(r"^(?:(?:it's |it is )?(?:nice|good|great|glad|pleased|lovely) to "
                      r"(?:meet|see|chat|talk)|by the way|btw)\b", re.IGNORECASE)
_PERSON = [(re.compile(rf"\b{a}\b", re.IGNORECASE), b) for a, b in (
    ("i'm", "they're"), ("i am", "they are"), ("i was", "they were"), ("i've", "they've"),
    ("i'd", "they'd"), ("i'll", "they'll"), ("myself", "themselves"), ("mine", "theirs"),
    ("my", "their"), ("me", "them"), ("we're", "they're"), ("we are", "they are"),
    ("we were", "they were"), ("we've", "they've"), ("ourselves", "themselves"), ("ours", "theirs"),
    ("our", "their"), ("us", "them"), ("we", "they"), ("i", "they"))]
_LOWER_FIRST = frozenset({"they", "their", "them", "the", "a", "an", "it", "this", "that",
                          "there", "he", "she", "his", "her", "its", "theirs", "these", "those"})


_FRAGMENT_WORDS = 6  # longer: a sentence, whatever its verbs


def _requested_left_out(statements: list[tuple[Turn, str]], asking: set[int]
                        ) -> list[tuple[Turn, str]]:
    """``statements`` less the fragments without a verb of a message that asks something
    ("What should I cook tonight? Something quick."): they say what was asked for, not what
    happened, and the summary read "…and that something quick". Only the user's short
    sentences of such messages are tagged (spaCy's tagger, no parse): a replayed assistant
    history asks in nearly every message, and tagging all of its sentences made LongMemEval's
    ingest 25% slower."""
    maybe = [n for n, (t, s) in enumerate(statements)
             if id(t) in asking and len(s.split()) <= _FRAGMENT_WORDS]
    if not maybe:
        return statements
    from memory.nlp import has_verb, shared_parser

    docs = shared_parser().parse_many([statements[n][1] for n in maybe], dependencies=False)
    drop = {n for n, doc in zip(maybe, docs, strict=True)
            if not has_verb(doc)}
    return [pair for n, pair in enumerate(statements) if n not in drop]


def _sentences(text: str) -> list[str]:
    """The candidate sentences of one message: a pasted document's start, interjections
    stripped, small talk left out."""
    sents = (_opening_stripped(s.strip()) for s in split_sentences(parse_prefix(text)))
    return [s for s in sents if s and not _small_talk(s)]


def _opening_stripped(sentence: str) -> str:
    """"Hi! Oh, my cat…" → "my cat…" (interjections before the statement), and a laugh after it
    ("I'm so tired today lol" was reported as "…they're so tired today lol")."""
    return _LAUGH_AFTER.sub("", _OPENING.sub("", sentence)).strip()


def _introduces(sentence: str, speaker: str) -> bool:
    """"I'm Sam.", "My name is Sam, nice to meet you." said by Sam: the summary names the
    speaker already, and told in the third person it read "Sam said they're Sam"."""
    found = _INTRODUCTION.match(sentence)
    if found is None or found["name"].lower() != speaker.lower():
        return False
    rest = found["rest"].strip(" ,.!;:-")
    return not rest or _small_talk(rest) or bool(_PLEASED.match(rest))


def _small_talk(sentence: str) -> bool:
    return len(sentence.split()) <= 3 and bool(_GREETING.match(sentence)) or \
        len(re.findall(r"[A-Za-z]+", sentence)) < 2


def _third_person(sentence: str, listener: str | None) -> str:
    """The speaker's words with their first person as singular "they" (and "you" as the
    listener's name, when known)."""
    text = sentence.rstrip(" .!;:")
    for pattern, replacement in _PERSON:
        text = pattern.sub(replacement, text)
    if listener:
        text = re.sub(r"\byou (?:all|guys|two)\b", listener, text, flags=re.IGNORECASE)
        text = re.sub(r"\byour\b", f"{listener}'s", text, flags=re.IGNORECASE)
        text = re.sub(r"\byou\b", listener, text, flags=re.IGNORECASE)
    first, _, rest = text.partition(" ")
    if first.lower() in _LOWER_FIRST or first.lower() in _common_words():
        text = f"{first.lower()} {rest}".strip()
    return text


def _common_words() -> frozenset[str]:
    """spaCy's English stop words: a sentence's first word that is one is not a name."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def _display(name: str) -> str:
    return name.capitalize() if name.isalpha() and name.islower() else name


def _reported(chosen: Sequence[tuple[Turn, str]], speakers: dict[str, str]) -> str:
    """"Alice said A, that B and that C." per speaker, in the order they spoke."""
    groups: list[tuple[Turn, list[str]]] = []
    for turn, sentence in chosen:
        other = speakers.get("agent" if turn.role == "user" else "user")
        said = _third_person(sentence, _display(other) if other else None)
        if groups and groups[-1][0].speaker == turn.speaker:
            groups[-1][1].append(said)
        else:
            groups.append((turn, [said]))
    parts = []
    for turn, clauses in groups:
        body = clauses[0] if len(clauses) == 1 else (
            ", that ".join(clauses[:-1]) + " and that " + clauses[-1])
        parts.append(f"{_display(turn.speaker)} said {body}.")
    return " ".join(parts)


class LLMSummariser:
    """LD-Agent's abstractive summary ("the main events ... within 20 words") from a chat model.

    ``prompt`` is a template with a ``{dialogue}`` field; Kindred passes the one in
    ``graphs.prompts`` so that every prompt lives in one place.
    """

    def __init__(self, chat_model: Any, prompt: str) -> None:
        self._model = chat_model
        self._prompt = prompt

    def summarise(self, turns: Sequence[Turn]) -> str:
        from langchain_core.messages import HumanMessage

        dialogue = "\n".join(f"{t.speaker}: {t.text}" for t in turns)
        reply = self._model.invoke([HumanMessage(self._prompt.format(dialogue=dialogue))])
        return str(reply.content).strip()

    def summarise_ahead(self, turns: Sequence[Turn]) -> str | None:
        """None: a summary ahead would be a second model call per session."""
        return None


def _content_words(sentence: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", sentence) if len(w) > 3]


def _clip(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]) + "…"


_KIND = "event"


class EventMemory:
    """Stores events (records + a vector of the summary) and finds them again."""

    def __init__(self, stores: Stores, embedder: Embedder) -> None:
        self._stores, self._embedder = stores, embedder

    def add(self, who: Scope | str, event: Event, *, unit: UnitOfWork | None = None) -> None:
        """Store (or replace: ids derive from the session) one event."""
        scope = as_scope(who)
        own = unit is None
        unit = unit or UnitOfWork(self._stores)
        vec = self._embedder.embed([event.summary])
        unit.put(scope, [Record(_KIND, event.id, {"summary": event.summary,
                                                 "topics": list(event.topics),
                                                 "turn_ids": list(event.turn_ids)},
                                ts=event.ts, session=event.session_id,
                                conversation=event.conversation)])
        unit.upsert_vectors("events", scope, [event.id], vec,
                            [{"session_id": event.session_id, "ts": event.ts,
                              "digest": digest(event.summary)}])
        if own:
            unit.commit()

    def delete(self, who: Scope | str, ids: Sequence[str], *,
               unit: UnitOfWork | None = None) -> None:
        """Delete events for good (record and vector)."""
        if not ids:
            return
        scope = as_scope(who)
        own = unit is None
        unit = unit or UnitOfWork(self._stores)
        unit.delete(scope, _KIND, list(ids)).delete_vectors("events", scope, list(ids))
        if own:
            unit.commit()

    def search(self, who: Scope | str, vector: np.ndarray, k: int) -> list[VectorHit]:
        """The ``k`` nearest events, nearest first, each with its summary and, as metadata, its
        session, time, topics and turns (from its record: the index holds no words)."""
        scope = as_scope(who)
        hits = self._stores.vectors.query("events", scope, vector, k)
        found = {r.id: self._event(r) for r in self._stores.records.get_many(
            scope, _KIND, [h.id for h in hits])} if hits else {}
        return [VectorHit(h.id, found[h.id].summary, h.similarity,
                          {"session_id": found[h.id].session_id, "ts": found[h.id].ts,
                           "topics": list(found[h.id].topics),
                           "turn_ids": list(found[h.id].turn_ids)})
                for h in hits if h.id in found]

    def list(self, who: Scope | str) -> list[Event]:
        return [self._event(r) for r in self._stores.records.list(as_scope(who), _KIND)]

    def get(self, who: Scope | str, event_id: str) -> Event | None:
        found = self._stores.records.get(as_scope(who), _KIND, event_id)
        return self._event(found) if found else None

    @staticmethod
    def _event(r: Record) -> Event:
        return Event(id=r.id, session_id=r.session, summary=r.value["summary"],
                     topics=tuple(r.value.get("topics") or ()), ts=r.ts,
                     turn_ids=tuple(r.value.get("turn_ids") or ()), conversation=r.conversation)
