"""The ``Kindred`` façade: a personalised agent with long-term memory, in five lines.

```python
from agent import Kindred
bot = Kindred(data_dir="~/.kindred", chat_model="local")
reply = bot.chat("alice", "My dog is called Biscuit.")
print(reply.text)
```

Every call validates its input first (a rejected call stores nothing), then runs the LangGraph turn
graph on the user's thread. Turns of one user are serialised by a per-user lock; different users run
in parallel. Async twins run the same implementation in a worker thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import ValidationError

from agent.model_guard import GuardedChatModel
from agent.models import is_capable, is_local, make_chat_model, model_label
from agent.reply import FeedbackReceipt, MemoryView, Recall, Reply, Retraction, Trace, Utterance
from agent.settings import Settings
from agent.validation import check_text, check_time, check_user_id
from graphs import CHECKPOINT_TYPES, Services, TurnContext, compile_graph, prompts, thread_config
from graphs.corrections import LLMCorrectionJudge
from graphs.recall import DEFAULT, recall
from graphs.state import Said
from memory.embeddings import Embedder, default_embedder
from memory.backends.base import Record
from memory.errors import (
    ConfigurationError,
    InvalidInputError,
    KindredError,
    NotFoundError,
    UnknownUserError,
)
from memory.events import ExtractiveSummariser, LLMSummariser
from memory.hub import MemoryHub
from memory.scope import DEFAULT_TENANT, Scope
from memory.types import Event, Turn
from personas.bank import PersonaBank, Trait
from personas.cards import load_card
from personas.extract import HybridTraitExtractor, LLMTraitExtractor, RuleTraitExtractor

__all__ = ["Kindred"]

_SENTINEL = object()
# Nodes whose model tokens reach the caller: the reply, and its regenerations when the draft
# repeated itself or contradicted the agent's persona (a Retraction separates the drafts).
_STREAMED_NODES = ("generate", "review", "check_persona")
_REGENERATED = {"review": "repeat", "check_persona": "persona_check"}


class Kindred:
    """A personalised dialogue agent. One instance serves any number of users."""

    def __init__(self, data_dir: str | Path | None = None,
                 chat_model: str | BaseChatModel | None = None, *,
                 settings: Settings | None = None, embedder: Embedder | None = None,
                 **overrides: Any) -> None:
        if settings is None:
            if data_dir is not None:
                overrides["data_dir"] = data_dir
            if isinstance(chat_model, str):
                overrides["chat_model"] = chat_model
            try:
                settings = Settings(**overrides)
            except ValidationError as exc:
                raise ConfigurationError(f"Invalid Kindred settings: {exc}") from exc
        self.settings = s = settings
        self.data_dir = Path(s.data_dir).expanduser()
        embedder = embedder or default_embedder(s.embedder, s.model_cache_dir)
        self.memory = MemoryHub.open(self.data_dir, embedder=embedder, storage=s.storage,
                                     feedback=s.feedback)
        self.personas = PersonaBank(self.memory.stores, self.memory.embedder,
                                    s.personas.rehearsal)
        self.chat_model = make_chat_model(chat_model if isinstance(chat_model, BaseChatModel)
                                          else s.chat_model, s)
        self._services = self._build_services(s, self.chat_model)
        self._conn = sqlite3.connect(str(self.data_dir / "threads.db"), check_same_thread=False)
        self._checkpointer = SqliteSaver(
            self._conn, serde=JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES))
        self.graph = compile_graph(self._services, self._checkpointer)
        self._preview_graph = compile_graph(self._services)  # no checkpointer: stores nothing
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._model_label = model_label(self.chat_model)

    def _build_services(self, s: Settings, chat_model: BaseChatModel) -> Services:
        """The graph's parts: extractors and summariser chosen by the settings and the model."""
        capable = is_capable(chat_model)
        chat_model = GuardedChatModel(inner=chat_model, label=model_label(chat_model))
        summariser_kind, extractor = s.generation.summariser.kind, s.personas.extractor
        use_llm_summary = summariser_kind == "llm" or (summariser_kind == "auto" and capable)
        use_llm_traits = extractor == "llm" or (extractor == "auto" and capable)
        rules = RuleTraitExtractor(max_clauses=s.personas.max_clauses)
        llm_traits = LLMTraitExtractor(chat_model, prompts.EXTRACT_PERSONA)
        user_extractor = (HybridTraitExtractor(rules, llm_traits) if extractor == "hybrid"
                          else llm_traits if use_llm_traits else rules)
        summariser = (LLMSummariser(chat_model, prompts.SUMMARISE_SESSION) if use_llm_summary
                      else ExtractiveSummariser(self.memory.embedder,
                                                config=s.generation.summariser))
        return Services(memory=self.memory, personas=self.personas,
                        user_extractor=user_extractor, agent_extractor=rules,
                        summariser=summariser, chat_model=chat_model,
                        card=load_card(s.persona),
                        correction_judge=(LLMCorrectionJudge(chat_model, prompts.IS_CORRECTION)
                                          if capable else None),
                        config=s.graph_config())

    # ------------------------------------------------------------------ turns
    def chat(self, user_id: str, text: str, *, at: Any = None, instructions: str | None = None,
             history: Sequence[tuple[str, str]] | None = None,
             sampling: dict[str, float | int] | None = None) -> Reply:
        """Answer ``text`` from ``user_id``. ``at`` is the message's time (replays); default now.

        For an app in front of Kindred (the OpenAI-compatible route uses these): ``instructions``
        are the app's own for this turn (shown to the model, never stored); ``history`` is the
        conversation as the client holds it, ``(role, text)`` pairs with role ``user`` or
        ``agent``: when given, the prompt's recent context follows it instead of the stored thread
        (an edited or regenerated message), and nothing of it is stored; ``sampling`` passes
        ``temperature``/``max_tokens`` to the model."""
        reply = None
        for item in self.stream(user_id, text, at=at, instructions=instructions, history=history,
                                sampling=sampling):
            if isinstance(item, Reply):
                reply = item
        if reply is None:  # pragma: no cover - stream() always ends with the Reply
            raise RuntimeError("The turn ended without a reply.")
        return reply

    def stream(self, user_id: str, text: str, *, at: Any = None, instructions: str | None = None,
               history: Sequence[tuple[str, str]] | None = None,
               sampling: dict[str, float | int] | None = None
               ) -> Iterator[str | Retraction | Reply]:
        """Like :meth:`chat`, yielding reply tokens as they are generated, then the ``Reply``.

        When the draft contradicts the agent's persona and is regenerated, a :class:`Retraction`
        comes between the draft's tokens and the revision's: clear what was shown so far.
        """
        user_id = check_user_id(user_id)
        text = check_text(text, max_chars=self.settings.limits.max_message_chars)
        extra = self._check_client_turn(instructions, history, sampling)
        return self._stream_turn(user_id, text, self._check_at(at), extra)

    def _check_client_turn(self, instructions: Any, history: Any, sampling: Any
                           ) -> dict[str, Any]:
        """The per-turn values of a client app, checked like everything else, before any write."""
        limit = self.settings.limits.max_message_chars
        out: dict[str, Any] = {}
        if instructions is not None:
            out["instructions"] = check_text(instructions, max_chars=limit, what="instructions")
        if history is not None:
            if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
                raise InvalidInputError("history must be a list of (role, text) pairs.")
            pairs = []
            for n, item in enumerate(history):
                if not (isinstance(item, (tuple, list)) and len(item) == 2
                        and item[0] in ("user", "agent")):
                    raise InvalidInputError(f"history item {n} must be a (role, text) pair with "
                                            "role 'user' or 'agent'.")
                pairs.append((item[0], check_text(item[1], max_chars=limit,
                                                  what=f"text of history item {n}")))
            out["history"] = tuple(pairs)
        if sampling:
            allowed = {"temperature": (0.0, 2.0), "max_tokens": (1, 4096)}
            checked = []
            for name, value in sampling.items():
                low, high = allowed.get(name, (None, None))
                if low is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not low <= value <= high:
                    raise InvalidInputError(f"sampling {name}={value!r} is not allowed: give "
                                            "temperature 0-2 and max_tokens 1-4096.")
                checked.append((name, int(value) if name == "max_tokens" else float(value)))
            out["sampling"] = tuple(checked)
        return out

    def _check_at(self, at: Any) -> float | None:
        """``at`` as seconds, refused when out of range or ahead of the server clock; None when
        not given: the turn's time is then read inside the user's lock (see :meth:`_time_of`)."""
        return check_time(at, default=None,
                          latest=time.time() + self.settings.limits.future_tolerance_s)

    def _at_or_now(self, at: Any) -> float:
        """For calls that store nothing in the thread: ``at`` checked, or now."""
        seconds = self._check_at(at)
        return time.time() if seconds is None else seconds

    def _time_of(self, at: float | None, thread: dict[str, Any]) -> float:
        """The time of a run, read while holding the user's lock: turns of one user queue, and a
        turn a few milliseconds behind the last one (two clients, one user) is put just after it
        instead of being refused."""
        now = time.time() if at is None else at
        last = thread.get("last_ts")
        if last is not None and now < last and (
                at is None or last - now <= self.settings.limits.clock_skew_s):
            return last  # the server's own clock is never "out of order": the last turn was ahead
        return now

    @contextmanager
    def _undo_on_failure(self, user_id: str, done: list[bool] | None = None
                         ) -> Iterator[dict[str, Any]]:
        """Put the user's thread back as it was when a run fails half-way (the model is down, a
        store fails), so the turn can simply be sent again: its turn ids are derived from the
        thread, so a retry overwrites whatever the failed run wrote instead of adding to it.
        ``done[0]`` set by the caller means the run finished its writes: nothing is undone."""
        config = thread_config(user_id)
        before = self.graph.get_state(config)
        try:
            yield dict(before.values)
        except BaseException:
            if not (done and done[0]):
                if before.values:
                    self.graph.update_state(before.config, before.values, as_node="write_back")
                else:
                    self._checkpointer.delete_thread(config["configurable"]["thread_id"])
            raise

    def _stream_turn(self, user_id: str, text: str, at: float | None,
                     extra: dict[str, Any] | None = None) -> Iterator[str | Retraction | Reply]:
        done = [False]
        with self._lock(user_id), self._undo_on_failure(user_id, done) as thread:
            now = self._time_of(at, thread)
            state = None
            last_node = None
            for mode, data in self.graph.stream(
                    {"kind": "turn", "text": text}, thread_config(user_id),
                    context=TurnContext(user_id=user_id, now=now, **(extra or {})),
                    stream_mode=["messages", "custom", "values"]):
                if mode == "messages":
                    chunk, meta = data
                    node = meta.get("langgraph_node")
                    if node in _STREAMED_NODES and chunk.content:
                        if node != last_node and last_node is not None:
                            # the regenerated reply replaces the draft
                            yield Retraction(reason=_REGENERATED.get(node, "persona_check"))
                        last_node = node
                        yield str(chunk.content)
                elif mode == "custom" and "revision" in data:
                    yield Retraction(reason=data.get("reason", "prompt_leak"))  # cleaned draft
                    yield data["revision"]
                    last_node = "revision"
                elif mode == "values":
                    state = data
                    done[0] = bool(data.get("stored_turn_ids"))
            reply = self._reply(user_id, state)
            self._keep_trace(user_id, reply.trace)
            yield reply

    def _reply(self, user_id: str, state: dict[str, Any]) -> Reply:
        trace = state["trace"].model_copy(update={"model": self._model_label,
                                                  "id": f"tr-{uuid.uuid4().hex}"})
        return Reply(text=state.get("reply", ""), user_id=user_id,
                     session_id=state.get("session_id") or "", trace=trace)

    def _keep_trace(self, user_id: str, trace: Trace) -> None:
        """Keep the last traces of the user (``GET /v1/traces/{id}``, ``Kindred.trace``): with
        the user's records, so ``forget`` removes them like everything else."""
        if not self.settings.limits.keep_traces:
            return
        records, scope = self.memory.stores.records, Scope(user=user_id)
        records.put(scope, [Record("trace", trace.id, trace.model_dump(mode="json"),
                                   ts=trace.now)])
        excess = records.count(scope, "trace") - self.settings.limits.keep_traces
        if excess > 0:  # the oldest go (counted first: reading every trace would cost ms a turn)
            old = records.list(scope, "trace", limit=excess)
            records.delete(scope, "trace", [r.id for r in old])

    def trace(self, user_id: str, trace_id: str) -> Trace:
        """The trace of one of the user's recent replies (``limits.keep_traces`` are kept)."""
        user_id = check_user_id(user_id)
        found = self.memory.stores.records.get(Scope(user=user_id), "trace", str(trace_id))
        if found is None:
            raise NotFoundError(f"No trace {str(trace_id)[:60]!r} for user {user_id!r}: traces "
                                f"of the last {self.settings.limits.keep_traces} replies are kept.")
        return Trace.model_validate(found.value)

    def readiness(self) -> list[str]:
        """What keeps this agent from answering now (empty: ready): stores that do not answer,
        a local model not loaded."""
        problems = []
        try:
            self.memory.stores.records.count(Scope(user="readiness-probe"), "turn")
            self.memory.stores.vectors.count("turns", Scope(user="readiness-probe"))
        except KindredError as exc:
            problems.append(f"stores: {exc}")
        if is_local(self.chat_model) and not self.chat_model.loaded:
            problems.append("the local model is not loaded yet")
        return problems

    def ingest(self, user_id: str, utterances: Sequence[Utterance | dict]) -> list[str]:
        """Store utterances that already happened (a replayed dialogue), with no generation.

        They go through the same path as chat (session boundary, consolidation, persona
        extraction, storage), in one batch. Each utterance has ``speaker``, ``text``, ``at`` and
        ``role`` ("user" for the memory's owner, "agent" for the other side). Returns the turn ids.
        """
        user_id = check_user_id(user_id)
        if isinstance(utterances, (str, bytes)) or not isinstance(utterances, Sequence):
            raise InvalidInputError("utterances must be a list of Utterance or dicts.")
        if not utterances:
            return []
        limits = self.settings.limits
        if len(utterances) > limits.max_ingest_utterances:
            raise InvalidInputError(
                f"{len(utterances):,} utterances in one ingest, more than the limit of "
                f"{limits.max_ingest_utterances:,}: send them in several calls, in time order "
                "(or raise KINDRED_LIMITS__MAX_INGEST_UTTERANCES).")
        checked: list[tuple[Utterance, str, float | None]] = []
        size = 0
        for n, raw in enumerate(utterances):
            try:
                utt = raw if isinstance(raw, Utterance) else Utterance.model_validate(raw)
            except ValidationError as exc:
                raise InvalidInputError(f"Utterance {n} is malformed: {exc}") from exc
            text = check_text(utt.text, max_chars=limits.max_message_chars,
                              what=f"text of utterance {n}")
            check_text(utt.speaker, max_chars=128, what=f"speaker of utterance {n}")
            size += len(text)
            if size > limits.max_ingest_chars:
                raise InvalidInputError(
                    f"This ingest holds more than {limits.max_ingest_chars:,} characters: send "
                    "the utterances in several calls (or raise KINDRED_LIMITS__MAX_INGEST_CHARS).")
            checked.append((utt, text, self._check_at(utt.at)))
        with self._lock(user_id), self._undo_on_failure(user_id) as thread:
            batch = self._timed_batch(checked, thread)
            ids: list[str] = []
            for piece in self._pieces(batch):
                state = self.graph.invoke({"kind": "observe", "text": "", "batch": piece},
                                          thread_config(user_id),
                                          context=TurnContext(user_id=user_id, now=piece[0].ts))
                ids += state["stored_turn_ids"]
        return ids

    def _pieces(self, batch: list[Said]) -> Iterator[list[Said]]:
        """The batch as graph runs: a new run at every gap longer than β (so a replay ends its
        sessions exactly where chat would), and at most ``ingest_chunk`` utterances per run (500
        by default: smaller pieces, meant to let other users' turns in between, measured no
        fairer on two cores, where the contention is for the CPU, not for a lock)."""
        beta, size = self.settings.session.beta_s, self.settings.limits.ingest_chunk
        piece: list[Said] = []
        for said in batch:
            if piece and (len(piece) >= size or said.ts - piece[-1].ts > beta):
                yield piece
                piece = []
            piece.append(said)
        if piece:
            yield piece

    def _timed_batch(self, checked: list[tuple[Utterance, str, float | None]],
                     thread: dict[str, Any]) -> list[Said]:
        """The utterances with their times (now, read in the lock, for those without one), in
        order, checked against each other before anything is stored."""
        batch: list[Said] = []
        for n, (utt, text, at) in enumerate(checked):
            ts = self._time_of(at, thread) if not batch else (at if at is not None
                                                              else batch[-1].ts)
            if batch and ts < batch[-1].ts:
                raise InvalidInputError(f"Utterance {n} is dated before utterance {n - 1}: "
                                        "give utterances in time order.")
            batch.append(Said(role=utt.role, speaker=utt.speaker, text=text, ts=ts))
        return batch

    def end_session(self, user_id: str, *, at: Any = None) -> Event | None:
        """End the user's session now: it is summarised into a long-term event (returned)."""
        user_id = check_user_id(user_id)
        at_s = self._check_at(at)
        with self._lock(user_id), self._undo_on_failure(user_id) as thread:
            now = self._time_of(at_s, thread)
            state = self.graph.invoke({"kind": "end_session", "text": ""},
                                      thread_config(user_id),
                                      context=TurnContext(user_id=user_id, now=now))
        return state.get("closed_event")

    def feedback(self, user_id: str, text: str, *, at: Any = None) -> FeedbackReceipt:
        """Correct the agent's last reply; later similar requests will carry the correction."""
        user_id = check_user_id(user_id)
        text = check_text(text, max_chars=self.settings.limits.max_message_chars,
                          what="feedback")
        at_s = self._check_at(at)
        with self._lock(user_id), self._undo_on_failure(user_id) as thread:
            now = self._time_of(at_s, thread)
            state = self.graph.invoke({"kind": "feedback", "text": text},
                                      thread_config(user_id),
                                      context=TurnContext(user_id=user_id, now=now))
        stored = state["stored_feedback"]
        return FeedbackReceipt(feedback_id=stored.id, request=stored.request,
                               feedback=stored.feedback, trait=stored.trait)

    def preview(self, user_id: str, text: str, *, at: Any = None) -> Reply:
        """The reply :meth:`chat` would give to ``text`` now, storing nothing: no turn, no
        trait, no session change, no feedback hit (evaluations with teacher forcing, "what would
        it say" tools)."""
        user_id = check_user_id(user_id)
        text = check_text(text, max_chars=self.settings.limits.max_message_chars)
        now = self._at_or_now(at)
        with self._lock(user_id):
            values = dict(self.graph.get_state(thread_config(user_id)).values)
            state = self._preview_graph.invoke(
                {**values, "kind": "preview", "text": text},
                context=TurnContext(user_id=user_id, now=now))
        return self._reply(user_id, state)

    def recall(self, user_id: str, query: str, *, at: Any = None, k: int | None = None,
               min_score: float | None = DEFAULT) -> Recall:
        """What Kindred remembers about ``user_id`` for ``query``, ranked, with every component
        score: the same recall a chat turn makes (events, turns, the correction that applies),
        without storing anything. ``k``: turns (default ``turns_k``); ``min_score``: the floor
        of a turn's score (default ``turn_min_score``, as chat; None ranks every candidate)."""
        user_id = check_user_id(user_id)
        query = check_text(query, max_chars=self.settings.limits.max_message_chars,
                           what="query")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise InvalidInputError(f"k must be a non-negative integer, got {k!r}.")
        now = self._at_or_now(at)
        if min_score is not DEFAULT and min_score is not None and not isinstance(min_score,
                                                                                (int, float)):
            raise InvalidInputError(f"min_score must be a number or None, got {min_score!r}.")
        return recall(self._services, Scope(user=user_id), query, now, k=k, min_score=min_score,
                      count_hit=False)

    # ---------------------------------------------------------------- async twins
    async def achat(self, user_id: str, text: str, *, at: Any = None) -> Reply:
        return await asyncio.to_thread(self.chat, user_id, text, at=at)

    async def astream(self, user_id: str, text: str, *, at: Any = None
                      ) -> AsyncIterator[str | Retraction | Reply]:
        iterator = self.stream(user_id, text, at=at)
        while (item := await asyncio.to_thread(next, iterator, _SENTINEL)) is not _SENTINEL:
            yield item

    async def aend_session(self, user_id: str, *, at: Any = None) -> Event | None:
        return await asyncio.to_thread(self.end_session, user_id, at=at)

    async def afeedback(self, user_id: str, text: str, *, at: Any = None) -> FeedbackReceipt:
        return await asyncio.to_thread(self.feedback, user_id, text, at=at)

    # ---------------------------------------------------------------- listing
    def known_user(self, user_id: str) -> bool:
        """Whether Kindred holds anything for ``user_id``."""
        user_id = check_user_id(user_id)
        if self.graph.get_state(thread_config(user_id)).values:
            return True
        return bool(self.memory.turns.count(user_id) or self.memory.events.list(user_id)
                    or self.personas.list(user_id, include_history=True)
                    or self.memory.feedback.list(user_id))

    def users(self) -> list[str]:
        """The ids of every user Kindred holds memory of, sorted."""
        return sorted(s.user for s in self.memory.stores.records.scopes(tenant=DEFAULT_TENANT))

    def _require_user(self, user_id: str) -> str:
        user_id = check_user_id(user_id)
        if not self.known_user(user_id):
            raise UnknownUserError(f"Kindred has no memory of user {user_id!r}: chat with them "
                                   "first (or check the spelling of the id).")
        return user_id

    def memories(self, user_id: str) -> MemoryView:
        """What Kindred remembers about the user: this session, past events, feedback."""
        user_id = self._require_user(user_id)
        values = self.graph.get_state(thread_config(user_id)).values
        return MemoryView(
            user_id=user_id, session_id=values.get("session_id"),
            session_turns=[Turn.model_validate(t) for t in values.get("stm") or []],
            events=self.memory.events.list(user_id), turn_count=self.memory.turns.count(user_id),
            feedback=self.memory.feedback.list(user_id))

    def persona(self, user_id: str, owner: str = "user", *,
                include_history: bool = False) -> list[Trait]:
        """The user's (or, with ``owner="agent"``, the agent's) traits for this user."""
        user_id = self._require_user(user_id)
        if owner not in ("user", "agent"):
            raise InvalidInputError("owner must be 'user' or 'agent'.")
        return self.personas.list(user_id, owner, include_history=include_history)  # type: ignore[arg-type]

    def correct_trait(self, user_id: str, trait_id: str, text: str, *, at: Any = None) -> Trait:
        """Replace a trait's wording; the old one stays in the history."""
        user_id = self._require_user(user_id)
        text = check_text(text, max_chars=500, what="trait")
        with self._lock(user_id):
            return self.personas.correct(user_id, trait_id, text, self._at_or_now(at))

    def delete_trait(self, user_id: str, trait_id: str) -> None:
        """Delete one trait for good."""
        user_id = self._require_user(user_id)
        with self._lock(user_id):
            self.personas.delete(user_id, trait_id)

    def forget(self, user_id: str) -> bool:
        """Remove every trace of the user from every store. Returns whether anything was held."""
        user_id = check_user_id(user_id)
        with self._lock(user_id):
            held = self.known_user(user_id)
            self.memory.forget(user_id)
            self._checkpointer.delete_thread(thread_config(user_id)["configurable"]["thread_id"])
        return held

    # ---------------------------------------------------------------- plumbing
    @property
    def agent_name(self) -> str:
        """The agent's name, from its persona card."""
        return self._services.card.name

    @property
    def model_name(self) -> str:
        """The chat model in words ("local SmolLM2-135M-Instruct", "openai:gpt-4o", …)."""
        return self._model_label

    def _lock(self, user_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(user_id, threading.Lock())

    def close(self) -> None:
        """Release the stores' files (safe to call twice)."""
        self._conn.close()
        self.memory.close()

    def __enter__(self) -> Kindred:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
