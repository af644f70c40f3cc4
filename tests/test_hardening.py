"""Every input answered, nothing half-done: same-user concurrency, time, Unicode, ids, one error
shape, limits. A failing call leaves every store exactly as it was (compared before and after)."""

from __future__ import annotations

import json
import logging
import threading
import time
from io import StringIO

import numpy as np
import pytest
from conftest import DAY, T0

from memory.errors import InvalidInputError
from test_service import _Server


def _everything(bot, user: str):
    """Every record, vector and thread value the user has (a failing call must change none)."""
    from memory.scope import Scope

    scope = Scope(user)
    records = {kind: [(r.id, dict(r.value), r.status) for r in bot.memory.stores.records.list(
        scope, kind)] for kind in ("turn", "event", "trait", "feedback")}
    vectors = {c: sorted(i["id"] for i in bot.memory.stores.vectors.get(c, scope))
               for c in bot.memory.stores.vectors.collections}
    values = bot.graph.get_state({"configurable": {"thread_id": f"user:{user}"}}).values
    thread = {k: v for k, v in values.items() if k != "trace"}
    return records, vectors, repr(sorted(thread.items(), key=lambda kv: kv[0]))


@pytest.fixture
def bot(make_bot):
    b = make_bot()
    b.chat("alice", "My dog is called Biscuit.", at=T0)
    b.chat("alice", "I live in Lisbon.", at=T0 + 10)
    return b


def test_two_threads_chatting_as_one_user_all_succeed_in_order(make_bot):
    """Before: 17 of 80 calls failed 'dated …, before the previous turn' (the clock was read
    before the user's lock was taken)."""
    bot = make_bot()
    errors: list[Exception] = []

    def talk(n: int) -> None:
        for i in range(20):
            try:
                bot.chat("sam", f"message {n}-{i} about my garden", at=None)
            except Exception as exc:  # collected: the test asserts there are none
                errors.append(exc)

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = bot.memory.turns.list("sam")
    assert len(turns) == 80 and len({t.id for t in turns}) == 80
    times = [t.ts for t in turns]
    assert times == sorted(times)


def test_a_turn_without_a_time_after_one_dated_a_little_ahead_is_taken(make_bot):
    bot = make_bot()
    ahead = time.time() + 120  # a client whose clock runs two minutes fast (within tolerance)
    bot.chat("kai", "Hello from a fast clock.", at=ahead)
    reply = bot.chat("kai", "And now from the server's clock.")
    assert reply.trace.now == ahead and bot.memory.turns.count("kai") == 4


def test_a_turn_a_few_milliseconds_behind_the_last_one_is_taken(bot):
    reply = bot.chat("alice", "And my cat is Pixel.", at=T0 + 9.999)
    assert reply.trace.now == T0 + 10  # put just after the last turn, not refused
    with pytest.raises(InvalidInputError, match="before the previous turn"):
        bot.chat("alice", "Replayed out of order.", at=T0 - 3600)


@pytest.mark.parametrize("at", [1e10, 1e12, 1e300, 2.5e39, time.time() + 3600,
                                "9999-12-31T23:59:59Z", "2300-01-01T00:00:00+00:00"])
def test_times_out_of_range_or_in_the_future_are_refused_and_change_nothing(bot, at):
    before = _everything(bot, "alice")
    with pytest.raises(InvalidInputError, match="out of range|later than this server"):
        bot.chat("alice", "A message from the future.", at=at)
    for call in (lambda: bot.end_session("alice", at=at),
                 lambda: bot.feedback("alice", "No, I meant something else.", at=at),
                 lambda: bot.ingest("alice", [{"speaker": "alice", "text": "x y z", "at": at}])):
        with pytest.raises(InvalidInputError):
            call()
    assert _everything(bot, "alice") == before  # the session was not closed, nothing stored
    assert bot.chat("alice", "Still here?", at=T0 + 20).session_id == "s0001"


@pytest.mark.parametrize("text", ["\ud800", "I like tea \udfff.", "half a pair \ud83d here"])
def test_lone_surrogates_are_refused_everywhere_and_change_nothing(bot, text):
    before = _everything(bot, "alice")
    for call in (lambda: bot.chat("alice", text, at=T0 + 20),
                 lambda: bot.feedback("alice", text, at=T0 + 20),
                 lambda: bot.ingest("alice", [{"speaker": "alice", "text": text, "at": T0 + 20}]),
                 lambda: bot.ingest("alice", [{"speaker": text, "text": "hi", "at": T0 + 20}])):
        with pytest.raises(InvalidInputError, match="surrogate|unicode"):
            call()
    assert _everything(bot, "alice") == before


@pytest.mark.parametrize("user", ["alice\n", "alice\r\n", "ali ce", "alice\u202e", "éva"])
def test_user_ids_are_matched_whole(bot, user):
    with pytest.raises(InvalidInputError, match="user_id"):
        bot.chat(user, "Hello!", at=T0 + 20)


def test_control_bidi_and_zero_width_characters_are_neutralised_in_the_terminal(make_bot):
    from rich.console import Console

    from agent.chat_loop import ChatLoop
    from agent.validation import for_terminal

    assert for_terminal("red \x1b[31malert\x1b[0m, \u202eevil\u202c, zero\u200bwidth\nok") == \
        "red \\u001b[31malert\\u001b[0m, \\u202eevil\\u202c, zero\\u200bwidth\nok"
    bot = make_bot()
    bot.chat("mal", "My name is \x1b[2JMallory\u202e and I live in Oslo.", at=T0)
    out = StringIO()
    ChatLoop(bot, "mal", Console(file=out, width=200, color_system=None)).handle("/persona")
    shown = out.getvalue()
    assert "\x1b" not in shown and "\u202e" not in shown and "\\u001b" in shown


def test_ingest_is_bounded_per_call_with_a_message_that_names_the_bound(make_bot):
    bot = make_bot(limits={"max_ingest_utterances": 10, "max_ingest_chars": 500})
    many = [{"speaker": "u", "text": f"line {i}", "at": T0 + i} for i in range(11)]
    with pytest.raises(InvalidInputError, match="more than the limit of 10"):
        bot.ingest("u", many)
    long = [{"speaker": "u", "text": "x" * 300, "at": T0 + i} for i in range(2)]
    with pytest.raises(InvalidInputError, match="more than 500 characters"):
        bot.ingest("u", long)
    assert not bot.known_user("u")
    ids = bot.ingest("u", many[:10])
    assert len(ids) == 10 and bot.memory.turns.count("u") == 10


def test_an_ingest_in_pieces_is_the_same_memory_as_in_one(make_bot, tmp_path):
    lines = [{"speaker": "u", "text": f"I visited city number {i} last year.", "at": T0 + i * 60}
             for i in range(30)] + [{"speaker": "u", "text": "Back home again.", "at": T0 + DAY}]
    whole = make_bot(data_dir=tmp_path / "whole")
    pieces = make_bot(data_dir=tmp_path / "pieces", limits={"ingest_chunk": 7})
    assert whole.ingest("u", lines) == pieces.ingest("u", lines)
    for b in (whole, pieces):
        b.end_session("u", at=T0 + DAY + 5)
    assert [e.session_id for e in whole.memory.events.list("u")] == \
        [e.session_id for e in pieces.memory.events.list("u")] == ["s0001", "s0002"]


# ----------------------------------------------------------------------------- HTTP
class _ExplodingEmbedder:
    """A test stand-in: the real embedder, except that a text with "explode" raises an
    unexpected (non-Kindred) error, so the service's last-resort path can be exercised."""

    def __init__(self, inner) -> None:
        self._inner, self.dim = inner, inner.dim

    def embed(self, texts):
        if any("explode" in t for t in texts):
            raise RuntimeError("an unexpected failure, for the test")
        return self._inner.embed(texts)


def test_the_exploding_embedder_is_the_real_one_otherwise(embedder):
    fake = _ExplodingEmbedder(embedder)
    assert np.allclose(fake.embed(["hello"]), embedder.embed(["hello"]))
    with pytest.raises(RuntimeError):
        fake.embed(["please explode"])


@pytest.fixture
def served(make_bot, embedder):
    bot = make_bot(embedder=_ExplodingEmbedder(embedder), service={"max_body_bytes": 100_000})
    from agent.service import create_app

    server = _Server(create_app(bot))
    client = server.__enter__()
    yield client
    server.__exit__(None, None, None)


def test_every_error_has_the_one_shape(served):
    cases = [served.post("/v1/users/alice/chat", json={"txt": "typo"}),
             served.post("/v1/users/alice/chat", content=b"{not json",
                         headers={"content-type": "application/json"}),
             served.post("/v1/users/alice/chat", json={"text": 42}),
             served.get("/v1/no/such/route"),
             served.put("/v1/users/alice/chat", json={"text": "hi"}),
             served.get("/v1/users/nobody/memories"),
             served.post("/v1/users/alice/chat", content=b'{"text": "\\ud800 lone"}',
                         headers={"content-type": "application/json"})]
    for res in cases:
        body = res.json()
        assert 400 <= res.status_code < 500 and set(body) == {"error", "detail"}, body
        assert body["detail"] and isinstance(body["detail"], str)
    assert [r.status_code for r in cases] == [422, 422, 422, 404, 405, 404, 422]


def test_an_unexpected_failure_is_a_json_500_with_an_id_the_log_prints(served, caplog):
    with caplog.at_level(logging.ERROR, logger="kindred.service"):
        res = served.post("/v1/users/alice/chat", json={"text": "please explode now"})
    body = res.json()
    assert res.status_code == 500 and body["error"] == "InternalError" and body["error_id"]
    assert body["error_id"] in body["detail"] and body["error_id"] in caplog.text
    again = served.post("/v1/users/alice/chat", json={"text": "Hello again."})
    assert again.status_code == 200  # the same keep-alive connection is still usable
    assert served.get("/v1/users/alice/memories").json()["turn_count"] == 2  # nothing half-stored


def test_a_stream_that_fails_ends_with_an_error_line_and_the_connection_stays(served):
    res = served.post("/v1/users/alice/chat/stream", json={"text": "please explode now"})
    lines = [json.loads(line) for line in res.text.splitlines() if line.strip()]
    assert res.status_code == 200 and lines[-1]["error"]["error"] == "InternalError"
    assert lines[-1]["error"]["error_id"]
    assert served.post("/v1/users/alice/chat", json={"text": "Still there?"}).status_code == 200


def test_a_body_over_the_limit_is_refused_unread(served):
    res = served.post("/v1/users/alice/ingest",
                      content=json.dumps({"utterances": [{"speaker": "a", "text": "x" * 200_000}]}),
                      headers={"content-type": "application/json"})
    assert res.status_code == 413 and res.json()["error"] == "TooLarge"
    assert "100,000 bytes" in res.json()["detail"]
    assert served.get("/v1/users/alice/memories").status_code == 404  # nothing was stored


def test_two_http_clients_of_one_user_all_succeed(served):
    import httpx

    base = str(served.base_url)
    statuses: list[int] = []

    def talk(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            for i in range(10):
                route = "/v1/users/pat/chat/stream" if n == 2 else "/v1/users/pat/chat"
                res = client.post(route, json={"text": f"note {n}-{i}"})
                ok = res.status_code == 200 and (n != 2 or '"reply"' in res.text.splitlines()[-1])
                statuses.append(200 if ok else res.status_code)  # a stream must not be cut

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 30
    assert served.get("/v1/users/pat/memories").json()["turn_count"] == 60
