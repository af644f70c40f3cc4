"""Long-term event memory (LD-Agent) and the summarisers that turn a session into an event.

When a session ends, its turns become one event: a short summary, the session's topics (noun
lemmas), the time of its last turn and the ids of its turns (so a retrieved event can point back at
what was actually said). Two summarisers: :class:`LLMSummariser` (LD-Agent's prompt; good with a
capable chat model) and :class:`ExtractiveSummariser`, which needs no LLM and is the default with
the tiny local model, whose abstractive summaries are mostly invented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from memory.db import Database
from memory.embeddings import Embedder
from memory.store import VectorHit, VectorIndex
from memory.text import split_sentences
from memory.types import Event, Turn

__all__ = ["EventMemory", "ExtractiveSummariser", "LLMSummariser", "Summariser"]


class Summariser(Protocol):
    """Turns a finished session into a short summary."""

    def summarise(self, turns: Sequence[Turn]) -> str: ...


class ExtractiveSummariser:
    """Picks the session's most central sentences, verbatim, within a word limit. No LLM.

    Score of a sentence = cosine to the centroid of the user's sentences (what the session was about)
    + a small bonus per content word; questions count half (they carry fewer facts). Only the user's
    sentences are candidates when there are any: the agent's replies restate or, with a small model,
    invent. Chosen sentences are shown in their original order, each with its speaker, so the
    summary never states anything that was not said.
    """

    def __init__(self, embedder: Embedder, *, max_words: int = 40) -> None:
        self._embedder = embedder
        self.max_words = max_words

    def summarise(self, turns: Sequence[Turn]) -> str:
        sents = [(t, s.strip()) for t in turns for s in split_sentences(t.text)]
        if any(t.role == "user" for t, _ in sents):
            sents = [(t, s) for t, s in sents if t.role == "user"]
        if not sents:
            return ""
        vecs = self._embedder.embed([s for _, s in sents])
        centroid = vecs.mean(axis=0)
        centroid /= float(np.linalg.norm(centroid)) or 1.0
        scores = vecs @ centroid
        for i, (_, sent) in enumerate(sents):
            scores[i] += 0.02 * min(len(_content_words(sent)), 8)
            if sent.endswith("?"):
                scores[i] *= 0.5
        chosen: list[int] = []
        words = 0
        for i in np.argsort(-scores, kind="stable"):
            n = len(sents[i][1].split())
            if words and words + n > self.max_words:
                continue
            if any(float(vecs[i] @ vecs[j]) > 0.9 for j in chosen):
                continue  # a near-repeat adds nothing
            chosen.append(int(i))
            words += n
            if words >= self.max_words:
                break
        parts = [f"{sents[i][0].speaker}: {_clip(sents[i][1], self.max_words)}" for i in sorted(chosen)]
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


def _content_words(sentence: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", sentence) if len(w) > 3]


def _clip(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]) + "…"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    topics TEXT NOT NULL,
    ts REAL NOT NULL,
    turn_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events(user_id, ts);
"""


class EventMemory:
    """Stores events (SQLite rows + Chroma vectors of the summary) and finds them again."""

    def __init__(self, db: Database, index: VectorIndex, embedder: Embedder) -> None:
        self._db, self._index, self._embedder = db, index, embedder
        db.ensure_schema(_SCHEMA)

    def add(self, user_id: str, event: Event) -> None:
        with self._db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?)",
                         (event.id, user_id, event.session_id, event.summary,
                          json.dumps(list(event.topics)), event.ts,
                          json.dumps(list(event.turn_ids))))
        vec = self._embedder.embed([event.summary])
        self._index.add("events", user_id, [event.id], [event.summary], vec,
                        [{"session_id": event.session_id, "ts": event.ts,
                          "topics": list(event.topics), "turn_ids": list(event.turn_ids)}])

    def search(self, user_id: str, vector: np.ndarray, k: int) -> list[VectorHit]:
        return self._index.query("events", user_id, vector, k)

    def list(self, user_id: str) -> list[Event]:
        rows = self._db.query("SELECT * FROM events WHERE user_id=? ORDER BY ts", [user_id])
        return [Event(id=r["id"], session_id=r["session_id"], summary=r["summary"],
                      topics=tuple(json.loads(r["topics"])), ts=r["ts"],
                      turn_ids=tuple(json.loads(r["turn_ids"]))) for r in rows]

    def delete_user(self, user_id: str) -> None:
        self._db.execute("DELETE FROM events WHERE user_id=?", [user_id])
        self._index.delete_all("events", user_id)
