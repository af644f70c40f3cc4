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
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import ValidationError

from agent import memory_api, transfer
from agent.memory_api import MemoryItem, ScoredMemory
from agent.model_guard import GuardedChatModel
from agent.models import is_capable, is_local, make_chat_model, model_label
from agent.reply import FeedbackReceipt, MemoryView, Recall, Reply, Retraction, Trace, Utterance
from agent.repair import RepairReport, repair
from agent.settings import Settings
from agent.threads import open_threads
from agent.transfer import ExportDocument
from agent.validation import check_scope, check_text, check_time
from graphs import Services, TurnContext, compile_graph, prompts, thread_config
from graphs.corrections import LLMCorrectionJudge
from graphs.recall import DEFAULT, recall
from graphs.nodes.consolidate import summaries_ahead
from graphs.nodes.persona import read_traits_ahead
from graphs.state import Said
from memory.embeddings import Embedder
from memory.backends.base import CountRecords, DeleteRecords, PutRecords, Record
from memory.conversations import (
    DEFAULT_CONVERSATION,
    Conversation,
    ConversationIndex,
    check_conversation_id,
    stored_id,
)
from memory.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    KindredError,
    NotFoundError,
    UnknownUserError,
)
from memory.events import ExtractiveSummariser, LLMSummariser
from memory.hub import MemoryHub
from memory.locks import ScopeLocks
from memory.scope import DEFAULT_TENANT, Scope
from memory.types import Event, Turn
from memory.text import parse_span
from personas.bank import PersonaBank, Trait
from personas.cards import load_card
from personas.extract import HybridTraitExtractor, LLMTraitExtractor, RuleTraitExtractor

__all__ = ["Kindred", "Who"]

Who = Scope | str  # whose memory: a user id (the default tenant) or a Scope(user, tenant)

_log = logging.getLogger("kindred")
_SENTINEL = object()
# Nodes whose model tokens reach the caller: the reply, and its regenerations when the draft
# repeated itself or contradicted the agent's persona (a Retraction separates the drafts).
#: a run's thread is checkpointed once, when it ends, not after each of its ~8 steps: the
#: steps' checkpoint writes were a fifth of a turn's CPU samples (py-spy), and nothing reads a
#: thread mid-run. A run that fails is put back by ``_undo_on_failure``; one killed mid-run
#: leaves the thread as before it, so its retry derives the same turn ids and overwrites what
#: it wrote (the records are the log; ``agent/repair.py`` finishes a cut consolidation)
_DURABILITY = "exit"
_STREAMED_NODES = ("generate", "review", "check_persona")
_REGENERATED = {"review": "repeat", "check_persona": "persona_check"}
# record kinds that are a user's memory (a user holding any of them is known)
_USER_KINDS = ("turn", "event", "trait", "feedback", "conversation")


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
        self.memory = MemoryHub.open(self.data_dir, embedder=embedder, storage=s.storage,
                                     feedback=s.feedback, embedder_backend=s.embedder,
                                     model_cache_dir=s.model_cache_dir)
        self.personas = PersonaBank(self.memory.stores, self.memory.embedder,
                                    s.personas.rehearsal)
        self.chat_model = make_chat_model(chat_model if isinstance(chat_model, BaseChatModel)
                                          else s.chat_model, s)
        self._services = self._build_services(s, self.chat_model)
        try:
            self._threads = open_threads(self.data_dir, s.storage)
        except BaseException:
            self.memory.close()
            raise
        self._checkpointer = self._threads.saver
        self.graph = compile_graph(self._services, self._checkpointer)
        self._preview_graph = compile_graph(self._services)  # no checkpointer: stores nothing
        self.conversations = ConversationIndex(self.memory.stores)
        self._locks = ScopeLocks(self.memory.stores.records, self.memory.stale_caches,
                                 self.memory.stores.vectors.flush, self.memory.stores.written)
        self._model_label = model_label(self.chat_model)
        # the records are the log: what a killed process left half-written is put right now
        self.last_repair = repair(self) if s.storage.repair_on_open else RepairReport()
        if self.last_repair.changed:
            _log.warning("repaired %s on open: %s", self.data_dir, self.last_repair)

    def _build_services(self, s: Settings, chat_model: BaseChatModel) -> Services:
        """The graph's parts: extractors and summariser chosen by the settings and the model."""
        capable = is_capable(chat_model)
        chat_model = GuardedChatModel(inner=chat_model, label=model_label(chat_model))
        summariser_kind, extractor = s.generation.summariser.kind, s.personas.extractor
        use_llm_summary = summariser_kind == "llm" or (summariser_kind == "auto" and capable)
        use_llm_traits = extractor == "llm" or (extractor == "auto" and capable)
        rules = RuleTraitExtractor(max_clauses=s.personas.max_clauses)
        own_rules = RuleTraitExtractor(max_clauses=s.personas.max_clauses, role="agent")
        llm_traits = LLMTraitExtractor(chat_model, prompts.EXTRACT_PERSONA)
        user_extractor = (HybridTraitExtractor(rules, llm_traits) if extractor == "hybrid"
                          else llm_traits if use_llm_traits else rules)
        summariser = (LLMSummariser(chat_model, prompts.SUMMARISE_SESSION) if use_llm_summary
                      else ExtractiveSummariser(self.memory.embedder,
                                                config=s.generation.summariser))
        return Services(memory=self.memory, personas=self.personas,
                        user_extractor=user_extractor, agent_extractor=own_rules,
                        summariser=summariser, chat_model=chat_model,
                        card=load_card(s.persona),
                        correction_judge=(LLMCorrectionJudge(chat_model, prompts.IS_CORRECTION)
                                          if capable else None),
                        config=s.graph_config())

    # ------------------------------------------------------------------ turns
    def chat(self, user_id: Who, text: str, *, at: Any = None, conversation: str | None = None,
             instructions: str | None = None, history: Sequence[tuple[str, str]] | None = None,
             sampling: dict[str, float | int] | None = None) -> Reply:
        """Answer ``text`` from ``user_id``. ``at`` is the message's time (replays); default now.
        ``conversation``: one of the user's conversations (:meth:`create_conversation`); default
        the user's default conversation. ``user_id`` may be a ``Scope(user, tenant)``.

        For an app in front of Kindred (the OpenAI-compatible route uses these): ``instructions``
        are the app's own for this turn (shown to the model, never stored); ``history`` is the
        conversation as the client holds it, ``(role, text)`` pairs with role ``user`` or
        ``agent``: when given, the prompt's recent context follows it instead of the stored thread
        (an edited or regenerated message), and nothing of it is stored; ``sampling`` passes
        ``temperature``/``max_tokens`` to the model."""
        scope, text, conv, extra = self._checked_turn(user_id, text, conversation, instructions,
                                                      history, sampling)
        reply = None
        for item in self._stream_turn(scope, conv, text, self._check_at(at), extra, tokens=False):
            reply = item
        if not isinstance(reply, Reply):  # pragma: no cover - the run always ends with the Reply
            raise RuntimeError("The turn ended without a reply.")
        return reply

    def stream(self, user_id: Who, text: str, *, at: Any = None, conversation: str | None = None,
               instructions: str | None = None, history: Sequence[tuple[str, str]] | None = None,
               sampling: dict[str, float | int] | None = None
               ) -> Iterator[str | Retraction | Reply]:
        """Like :meth:`chat`, yielding reply tokens as they are generated, then the ``Reply``.

        When the draft contradicts the agent's persona and is regenerated, a :class:`Retraction`
        comes between the draft's tokens and the revision's: clear what was shown so far.
        """
        scope, text, conv, extra = self._checked_turn(user_id, text, conversation, instructions,
                                                      history, sampling)
        return self._stream_turn(scope, conv, text, self._check_at(at), extra)

    def _checked_turn(self, user_id: Who, text: str, conversation: str | None, instructions: Any,
                      history: Any, sampling: Any) -> tuple[Scope, str, str, dict[str, Any]]:
        """A turn's arguments checked before anything runs or is stored."""
        scope = check_scope(user_id)
        text = check_text(text, max_chars=self.settings.limits.max_message_chars)
        conv = self._conversation(scope, conversation)
        return scope, text, conv, self._check_client_turn(instructions, history, sampling)

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

    def _conversation(self, scope: Scope, conversation: str | None) -> str:
        """The conversation's id as stored ("" for the default), refused unless it exists."""
        conversation = check_conversation_id(conversation)
        self.conversations.require(scope, conversation)
        return stored_id(conversation)

    def _context(self, scope: Scope, conv: str, now: float, **extra: Any) -> TurnContext:
        return TurnContext(user_id=scope.user, tenant=scope.tenant, conversation=conv, now=now,
                           **extra)

    @contextmanager
    def _undo_on_failure(self, scope: Scope, conv: str, done: list[bool] | None = None
                         ) -> Iterator[dict[str, Any]]:
        """Put the conversation's thread back as it was when a run fails half-way (the model is
        down, a store fails), so the turn can simply be sent again: its turn ids are derived from
        the thread, so a retry overwrites whatever the failed run wrote instead of adding to it.
        ``done[0]`` set by the caller means the run finished its writes: nothing is undone."""
        config = thread_config(scope, conv)
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

    def _stream_turn(self, scope: Scope, conv: str, text: str, at: float | None,
                     extra: dict[str, Any] | None = None, *, tokens: bool = True
                     ) -> Iterator[str | Retraction | Reply]:
        """Run a turn, yielding its tokens and retractions (when ``tokens``), then the Reply.

        Without ``tokens`` (``chat``) only the final values are asked for: LangGraph then runs
        each node inline in this thread. Asking for "messages" or "custom" makes it run every
        node in a thread pool started for the run, beside a waiter thread, which cost a chat
        turn several milliseconds of thread starts and GIL hand-offs for tokens nobody reads."""
        modes = ["messages", "custom", "values"] if tokens else ["values"]
        done = [False]
        with self._lock(scope), self._undo_on_failure(scope, conv, done) as thread:
            now = self._time_of(at, thread)
            state = None
            last_node = None
            for mode, data in self.graph.stream(
                    {"kind": "turn", "text": text}, thread_config(scope, conv),
                    context=self._context(scope, conv, now, **(extra or {})),
                    stream_mode=modes, durability=_DURABILITY):
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
            reply = self._reply(scope, conv, state)
            self._keep(scope, conv or DEFAULT_CONVERSATION, reply.trace, now, text)
            yield reply

    def _reply(self, scope: Scope, conv: str, state: dict[str, Any]) -> Reply:
        trace = state["trace"].model_copy(update={"model": self._model_label,
                                                  "id": f"tr-{uuid.uuid4().hex}"})
        return Reply(text=state.get("reply", ""), user_id=scope.user,
                     session_id=state.get("session_id") or "", trace=trace,
                     conversation=conv or DEFAULT_CONVERSATION)

    def _keep(self, scope: Scope, conversation: str, trace: Trace, now: float, text: str
              ) -> None:
        """Keep the reply's trace (``GET /v1/traces/{id}``, ``Kindred.trace``: with the user's
        records, so ``forget`` removes them like everything else) and note the turn in the
        conversation's record. Why one batch for the trace, its count and the conversation's
        read: each batch is a round trip and a transaction on PostgreSQL; the writes that
        depend on what it read follow in a second one."""
        keep = self.settings.limits.keep_traces
        records = self.memory.stores.records
        ops: list[Any] = [self.conversations.read(scope, conversation)]
        if keep:
            ops += [PutRecords(scope, (Record("trace", trace.id, trace.model_dump(mode="json"),
                                              ts=trace.now),)),
                    CountRecords(scope, "trace")]
        found, *kept = records.batch(ops)
        writes: list[Any] = []
        touched = self.conversations.touched(conversation, found, now, text)
        if touched is not None:
            writes.append(PutRecords(scope, (touched,)))
        excess = kept[1] - keep if keep else 0
        if excess > 0:  # the oldest go (counted first: reading every trace would cost ms a turn)
            old = records.list(scope, "trace", limit=excess)
            writes.append(DeleteRecords(scope, "trace", tuple(r.id for r in old)))
        if writes:
            records.batch(writes)

    def trace(self, user_id: Who, trace_id: str) -> Trace:
        """The trace of one of the user's recent replies (``limits.keep_traces`` are kept)."""
        scope = check_scope(user_id)
        found = self.memory.stores.records.get(scope, "trace", str(trace_id))
        if found is None:
            raise NotFoundError(f"No trace {str(trace_id)[:60]!r} for user {scope.user!r}: "
                                f"traces of the last {self.settings.limits.keep_traces} replies "
                                "are kept.")
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

    def ingest(self, user_id: Who, utterances: Sequence[Utterance | dict], *,
               conversation: str | None = None) -> list[str]:
        """Store utterances that already happened (a replayed dialogue), with no generation.

        They go through the same path as chat (session boundary, consolidation, persona
        extraction, storage), in one batch. Each utterance has ``speaker``, ``text``, ``at`` and
        ``role`` ("user" for the memory's owner, "agent" for the other side). Returns the turn ids.
        """
        scope = check_scope(user_id)
        conv = self._conversation(scope, conversation)
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
        with self._lock(scope), self._undo_on_failure(scope, conv) as thread:
            batch = self._timed_batch(checked, thread)
            pieces = list(self._pieces(batch))
            ids: list[str] = []
            # the parses read ahead stay until the runs have read them (Parser.held)
            with self.memory.topics.held([parse_span(s.role, s.text) for s in batch if s.text]):
                self._read_ahead(batch, pieces, thread)
                for piece in pieces:
                    state = self.graph.invoke({"kind": "observe", "text": "", "batch": piece},
                                              thread_config(scope, conv),
                                              context=self._context(scope, conv, piece[0].ts),
                                              durability=_DURABILITY)
                    ids += state["stored_turn_ids"]
            self.conversations.touch(scope, conv or DEFAULT_CONVERSATION, batch[-1].ts,
                                     batch[0].text)
        return ids

    def _read_ahead(self, batch: list[Said], pieces: list[list[Said]],
                    thread: dict[str, Any]) -> None:
        """Encode and read a bulk ingest's texts before its sessions run, at the same time.

        Why: the sessions run one graph run each, and a session at a time the encoder pads short
        lines to the long replies beside them; in one batch sorted by length a LongMemEval haystack
        encoded 1.6x faster. The batch holds every text the runs will encode: the turns' keys (a
        long turn's pieces too; the summariser scores a session's sentences by their turns' keys).
        Another thread meanwhile parses the texts and reads their topics and traits (kept with the
        parses), so the runs do not walk the tokens again; that work still costs its CPU time, as
        the encoder's two threads fill both cores (measured: the encoder kept to one thread during
        the parse gained nothing). The traits found are encoded after, in one batch (in the runs'
        write-backs they were ~50 batches of a few). The runs then find vectors, topics and traits
        in the caches; a vector evicted meanwhile is encoded again. The summaries of the sessions
        the batch closes are known once their turns are encoded: they go in the traits' batch (one
        at a time, at each consolidation, they were ~9 ms each, 0.4 s of a haystack)."""
        said = [s for s in batch if s.text]
        if len(said) < 2:
            return
        texts = [key for s in said for key in self.memory.turns.keys_of(s.speaker, s.text)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kindred-parse") as pool:
            read = pool.submit(self._read_texts_ahead, said)
            self.memory.embedder.embed(texts)
            traits = read.result()
        summaries = summaries_ahead(self._services, self._sessions_closed(pieces, thread))
        if traits or summaries:
            self.memory.embedder.embed(traits + summaries)

    def _read_texts_ahead(self, said: list[Said]) -> list[str]:
        """Read traits, then topics: the texts of the traits found. Traits first: they need the
        dependency parse, topics only the tags, so the texts no extractor reads (an assistant's
        replies that never say "I") are only tagged."""
        traits = read_traits_ahead(self._services, said)
        self.memory.topics.parse_ahead([parse_span(s.role, s.text) for s in said])
        return traits

    def _pieces(self, batch: list[Said]) -> Iterator[list[Said]]:
        """The batch as graph runs: a new run at every gap longer than β (so a replay ends its
        sessions exactly where chat would) and at every utterance that opens a session, and at
        most ``ingest_chunk`` utterances per run (500 by default: smaller pieces, meant to let
        other users' turns in between, measured no fairer on two cores, where the contention is
        for the CPU, not for a lock)."""
        size = self.settings.limits.ingest_chunk
        piece: list[Said] = []
        for said in batch:
            if piece and (len(piece) >= size or self._opens(piece[-1].ts, said)):
                yield piece
                piece = []
            piece.append(said)
        if piece:
            yield piece

    def _opens(self, last_ts: float | None, said: Said) -> bool:
        """Whether ``said`` opens a session after a turn at ``last_ts``, as the graph's
        ``perceive`` will decide: a gap longer than β, or the caller says so."""
        return said.opens_session or (last_ts is not None
                                      and said.ts - last_ts > self.settings.session.beta_s)

    def _sessions_closed(self, pieces: list[list[Said]], thread: dict[str, Any]
                         ) -> list[list[Said]]:
        """The whole sessions among a batch's runs (``pieces``) that the runs will close: each
        run that starts a session and is followed by one that starts the next. The first run
        starts one when the thread's session holds no turn yet or when it opens a new one; the
        batch's last session stays open, and a run cut by ``ingest_chunk`` holds part of a
        session."""

        def starts(n: int) -> bool:
            if n:
                return self._opens(pieces[n - 1][-1].ts, pieces[n][0])
            return not thread.get("stm") or self._opens(thread.get("last_ts"), pieces[0][0])

        return [pieces[n] for n in range(len(pieces) - 1) if starts(n) and starts(n + 1)]

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
            batch.append(Said(role=utt.role, speaker=utt.speaker, text=text, ts=ts,
                              opens_session=utt.session_start))
        return batch

    def end_session(self, user_id: Who, *, at: Any = None,
                    conversation: str | None = None) -> Event | None:
        """End the conversation's session now: it is summarised into a long-term event
        (returned)."""
        scope = check_scope(user_id)
        conv = self._conversation(scope, conversation)
        at_s = self._check_at(at)
        with self._lock(scope), self._undo_on_failure(scope, conv) as thread:
            now = self._time_of(at_s, thread)
            state = self.graph.invoke({"kind": "end_session", "text": ""},
                                      thread_config(scope, conv),
                                      context=self._context(scope, conv, now),
                                      durability=_DURABILITY)
        return state.get("closed_event")

    def feedback(self, user_id: Who, text: str, *, at: Any = None,
                 conversation: str | None = None) -> FeedbackReceipt:
        """Correct the agent's last reply in the conversation; later similar requests (in any of
        the user's conversations) will carry the correction."""
        scope = check_scope(user_id)
        text = check_text(text, max_chars=self.settings.limits.max_message_chars,
                          what="feedback")
        conv = self._conversation(scope, conversation)
        at_s = self._check_at(at)
        with self._lock(scope), self._undo_on_failure(scope, conv) as thread:
            now = self._time_of(at_s, thread)
            state = self.graph.invoke({"kind": "feedback", "text": text},
                                      thread_config(scope, conv),
                                      context=self._context(scope, conv, now),
                                      durability=_DURABILITY)
        stored = state["stored_feedback"]
        return FeedbackReceipt(feedback_id=stored.id, request=stored.request,
                               feedback=stored.feedback, trait=stored.trait)

    def preview(self, user_id: Who, text: str, *, at: Any = None,
                conversation: str | None = None) -> Reply:
        """The reply :meth:`chat` would give to ``text`` now, storing nothing: no turn, no
        trait, no session change, no feedback hit (evaluations with teacher forcing, "what would
        it say" tools)."""
        scope = check_scope(user_id)
        text = check_text(text, max_chars=self.settings.limits.max_message_chars)
        conv = self._conversation(scope, conversation)
        now = self._at_or_now(at)
        with self._lock(scope):
            values = dict(self.graph.get_state(thread_config(scope, conv)).values)
            state = self._preview_graph.invoke(
                {**values, "kind": "preview", "text": text},
                context=self._context(scope, conv, now))
        return self._reply(scope, conv, state)

    def recall(self, user_id: Who, query: str, *, at: Any = None, k: int | None = None,
               min_score: float | None = DEFAULT) -> Recall:
        """What Kindred remembers about ``user_id`` for ``query``, ranked, with every component
        score: the same recall a chat turn makes (events, turns, the correction that applies),
        without storing anything. ``k``: turns (default ``turns_k``); ``min_score``: the floor
        of a turn's score (default ``turn_min_score``, as chat; None ranks every candidate)."""
        scope = check_scope(user_id)
        query = check_text(query, max_chars=self.settings.limits.max_message_chars,
                           what="query")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise InvalidInputError(f"k must be a non-negative integer, got {k!r}.")
        now = self._at_or_now(at)
        if min_score is not DEFAULT and min_score is not None and not isinstance(min_score,
                                                                                (int, float)):
            raise InvalidInputError(f"min_score must be a number or None, got {min_score!r}.")
        return recall(self._services, self._sync(scope), query, now, k=k, min_score=min_score,
                      count_hit=False)

    # ---------------------------------------------------------------- async twins
    async def achat(self, user_id: Who, text: str, **options: Any) -> Reply:
        return await asyncio.to_thread(self.chat, user_id, text, **options)

    async def astream(self, user_id: Who, text: str, **options: Any
                      ) -> AsyncIterator[str | Retraction | Reply]:
        iterator = self.stream(user_id, text, **options)
        while (item := await asyncio.to_thread(next, iterator, _SENTINEL)) is not _SENTINEL:
            yield item

    async def aend_session(self, user_id: Who, **options: Any) -> Event | None:
        return await asyncio.to_thread(self.end_session, user_id, **options)

    async def afeedback(self, user_id: Who, text: str, **options: Any) -> FeedbackReceipt:
        return await asyncio.to_thread(self.feedback, user_id, text, **options)

    # ---------------------------------------------------------------- conversations
    def create_conversation(self, user_id: Who, title: str | None = None, *,
                            conversation_id: str | None = None, at: Any = None) -> Conversation:
        """Start a new conversation of the user (its own thread and sessions, the user's shared
        long-term memory). ``conversation_id``: choose the id (default a fresh ``c-…``)."""
        scope = check_scope(user_id)
        conv_id = (check_conversation_id(conversation_id) if conversation_id is not None
                   else f"c-{uuid.uuid4().hex[:12]}")
        title = check_text(title, max_chars=200, what="title") if title is not None else None
        now = self._at_or_now(at)
        with self._lock(scope):
            if self.conversations.get(scope, conv_id) is not None or (
                    conv_id == DEFAULT_CONVERSATION and self._thread_values(scope, "")):
                raise ConflictError(f"The user already has a conversation {conv_id!r}: choose "
                                    "another id, or leave it out for a fresh one.")
            return self.conversations.put(scope, Conversation(
                id=conv_id, title=title or "New conversation", created_at=now, updated_at=now))

    def list_conversations(self, user_id: Who) -> list[Conversation]:
        """The user's conversations, most recently written first (a data dir from before
        conversations existed shows its one thread as ``default``)."""
        scope = check_scope(user_id)
        found = self.conversations.list(scope)
        if not any(c.id == DEFAULT_CONVERSATION for c in found):
            values = self._thread_values(scope, "")
            if values.get("last_ts") is not None:
                ts = float(values["last_ts"])
                found.append(Conversation(id=DEFAULT_CONVERSATION, title="Conversation",
                                          created_at=ts, updated_at=ts))
        return found

    def rename_conversation(self, user_id: Who, conversation: str, title: str) -> Conversation:
        scope = check_scope(user_id)
        conversation = check_conversation_id(conversation)
        title = check_text(title, max_chars=200, what="title")
        with self._lock(scope):
            found = self.conversations.require(scope, conversation)
            if found is None:  # the default conversation, before its first turn
                now = time.time()
                found = Conversation(id=conversation, title=title, created_at=now,
                                     updated_at=now)
            return self.conversations.put(scope, found.model_copy(update={"title": title}))

    def delete_conversation(self, user_id: Who, conversation: str) -> bool:
        """Delete a conversation: its thread, its turns and the events of its sessions. What was
        learnt about the user in it (traits, corrections) stays; :meth:`forget` removes all.
        Returns whether it held anything."""
        scope = check_scope(user_id)
        conversation = check_conversation_id(conversation)
        conv = stored_id(conversation)
        with self._lock(scope):
            self.conversations.require(scope, conversation)
            turn_ids = self.conversations.ids_of(scope, conversation, "turn")
            event_ids = self.conversations.ids_of(scope, conversation, "event")
            held = bool(turn_ids or event_ids or self._thread_values(scope, conv)
                        or self.conversations.get(scope, conversation))
            unit = self.memory.unit()
            self.memory.turns.delete(scope, turn_ids, unit=unit)
            self.memory.events.delete(scope, event_ids, unit=unit)
            self.conversations.delete(scope, conversation, unit)
            unit.commit()
            self._checkpointer.delete_thread(thread_config(scope, conv)["configurable"]["thread_id"])
        return held

    def _thread_values(self, scope: Scope, conv: str) -> dict[str, Any]:
        return dict(self.graph.get_state(thread_config(scope, conv)).values)

    # ---------------------------------------------------------------- memory API
    def list_memories(self, user_id: Who, kind: str | None = None, *,
                      conversation: str | None = None,
                      include_history: bool = False) -> list[MemoryItem]:
        """Every item Kindred holds about the user (turns, events, traits, feedback), oldest
        first; ``kind`` picks one kind, ``conversation`` narrows turns and events to one thread."""
        scope = self._require_user(user_id)
        return memory_api.list_items(self, scope, kind, conversation=conversation,
                                     include_history=include_history)

    def search_memories(self, user_id: Who, query: str, *, k: int = 10,
                        kinds: Sequence[str] | None = None, at: Any = None) -> list[ScoredMemory]:
        """Items of every kind ranked for ``query`` with the scores that ranked them."""
        scope = self._require_user(user_id)
        query = check_text(query, max_chars=self.settings.limits.max_message_chars, what="query")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 200:
            raise InvalidInputError(f"k must be an integer from 1 to 200, got {k!r}.")
        return memory_api.search_items(self, self._sync(scope), query, k=k,
                                       kinds=tuple(kinds) if kinds else None,
                                       now=self._at_or_now(at))

    def get_memory(self, user_id: Who, kind: str, item_id: str) -> MemoryItem:
        return memory_api.get_item(self, self._require_user(user_id), kind, str(item_id))

    def edit_memory(self, user_id: Who, kind: str, item_id: str, text: str, *,
                    at: Any = None) -> MemoryItem:
        """Replace one item's text (a trait keeps its old wording in its history); every store
        is brought in step (an edited turn's words and vector are derived again)."""
        scope = self._require_user(user_id)
        now = self._at_or_now(at)
        with self._lock(scope):
            return memory_api.edit_item(self, scope, kind, str(item_id), text, now=now)

    def delete_memory(self, user_id: Who, kind: str, item_id: str) -> None:
        """Delete one item of any kind from every store."""
        scope = self._require_user(user_id)
        with self._lock(scope):
            memory_api.delete_item(self, scope, kind, str(item_id))

    def export_user(self, user_id: Who) -> ExportDocument:
        """Everything held about the user as one document (``.model_dump(mode="json",
        by_alias=True)`` is the JSON that :meth:`import_user` reads back)."""
        scope = self._require_user(user_id)
        with self._lock(scope):
            return transfer.export_user(self, scope)

    def import_user(self, user_id: Who, document: ExportDocument | dict[str, Any], *,
                    replace: bool = False) -> int:
        """Restore an export under ``user_id`` (refused when that user already has memory,
        unless ``replace``). Returns how many records were restored."""
        return transfer.import_user(self, check_scope(user_id), document, replace=replace)

    # ---------------------------------------------------------------- listing
    def known_user(self, user_id: Who) -> bool:
        """Whether Kindred holds anything for ``user_id``."""
        scope = check_scope(user_id)
        if self._thread_values(scope, ""):
            return True
        records = self.memory.stores.records
        return any(records.count(scope, kind) for kind in _USER_KINDS)

    def users(self, tenant: str = DEFAULT_TENANT) -> list[str]:
        """The ids of every user of ``tenant`` Kindred holds memory of, sorted."""
        check_scope(Scope(user="probe", tenant=tenant))
        return sorted(s.user for s in self.memory.stores.records.scopes(tenant=tenant))

    def _require_user(self, user_id: Who) -> Scope:
        scope = check_scope(user_id)
        if not self.known_user(scope):
            raise UnknownUserError(f"Kindred has no memory of user {scope.user!r}: chat with "
                                   "them first (or check the spelling of the id).")
        return scope

    def memories(self, user_id: Who, *, conversation: str | None = None) -> MemoryView:
        """What Kindred remembers about the user: the conversation's session, past events,
        feedback."""
        scope = self._require_user(user_id)
        values = self._thread_values(scope, self._conversation(scope, conversation))
        return MemoryView(
            user_id=scope.user, session_id=values.get("session_id"),
            session_turns=[Turn.model_validate(t) for t in values.get("stm") or []],
            events=self.memory.events.list(scope), turn_count=self.memory.turns.count(scope),
            feedback=self.memory.feedback.list(scope))

    def persona(self, user_id: Who, owner: str = "user", *,
                include_history: bool = False) -> list[Trait]:
        """The user's (or, with ``owner="agent"``, the agent's) traits for this user."""
        scope = self._require_user(user_id)
        if owner not in ("user", "agent"):
            raise InvalidInputError("owner must be 'user' or 'agent'.")
        return self.personas.list(scope, owner, include_history=include_history)  # type: ignore[arg-type]

    def correct_trait(self, user_id: Who, trait_id: str, text: str, *, at: Any = None) -> Trait:
        """Replace a trait's wording; the old one stays in the history."""
        scope = self._require_user(user_id)
        text = check_text(text, max_chars=500, what="trait")
        with self._lock(scope):
            return self.personas.correct(scope, trait_id, text, self._at_or_now(at))

    def delete_trait(self, user_id: Who, trait_id: str) -> None:
        """Delete one trait for good."""
        scope = self._require_user(user_id)
        with self._lock(scope):
            self.personas.delete(scope, trait_id)

    def forget(self, user_id: Who) -> bool:
        """Remove every trace of the user from every store (every conversation). Returns whether
        anything was held."""
        scope = check_scope(user_id)
        with self._lock(scope):
            held = self.known_user(scope)
            convs = [stored_id(c.id) for c in self.conversations.list(scope)]
            self._threads.delete([thread_config(scope, conv)["configurable"]["thread_id"]
                                  for conv in sorted({"", *convs})])
            compact = self.settings.storage.compact_on_forget
            self._threads.compact(vacuum=compact)  # old log frames and pages hold the thread
            self.memory.forget(scope, compact=compact)
        return held

    # ---------------------------------------------------------------- plumbing
    def build_graph(self, checkpointer: Any = None) -> Any:
        """Kindred's turn graph over this agent's memory and model, compiled with
        ``checkpointer`` (None: the caller's app or LangGraph's platform supplies one; ``True``:
        as a subgraph that keeps its own thread). Run it with ``context=TurnContext(...)``."""
        return compile_graph(self._services, checkpointer)

    @property
    def agent_name(self) -> str:
        """The agent's name, from its persona card."""
        return self._services.card.name

    @property
    def model_name(self) -> str:
        """The chat model in words ("local SmolLM2-135M-Instruct", "openai:gpt-4o", …)."""
        return self._model_label

    def _lock(self, scope: Scope) -> AbstractContextManager[None]:
        """One user at a time, across threads and replicas: a user's conversations share their
        long-term memory, so their turns are serialised too (memory/locks.py)."""
        return self._locks.hold(scope)

    def _sync(self, scope: Scope) -> Scope:
        """Before a read that takes no lock: drop caches another replica has outgrown."""
        self._locks.sync(scope)
        return scope

    def close(self) -> None:
        """Release the stores' files and connections (safe to call twice)."""
        if not getattr(self, "_closed", False):
            self._closed = True
            self._threads.close()
            self.memory.close()

    def __enter__(self) -> Kindred:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
