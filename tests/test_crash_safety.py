"""Crash safety with real processes: a Kindred process killed with SIGKILL at random points of
chat, ingest, consolidation and feedback, 20 times, loses no acknowledged turn, leaves no
duplicate turn or event, and reopens with all stores agreeing (the same turn ids in records, words
and vectors; every closed session with one event, with its vector). Also the repair itself, on a
data dir damaged the way a kill damages it."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import DAY, T0

from agent import Kindred
from graphs import thread_config
from graphs.nodes import event_id_for, session_id_for

WORKER = str(Path(__file__).with_name("crash_worker.py"))


def _agree(bot: Kindred) -> dict[str, int]:
    """Every store holds the same items; returns what was counted."""
    stores, counted = bot.memory.stores, Counter()
    for scope in stores.records.scopes():
        turns = {r.id for r in stores.records.list(scope, "turn")}
        assert set(stores.lexical.ids(scope)) == turns, scope
        assert {i["id"] for i in stores.vectors.get("turns", scope)} == turns, scope
        events = {r.id for r in stores.records.list(scope, "event")}
        assert {i["id"] for i in stores.vectors.get("events", scope)} == events, scope
        active = {r.id for r in stores.records.list(scope, "trait", status="active")}
        assert {i["id"] for i in stores.vectors.get("traits", scope)} == active, scope
        feedback = {r.id for r in stores.records.list(scope, "feedback")}
        assert {i["id"] for i in stores.vectors.get("feedback", scope)} == feedback, scope
        texts = Counter(r.value["text"] for r in stores.records.list(scope, "turn")
                        if r.value["text"].startswith(("Message ", "Replayed ")))  # unique ones
        assert max(texts.values(), default=1) == 1, "a duplicated turn"
        # every closed session that has turns has its one event
        values = bot.graph.get_state(thread_config(scope)).values
        number = values.get("session_no", 0)
        closed = number - 1 if values.get("session_id") else number
        for n in range(1, closed + 1):
            session = session_id_for(n)
            if stores.records.list(scope, "turn", session=session):
                assert event_id_for(scope.user, session) in events, (scope, session)
        counted["turns"] += len(turns)
        counted["events"] += len(events)
    return dict(counted)


@pytest.mark.parametrize("pair", ["sqlite-embedded", "sqlite-server", "postgres-server"])
def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path, embedder, pair, request):
    """Records and words in SQLite with vectors in embedded Chroma and in a Chroma server, and
    records, words and threads in PostgreSQL with vectors in a Chroma server."""
    data, log = tmp_path / "data", tmp_path / "calls.log"
    env, storage = dict(os.environ), {}
    records, vectors = pair.split("-")
    if vectors == "server":
        from memory.backends.chroma import ChromaVectorIndex

        host, port = request.getfixturevalue("chroma_server")
        shared = ChromaVectorIndex.server(host, port)
        shared.reset()  # the server is shared by the session's tests
        shared.close()
        env.update(KINDRED_CHROMA_HOST=host, KINDRED_CHROMA_PORT=str(port))
        storage = {"chroma_host": host, "chroma_port": port}
    if records == "postgres":
        url = request.getfixturevalue("database_url")
        env.update(KINDRED_DATABASE_URL=url)
        storage["database_url"] = url
    storage = {"storage": storage} if storage else {}
    rng = random.Random(7)
    kills = 20
    for k in range(kills):
        proc = subprocess.Popen([sys.executable, WORKER, str(data), str(log)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while (log.read_text() if log.exists() else "").count("\nready ") + \
                (log.read_text() if log.exists() else "").startswith("ready ") <= k:
            if proc.poll() is not None:
                pytest.fail(f"the worker died on its own: {proc.stderr.read()}")
            if time.time() > deadline:
                pytest.fail("the worker did not start within 120 s")
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    lines = log.read_text().splitlines()
    acked = [json.loads(line.split(" ", 4)[4]) for line in lines if line.startswith("ack ")]
    tried = {line.split()[1]: line.split()[2] for line in lines if line.startswith("try ")}
    done = {line.split()[1] for line in lines if line.startswith("ack ")}
    cut = Counter(op for n, op in tried.items() if n not in done)
    assert sum(cut.values()) >= kills * 0.8, cut  # most kills landed inside a call
    repairs = [json.loads(line[6:]) for line in lines if line.startswith("ready ")]
    with Kindred(data_dir=data, chat_model="fake", embedder=embedder, **storage) as bot:
        counted = _agree(bot)
        stored = {r.id for s in bot.memory.stores.records.scopes()
                  for r in bot.memory.stores.records.list(s, "turn")}
        lost = [tid for ids in acked for tid in ids if tid not in stored]
        assert not lost, f"{len(lost)} acknowledged turns are in no store"
    print(f"\n{pair}: {kills} kills, cut calls {dict(cut)}, {len(acked)} acknowledged calls, "
          f"stored {counted}, repairs on reopen: "
          f"{sum(bool(r['vectors_added'] or r['events_made']) for r in repairs)}")


def test_the_repair_puts_right_what_a_kill_leaves(make_bot, tmp_path):
    data = tmp_path / "d"
    bot = make_bot(data_dir=data, personas={"extractor": "rules"})
    bot.chat("ann", "My cat is called Pixel.", at=T0)
    bot.chat("ann", "I live in Porto.", at=T0 + 60)
    bot.chat("ann", "Hello again.", at=T0 + 2 * DAY)  # closes s0001
    event = event_id_for("ann", "s0001")
    turn = "ann/s0002/0"
    # what a kill leaves: a turn and an event without vectors, a closed session without event
    bot.memory.stores.vectors.delete("turns", "ann", [turn])
    bot.memory.stores.vectors.delete("events", "ann", [event])
    bot.memory.stores.vectors.add("traits", "ann", ["tr-orphan"],
                                  bot.memory.embedder.embed(["orphan"]), [{"owner": "user"}])
    bot.end_session("ann", at=T0 + 2 * DAY + 60)
    bot.memory.events.delete("ann", [event_id_for("ann", "s0002")])
    bot.close()
    again = make_bot(data_dir=data, personas={"extractor": "rules"})
    report = again.last_repair
    assert report.vectors_added == {"turns": 1, "events": 1}
    assert report.vectors_removed == {"traits": 1}
    assert report.events_made == [event_id_for("ann", "s0002")]
    _agree(again)
    assert make_bot(data_dir=data).last_repair.changed is False  # nothing left to do
