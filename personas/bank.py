"""Persona banks: the user's and the agent's traits, per user, persisted, deduplicated.

LD-Agent's banks are append-only lists; Kindred does better on three points:

* **merge**: a trait that says again what a stored trait says (cosine ≥ ``merge_threshold``) is
  the same trait seen again: its count goes up instead of adding a near-duplicate;
* **rehearsal (MaLP)**: a trait starts in the short-term tier and is promoted to long-term once it
  has been seen θ times (default 3); a short-term trait not rehearsed within N sessions expires
  (:mod:`memory.consolidation` holds the policy and where its constants come from);
* **change**: on an exclusive subject (where you live, your job, your name, your age) a newer trait
  supersedes the older one, which stays in the history with its time span (valid from/to); on
  any subject, a trait that says an older one no longer holds ("I'm not vegetarian anymore")
  supersedes it instead of merging with it (:mod:`personas.reversal`), and what else the older
  one said stays a trait.

Records hold counts and history; vectors of active traits are kept for merging (Chroma by default).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from memory.backends import Stores
from memory.backends.base import ListRecords, Record
from memory.consolidation import RehearsalPolicy, names_other_numbers
from memory.embeddings import Embedder
from memory.errors import InvalidInputError
from memory.scope import Scope, as_scope
from memory.text import split_sentences
from memory.types import LaterChange
from memory.unit import UnitOfWork
from personas.extract.base import ExtractedTrait, clean_trait
from personas.extract.rules import subject_of
from personas.reversal import opposed, still_holds

__all__ = ["EXCLUSIVE_SUBJECTS", "Observation", "Owner", "PersonaBank", "Tier", "Trait",
           "facts_of", "record_trait"]

Owner = Literal["user", "agent"]
Tier = Literal["short", "long"]
EXCLUSIVE_SUBJECTS = frozenset({"home", "job", "name", "age"})
_KIND = "trait"
_FIELDS = ("text", "subject", "first_seen", "last_seen", "count", "tier", "last_session",
           "valid_to", "superseded_by")


@dataclass(frozen=True)
class Trait:
    """One persona trait with its history fields."""

    id: str
    owner: Owner
    text: str
    subject: str
    first_seen: float
    last_seen: float
    count: int
    tier: Tier
    source_turn_ids: tuple[str, ...] = ()
    last_session: int = 0
    status: Literal["active", "superseded", "expired", "retracted"] = "active"
    valid_to: float | None = None
    superseded_by: str | None = None
    merged: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Observation:
    """One trait said by ``owner`` at ``ts``, in the turns ``turn_ids``."""

    owner: Owner
    trait: ExtractedTrait
    ts: float
    turn_ids: tuple[str, ...] = ()


def facts_of(trait: ExtractedTrait) -> list[ExtractedTrait]:
    """The facts a trait states, one per sentence, each with its own subject: the bank keeps
    one trait per fact.

    Why: an extractor returns one trait per utterance, and "Hi! I'm Sam. I have two dogs and a
    cat. I work as a nurse in Leeds." was one trait about pets, so the job was not a job (a
    move to another job would not supersede it) and a reversal of one fact ended all three. A
    sentence that points back ("I have a dog named Rex. He is a beagle.", "…I love it there.")
    stays with the one before it: alone it says nothing. A trait of one fact is kept as given
    (its subject too)."""
    facts: list[str] = []
    for sentence in split_sentences(trait.text):
        if len(sentence) <= 3:
            continue
        if facts and _POINTS_BACK.search(sentence):
            facts[-1] = f"{facts[-1]} {sentence}"
        else:
            facts.append(sentence)
    if len(facts) <= 1:
        return [trait]
    return [ExtractedTrait(f, subject_of(f)) for f in facts]


# a sentence that opens with, or holds as an object, a word standing for something said before
_POINTS_BACK = re.compile(r"^(?:he|she|it|its|they|their|that|this|there|these|those|his|her)\b"
                          r"|\b(?:it|them|him|there)\b", re.IGNORECASE)


class _Batch:
    """The bank as one write has left it so far (an :meth:`PersonaBank.observe_many` call, a
    correction, a flush's expiries): its active traits, the records it changed, the vectors it
    added (not stored yet) and those it ended; :meth:`PersonaBank._write` stores it."""

    def __init__(self, traits: Sequence[Trait]) -> None:
        self.active = {t.id: t for t in traits}
        self.changed: dict[str, Trait] = {}
        self.added: dict[str, np.ndarray] = {}
        self.dropped: set[str] = set()
        self.said_in: dict[str, int] = {}  # trait id → the observation of this batch it came of

    def update(self, trait: Trait) -> Trait:
        self.active[trait.id] = self.changed[trait.id] = trait
        return trait

    def add(self, trait: Trait, vector: np.ndarray) -> Trait:
        self.added[trait.id] = vector
        return self.update(trait)

    def end(self, trait: Trait) -> None:
        self.active.pop(trait.id, None)
        self.changed[trait.id] = trait
        if trait.id not in self.added:  # one added and ended in this batch was never stored
            self.dropped.add(trait.id)


def _normal(text: str) -> str:
    return " ".join(text.lower().strip(" .!").split())


def _meta(owner: str, subject: str) -> dict:
    """What a trait's vector carries: whose (the only filter) and about what. Neither changes
    when a trait is seen again, so a merge writes its record only, not the vector's metadata
    (two Chroma calls a turn, about 8 ms of CPU each); the turns it came from are in the record."""
    return {"owner": owner, "subject": subject}


class PersonaBank:
    """Both banks (``owner`` = user or agent) for every user, over the shared stores."""

    def __init__(self, stores: Stores, embedder: Embedder,
                 policy: RehearsalPolicy | None = None) -> None:
        self._stores, self._embedder = stores, embedder
        self.policy = policy or RehearsalPolicy()

    @property
    def merge_threshold(self) -> float:
        return self.policy.ltm_min_similarity

    def observe(self, who: Scope | str, owner: Owner, trait: ExtractedTrait, ts: float,
                turn_ids: tuple[str, ...] = (), session_no: int = 0, *,
                correction: bool = False) -> Trait:
        """Record that ``trait`` was said at ``ts``: rehearse, supersede or add. Returns the result
        (of its first fact, when it states several: :func:`facts_of`; :meth:`observe_many` gives
        all).

        Matching (MaLP): a short-term trait by edit distance, a long-term one by embedding; a
        short-term near-duplicate by embedding too, so paraphrases are merged, not piled up.
        With ``correction`` (the user corrected the agent), a matching trait with other words is
        replaced instead ("my sister is called Ana" corrects "... Anna"); the old one is history.
        """
        return self.observe_many(who, [Observation(owner, trait, ts, tuple(turn_ids))],
                                 session_no, correction=correction)[0]

    def observe_many(self, who: Scope | str, seen: Sequence[Observation], session_no: int = 0,
                     *, correction: bool = False, unit: UnitOfWork | None = None,
                     retracting: Collection[str] = (), at: float = 0.0) -> list[Trait]:
        """:meth:`observe` each of ``seen`` in order, as one unit of work: the result of each of
        their facts (:func:`facts_of`), in order.
        ``retracting``: ids of traits the user took back ("I was just kidding"), ended first
        (status ``retracted`` at ``at``, their history kept, their vectors gone), so nothing
        observed after merges into one or supersedes it.

        Why: a replayed session carries a trait in one utterance of two or three, and observed
        one at a time each listed the bank, queried the index and committed its own transaction
        (a LongMemEval haystack: 211 of each). Here the bank is listed once, the traits are
        encoded in one batch and the writes are one transaction (with ``unit``, the caller's:
        a run's turns and their traits land together). Each trait is matched against the
        bank as the ones before it left it: the index as stored, less the vectors this batch
        ended, plus the traits it added, so the outcome is the one of observing them in turn.
        """
        scope = as_scope(who)
        if not seen and not retracting:
            return []
        batch = _Batch(self.list(scope))
        for trait_id in retracting:
            if trait_id in batch.active:
                batch.end(_ended(batch.active[trait_id], "retracted", at))
        facts = [(n, Observation(s.owner, fact, s.ts, s.turn_ids))
                 for n, s in enumerate(seen) for fact in facts_of(s.trait)]
        vecs = self._embedder.embed([f.trait.text for _, f in facts]) if facts else []
        out = [self._observe_one(scope, batch, f, vec, session_no, correction, said_in=n)
               for (n, f), vec in zip(facts, vecs, strict=True)]
        self._write(scope, batch, unit)
        return out

    def _write(self, scope: Scope, batch: _Batch, unit: UnitOfWork | None = None) -> None:
        """What ``batch`` changed, in ``unit`` (committed here when None): the changed records,
        the vectors it ended gone, those of the traits it added and kept stored."""
        own = unit is None
        unit = unit or UnitOfWork(self._stores)
        unit.put(scope, [_record(t) for t in batch.changed.values()])
        unit.delete_vectors("traits", scope, sorted(batch.dropped))
        added = [t for t in batch.added if t in batch.active]
        if added:
            unit.upsert_vectors("traits", scope, added,
                                np.stack([batch.added[t] for t in added]),
                                [_meta(batch.active[t].owner, batch.active[t].subject)
                                 for t in added])
        if own:
            unit.commit()

    def _observe_one(self, scope: Scope, batch: _Batch, seen: Observation, vec: np.ndarray,
                     session_no: int, correction: bool, *, said_in: int = -1) -> Trait:
        """One fact: rehearse, supersede or add. ``said_in``: the observation of this batch
        that stated it; the facts of one observation (one message) never supersede one
        another ("I moved to Berlin. I used to live in Paris."), and a message that says a
        thing twice ("I love dogs. I love dogs so much.") mentions it once."""
        owner, trait, ts = seen.owner, seen.trait, seen.ts
        active = [t for t in batch.active.values() if t.owner == owner]
        # what the new trait says no longer holds ("I'm not vegetarian anymore"): ended before
        # matching, so it is neither merged into nor left current beside the new trait (a
        # correction too: "Actually, I'm not vegetarian anymore" after a reply that said I was)
        reversed_ = [(old, rest) for old in active
                     if (rest := still_holds(trait.text, old.text)) is not None]
        gone = {old.id for old, _ in reversed_}
        for old in gone:
            batch.end(_ended(batch.active[old], "superseded", ts))
        active = [t for t in active if t.id not in gone]
        match = next((old for old in active if old.tier == "short"
                      and self.policy.stm_match(trait.text, old.text)
                      and not opposed(trait.text, old.text)), None)
        if match is None:
            hit_id, similarity = self._nearest(scope, batch, owner, vec)
            if hit_id is not None and similarity >= self.merge_threshold:
                match = batch.active.get(hit_id)
                if match is None:  # a vector left behind by an interrupted write: repair it
                    batch.dropped.add(hit_id)
                elif not correction and (names_other_numbers(trait.text, match.text)
                                         or opposed(trait.text, match.text)):
                    # "I am 31." is not "I am 30." said again (cosine 0.94), nor "I don't eat
                    # meat." "I eat meat."
                    match = None
        if match is not None and correction and _normal(match.text) != _normal(trait.text) \
                and match.subject == trait.subject:  # a correction touches its own subject only
            new = _replacement(match, trait.text, ts)
            batch.end(_ended(match, "superseded", ts, new.id))
            result = batch.add(new, vec)
        elif match is not None:
            result = batch.update(self._merged(match, ts, seen.turn_ids, session_no,
                                               again=batch.said_in.get(match.id) == said_in))
        else:
            new = Trait(id=f"tr-{uuid.uuid4().hex}", owner=owner, text=trait.text,
                        subject=trait.subject, first_seen=ts, last_seen=ts, count=1,
                        tier=self._tier(1), source_turn_ids=seen.turn_ids,
                        last_session=session_no)
            if trait.subject in EXCLUSIVE_SUBJECTS:
                for old in active:
                    if old.subject == trait.subject and batch.said_in.get(old.id) != said_in:
                        batch.end(_ended(old, "superseded", ts, new.id))
            result = batch.add(new, vec)
        if reversed_:
            self._reversed(batch, reversed_, result, ts)
        batch.said_in[result.id] = said_in
        return result

    def _reversed(self, batch: _Batch, reversed_: Sequence[tuple[Trait, str]], by: Trait,
                  ts: float) -> None:
        """Mark the traits ``by`` reversed as superseded by it (:meth:`later_changes` then shows
        their turns as changed), and keep what else each said as a trait of its own: "I love
        hiking in the Alps." of "I am a vegetarian and I love hiking in the Alps.", with the old
        trait's count, tier, first sighting and turns."""
        rests = [(old, rest) for old, rest in reversed_ if rest]
        vectors = self._embedder.embed([rest for _, rest in rests]) if rests else []
        for old, _ in reversed_:
            batch.changed[old.id] = _ended(old, "superseded", ts, by.id)
        for (old, rest), vec in zip(rests, vectors, strict=True):
            batch.add(Trait(**{**_replacement(old, rest, ts).__dict__,
                               "first_seen": old.first_seen, "last_seen": old.last_seen}), vec)

    def _nearest(self, scope: Scope, batch: _Batch, owner: Owner, vec: np.ndarray
                 ) -> tuple[str | None, float]:
        """The nearest trait vector of ``owner`` as this batch has left the index, and its cosine."""
        best: tuple[str | None, float] = (None, -2.0)
        hits = self._stores.vectors.query("traits", scope, vec, 1 + len(batch.dropped),
                                          {"owner": owner})
        hit = next((h for h in hits if h.id not in batch.dropped), None)
        if hit is not None:
            best = (hit.id, hit.similarity)
        for tid, other in batch.added.items():
            trait = batch.active.get(tid)
            if trait is not None and trait.owner == owner:
                similarity = float(vec @ other)
                if similarity > best[1]:
                    best = (tid, similarity)
        return best

    def _merged(self, current: Trait, ts: float, turn_ids: tuple[str, ...],
                session_no: int = 0, *, again: bool = False) -> Trait:
        count = current.count + (0 if again else 1)  # said again in the same message: once
        ids = tuple(dict.fromkeys([*current.source_turn_ids, *turn_ids]))
        return Trait(**{**current.__dict__, "count": count,
                        "last_seen": max(ts, current.last_seen), "tier": self._tier(count),
                        "source_turn_ids": ids,
                        "last_session": max(current.last_session, session_no), "merged": True})

    def _tier(self, count: int) -> Tier:
        return self.policy.tier(count)  # type: ignore[return-value]

    def flush(self, who: Scope | str, session_no: int, ts: float, *,
              unit: UnitOfWork | None = None) -> list[str]:
        """Expire short-term traits not rehearsed within the flush period (MaLP). Returns their ids.

        Long-term traits are never flushed; expired ones stay in the history. With ``unit`` the
        writes join it (a session's event and the expiries its end brings land together).
        """
        scope = as_scope(who)
        gone = [t for t in self.list(scope) if t.tier == "short"
                and self.policy.expired(t.last_session, session_no)]
        if gone:
            batch = _Batch(gone)
            for t in gone:
                batch.end(_ended(t, "expired", ts))
            self._write(scope, batch, unit)
        return [t.id for t in gone]

    def search(self, who: Scope | str, vector, k: int, owner: Owner | None = None
               ) -> list[tuple[Trait, float]]:
        """The ``k`` active traits nearest to ``vector`` (of one owner, or both), with cosines."""
        scope = as_scope(who)
        hits = self._stores.vectors.query("traits", scope, vector, k,
                                          {"owner": owner} if owner else None)
        found = {r.id: _trait(r) for r in self._stores.records.get_many(
            scope, _KIND, [h.id for h in hits])}
        return [(found[h.id], h.similarity) for h in hits
                if h.id in found and found[h.id].status == "active"]

    def get(self, who: Scope | str, trait_id: str) -> Trait | None:
        found = self._stores.records.get(as_scope(who), _KIND, trait_id)
        return _trait(found) if found else None

    def list(self, who: Scope | str, owner: Owner | None = None, *,
             include_history: bool = False) -> list[Trait]:
        """Active traits (and superseded ones when ``include_history``), oldest first."""
        return [_trait(r) for r in self._stores.records.list(
            as_scope(who), _KIND, tag=owner, status=None if include_history else "active")]

    def later_changes(self, who: Scope | str, turn_ids: Collection[str]
                      ) -> dict[str, list[LaterChange]]:
        """What became of the facts each turn of ``turn_ids`` said, for those of them that no
        longer hold: taken back (a retracted trait), or changed (a superseded one, with the
        trait that holds now, at the end of its chain of replacements), by turn id.

        Why: the bank ends a fact, but the turn that said it stays, like every word said, and a
        later session can recall it; shown bare, "I live in Porto." reads as true again beside
        the trait "I live in Lisbon." (or beside nothing, when it was taken back)."""
        wanted = set(turn_ids)
        out: dict[str, list[LaterChange]] = {}
        if not wanted:
            return out
        scope = as_scope(who)
        # one batch (one transaction; pipelined on PostgreSQL): it runs with every recall
        ended = {r.id: _trait(r) for found in self._stores.records.batch(
            [ListRecords(scope, _KIND, status=status) for status in ("retracted", "superseded")])
            for r in found}
        said = [t for t in ended.values() if wanted.intersection(t.source_turn_ids)]
        if not said:
            return out
        # what replaced them holds now, so it is not among the ended: fetched in one read
        missing = {_last_of_chain(t, ended).superseded_by for t in said} - ended.keys() - {None}
        known = {**ended, **{r.id: _trait(r) for r in self._stores.records.get_many(
            scope, _KIND, sorted(missing))}} if missing else ended
        for trait in sorted(said, key=lambda t: t.valid_to or 0.0):
            if trait.status == "retracted":
                change = LaterChange(what="taken back", said=trait.text)
            else:
                now = _last_of_chain(trait, known)
                if now is trait or now.status != "active":
                    continue  # the chain breaks, or its end was taken back too
                change = LaterChange(what="changed", said=trait.text, now=now.text)
            for turn_id in wanted.intersection(trait.source_turn_ids):
                out.setdefault(turn_id, []).append(change)
        return out

    def resolve(self, who: Scope | str, ref: str) -> str:
        """The full id of the trait ``ref`` names: its id, or a unique prefix of it (the short ids
        the terminal shows, such as ``tr-436b39bd``)."""
        scope = as_scope(who)
        if self.get(scope, ref) is not None:
            return ref
        found = [t.id for t in self.list(scope, include_history=True) if t.id.startswith(ref)] \
            if len(ref) >= 4 else []
        if len(found) == 1:
            return found[0]
        if not found:
            raise InvalidInputError(f"No trait {ref!r} for this user; list traits with `persona` "
                                    "(or /persona in the chat) to find its id.")
        raise InvalidInputError(f"{ref!r} is the start of {len(found)} trait ids: give more of it "
                                f"({', '.join(sorted(found)[:3])}…).")

    def correct(self, who: Scope | str, trait_id: str, text: str, ts: float) -> Trait:
        """Replace a trait's text (the user corrected it); the old wording goes to the history."""
        scope = as_scope(who)
        trait_id = self.resolve(scope, trait_id)
        current = self.get(scope, trait_id)
        if current is None or current.status != "active":
            raise InvalidInputError(f"No active trait {trait_id!r} for this user; list traits "
                                    "with `persona` to find its id.")
        cleaned = clean_trait(text)
        if cleaned is None:
            raise InvalidInputError("The corrected trait is empty or too short; write it as a "
                                    "short first-person sentence, e.g. 'I live in Berlin.'")
        return self._replace(scope, current, cleaned, ts)

    def _replace(self, scope: Scope, current: Trait, text: str, ts: float) -> Trait:
        batch = _Batch([current])
        new = _replacement(current, text, ts)
        batch.end(_ended(current, "superseded", ts, new.id))
        batch.add(new, self._embedder.embed([text])[0])
        self._write(scope, batch)
        return new

    def restore(self, who: Scope | str, traits: Sequence[Trait]) -> None:
        """Store traits as they were (an import): ids, history and counts kept; only the active
        ones get a vector, as when they were observed."""
        scope = as_scope(who)
        active = [t for t in traits if t.status == "active"]
        unit = UnitOfWork(self._stores).put(scope, [_record(t) for t in traits])
        if active:
            unit.upsert_vectors("traits", scope, [t.id for t in active],
                                self._embedder.embed([t.text for t in active]),
                                [_meta(t.owner, t.subject) for t in active])
        unit.commit()

    def delete(self, who: Scope | str, trait_id: str) -> None:
        """Delete one trait (and its history entry) for good."""
        scope = as_scope(who)
        trait_id = self.resolve(scope, trait_id)
        self._stores.vectors.delete("traits", scope, [trait_id])
        self._stores.records.delete(scope, _KIND, [trait_id])


def _replacement(current: Trait, text: str, ts: float) -> Trait:
    """A corrected trait: new words (and the subject they name), the old one's count and turns."""
    return Trait(id=f"tr-{uuid.uuid4().hex}", owner=current.owner, text=text,
                 subject=subject_of(text), first_seen=ts, last_seen=ts, count=current.count,
                 tier=current.tier, source_turn_ids=current.source_turn_ids,
                 last_session=current.last_session)


def _last_of_chain(trait: Trait, known: dict[str, Trait]) -> Trait:
    """The last trait of ``known`` reached from ``trait`` along ``superseded_by`` (``trait``
    itself when its replacement is not known)."""
    seen = {trait.id}
    while trait.superseded_by in known and trait.superseded_by not in seen:
        trait = known[trait.superseded_by]
        seen.add(trait.id)
    return trait


def _ended(trait: Trait, status: str, ts: float, by: str | None = None) -> Trait:
    return Trait(**{**trait.__dict__, "status": status, "valid_to": ts,
                    "superseded_by": by if by is not None else trait.superseded_by,
                    "merged": False})


def _record(t: Trait) -> Record:
    value: dict[str, Any] = {name: getattr(t, name) for name in _FIELDS}
    value["source_turn_ids"] = list(t.source_turn_ids)
    return Record(_KIND, t.id, value, ts=t.first_seen, status=t.status, tag=t.owner)


def record_trait(r: Record) -> Trait:
    """The trait a record holds (imports read records directly)."""
    return _trait(r)


def _trait(r: Record) -> Trait:
    v = r.value
    return Trait(id=r.id, owner=r.tag, text=v["text"], subject=v["subject"],  # type: ignore[arg-type]
                 first_seen=v["first_seen"], last_seen=v["last_seen"], count=v["count"],
                 tier=v["tier"], source_turn_ids=tuple(v.get("source_turn_ids") or ()),
                 last_session=v.get("last_session", 0), status=r.status,  # type: ignore[arg-type]
                 valid_to=v.get("valid_to"), superseded_by=v.get("superseded_by"))
