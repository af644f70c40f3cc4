"""Persona banks: the user's and the agent's traits, per user, persisted, deduplicated.

LD-Agent's banks are append-only lists; Kindred does better on three points:

* **merge**: a trait that says again what a stored trait says (cosine ≥ ``merge_threshold``) is
  the same trait seen again: its count goes up instead of adding a near-duplicate;
* **rehearsal (MaLP)**: a trait starts in the short-term tier and is promoted to long-term once it
  has been seen θ times (default 3); a short-term trait not rehearsed within N sessions expires
  (:mod:`memory.consolidation` holds the policy and where its constants come from);
* **change**: on an exclusive subject (where you live, your job, your name, your age) a newer trait
  supersedes the older one, which stays in the history with its time span (valid from/to).

Rows live in SQLite (counts and history); vectors of active traits in Chroma, for merging.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Literal

from memory.db import Database
from memory.embeddings import Embedder
from memory.errors import InvalidInputError
from memory.consolidation import RehearsalPolicy
from memory.store import VectorIndex
from personas.extract.base import ExtractedTrait, clean_trait
from personas.extract.rules import subject_of

__all__ = ["EXCLUSIVE_SUBJECTS", "PersonaBank", "Trait"]

Owner = Literal["user", "agent"]
Tier = Literal["short", "long"]
EXCLUSIVE_SUBJECTS = frozenset({"home", "job", "name", "age"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traits (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    text TEXT NOT NULL,
    subject TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    count INTEGER NOT NULL,
    tier TEXT NOT NULL,
    source_turn_ids TEXT NOT NULL,
    last_session INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    valid_to REAL,
    superseded_by TEXT
);
CREATE INDEX IF NOT EXISTS traits_user ON traits(user_id, owner, status);
"""


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
    status: Literal["active", "superseded", "expired"] = "active"
    valid_to: float | None = None
    superseded_by: str | None = None
    merged: bool = field(default=False, compare=False)


def _normal(text: str) -> str:
    return " ".join(text.lower().strip(" .!").split())


def _meta(owner: str, subject: str, turn_ids) -> dict:
    """What a trait's vector carries: whose, about what, and the turns it came from."""
    ids = list(turn_ids)
    sessions = [t.split("/")[-2] for t in ids if t.count("/") >= 2]
    return {"owner": owner, "subject": subject, "turn_ids": ids,
            "session_id": sessions[0] if sessions else ""}


class PersonaBank:
    """Both banks (``owner`` = user or agent) for every user, in one table."""

    def __init__(self, db: Database, index: VectorIndex, embedder: Embedder, *,
                 merge_threshold: float = 0.85, rehearsal_theta: int = 3,
                 flush_after_sessions: int = 5) -> None:
        self._db, self._index, self._embedder = db, index, embedder
        self.merge_threshold = merge_threshold
        self.policy = RehearsalPolicy(theta=rehearsal_theta,
                                      flush_after_sessions=flush_after_sessions,
                                      ltm_min_similarity=merge_threshold)
        self.theta = rehearsal_theta
        db.ensure_schema(_SCHEMA)

    def observe(self, user_id: str, owner: Owner, trait: ExtractedTrait, ts: float,
                turn_ids: tuple[str, ...] = (), session_no: int = 0, *,
                correction: bool = False) -> Trait:
        """Record that ``trait`` was said at ``ts``: rehearse, supersede or add. Returns the result.

        Matching (MaLP): a short-term trait by edit distance, a long-term one by embedding; a
        short-term near-duplicate by embedding too, so paraphrases are merged, not piled up.
        With ``correction`` (the user corrected the agent), a matching trait with other words is
        replaced instead ("my sister is called Ana" corrects "... Anna"); the old one is history.
        """
        match = None
        for old in self.list(user_id, owner):
            if old.tier == "short" and self.policy.stm_match(trait.text, old.text):
                match = old.id
                break
        vec = self._embedder.embed([trait.text])[0]
        if match is None:
            hits = self._index.query("traits", user_id, vec, 1, {"owner": owner})
            if hits and hits[0].similarity >= self.merge_threshold:
                match = hits[0].id
        if match is not None:
            current = self.get(user_id, match)
            if (correction and current is not None
                    and _normal(current.text) != _normal(trait.text)):
                return self._replace(user_id, current, trait.text, ts)
            return self._merge(user_id, match, ts, turn_ids, session_no)
        new_id = f"tr-{uuid.uuid4().hex}"
        with self._db.transaction() as conn:
            if trait.subject in EXCLUSIVE_SUBJECTS:
                old = conn.execute(
                    "SELECT id FROM traits WHERE user_id=? AND owner=? AND subject=? AND "
                    "status='active'", (user_id, owner, trait.subject)).fetchall()
                for row in old:
                    conn.execute("UPDATE traits SET status='superseded', valid_to=?, "
                                 "superseded_by=? WHERE id=?", (ts, new_id, row["id"]))
                old_ids = [r["id"] for r in old]
            else:
                old_ids = []
            conn.execute("INSERT INTO traits VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (new_id, user_id, owner, trait.text, trait.subject, ts, ts, 1,
                          self._tier(1), json.dumps(list(turn_ids)), session_no, "active",
                          None, None))
        self._index.delete("traits", user_id, old_ids)
        self._index.add("traits", user_id, [new_id], [trait.text], vec[None, :],
                        [_meta(owner, trait.subject, turn_ids)])
        return self.get(user_id, new_id)

    def _merge(self, user_id: str, trait_id: str, ts: float, turn_ids: tuple[str, ...],
               session_no: int = 0) -> Trait:
        current = self.get(user_id, trait_id)
        if current is None:  # vector without a row: repair by dropping the vector
            self._index.delete("traits", user_id, [trait_id])
            raise InvalidInputError(f"Trait {trait_id} was missing its record; it was removed.")
        count = current.count + 1
        ids = list(dict.fromkeys([*current.source_turn_ids, *turn_ids]))
        self._db.execute("UPDATE traits SET count=?, last_seen=?, tier=?, source_turn_ids=?, "
                         "last_session=MAX(last_session, ?) WHERE id=? AND user_id=?",
                         [count, max(ts, current.last_seen), self._tier(count), json.dumps(ids),
                          session_no, trait_id, user_id])
        merged = self.get(user_id, trait_id)
        self._index.update_metadata("traits", user_id, trait_id,
                                    _meta(merged.owner, merged.subject, merged.source_turn_ids))
        return Trait(**{**merged.__dict__, "merged": True})

    def _tier(self, count: int) -> Tier:
        return self.policy.tier(count)  # type: ignore[return-value]

    def flush(self, user_id: str, session_no: int, ts: float) -> list[str]:
        """Expire short-term traits not rehearsed within the flush period (MaLP). Returns their ids.

        Long-term traits are never flushed; expired ones stay in the history.
        """
        rows = self._db.query("SELECT id, last_session FROM traits WHERE user_id=? AND "
                              "status='active' AND tier='short'", [user_id])
        gone = [r["id"] for r in rows if self.policy.expired(r["last_session"], session_no)]
        if gone:
            with self._db.transaction() as conn:
                conn.executemany("UPDATE traits SET status='expired', valid_to=? WHERE id=?",
                                 [(ts, tid) for tid in gone])
            self._index.delete("traits", user_id, gone)
        return gone

    def get(self, user_id: str, trait_id: str) -> Trait | None:
        rows = self._db.query("SELECT * FROM traits WHERE user_id=? AND id=?", [user_id, trait_id])
        return self._row(rows[0]) if rows else None

    def list(self, user_id: str, owner: Owner | None = None, *,
             include_history: bool = False) -> list[Trait]:
        """Active traits (and superseded ones when ``include_history``), oldest first."""
        sql = "SELECT * FROM traits WHERE user_id=?"
        params: list = [user_id]
        if owner:
            sql += " AND owner=?"
            params.append(owner)
        if not include_history:
            sql += " AND status='active'"
        return [self._row(r) for r in self._db.query(sql + " ORDER BY first_seen, rowid", params)]

    def correct(self, user_id: str, trait_id: str, text: str, ts: float) -> Trait:
        """Replace a trait's text (the user corrected it); the old wording goes to the history."""
        current = self.get(user_id, trait_id)
        if current is None or current.status != "active":
            raise InvalidInputError(f"No active trait {trait_id!r} for this user; list traits "
                                    "with `persona` to find its id.")
        cleaned = clean_trait(text)
        if cleaned is None:
            raise InvalidInputError("The corrected trait is empty or too short; write it as a "
                                    "short first-person sentence, e.g. 'I live in Berlin.'")
        return self._replace(user_id, current, cleaned, ts)

    def _replace(self, user_id: str, current: Trait, text: str, ts: float) -> Trait:
        new_id = f"tr-{uuid.uuid4().hex}"
        with self._db.transaction() as conn:
            conn.execute("UPDATE traits SET status='superseded', valid_to=?, superseded_by=? "
                         "WHERE id=?", (ts, new_id, current.id))
            conn.execute("INSERT INTO traits VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (new_id, user_id, current.owner, text, subject_of(text), ts, ts,
                          current.count, current.tier, json.dumps(list(current.source_turn_ids)),
                          current.last_session, "active", None, None))
        self._index.delete("traits", user_id, [current.id])
        self._index.add("traits", user_id, [new_id], [text], self._embedder.embed([text]),
                        [_meta(current.owner, subject_of(text), current.source_turn_ids)])
        return self.get(user_id, new_id)

    def delete(self, user_id: str, trait_id: str) -> None:
        """Delete one trait (and its history entry) for good."""
        if self.get(user_id, trait_id) is None:
            raise InvalidInputError(f"No trait {trait_id!r} for this user; list traits with "
                                    "`persona` to find its id.")
        self._db.execute("DELETE FROM traits WHERE user_id=? AND id=?", [user_id, trait_id])
        self._index.delete("traits", user_id, [trait_id])

    def delete_user(self, user_id: str) -> None:
        self._db.execute("DELETE FROM traits WHERE user_id=?", [user_id])
        self._index.delete_all("traits", user_id)

    @staticmethod
    def _row(row) -> Trait:
        return Trait(id=row["id"], owner=row["owner"], text=row["text"], subject=row["subject"],
                     first_seen=row["first_seen"], last_seen=row["last_seen"], count=row["count"],
                     tier=row["tier"], source_turn_ids=tuple(json.loads(row["source_turn_ids"])),
                     last_session=row["last_session"], status=row["status"],
                     valid_to=row["valid_to"],
                     superseded_by=row["superseded_by"])
