"""Replicas: two real ``kindred serve`` processes sharing one PostgreSQL and one Chroma server.

What the peers' users report (mem0 #6515 duplicates from concurrent adds, #3695 deleted memories
still searchable) is what these rule out, across processes: one user's messages sent to both
replicas at once are all stored, in order, once; a session is consolidated once whichever replica
closes it; what one replica deletes the other no longer finds, and what one stores the other
recalls (each replica's in-process vectors notice the other's writes)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port

from agent import Kindred
from conftest import T0

KINDRED = str(Path(sys.executable).parent / "kindred")


def _serve(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([KINDRED, "serve", "--model", "fake", "--port", str(port),
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    deadline = time.time() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).raise_for_status()
            return proc, f"http://127.0.0.1:{port}/v1/users"
        except (httpx.TransportError, httpx.HTTPStatusError):
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"kindred serve did not start: {proc.stdout.read()}")
            time.sleep(0.5)


@pytest.fixture
def replicas(tmp_path, database_url, chroma_server):
    host, port = chroma_server
    env = {"KINDRED_DATABASE_URL": database_url, "KINDRED_CHROMA_HOST": host,
           "KINDRED_CHROMA_PORT": str(port)}
    from memory.backends.chroma import ChromaVectorIndex

    ChromaVectorIndex.server(host, port).reset()
    procs = [_serve(tmp_path / f"replica{n}", env) for n in (1, 2)]
    yield [url for _, url in procs], {"database_url": database_url, "chroma_host": host,
                                      "chroma_port": port}
    for proc, _ in procs:
        proc.terminate()
        proc.wait(timeout=30)


def _stores_agree(bot: Kindred, user: str) -> list:
    stores = bot.memory.stores
    turns = stores.records.list(user, "turn")
    ids = [r.id for r in turns]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(stores.lexical.ids(user))
    assert sorted(ids) == sorted(i["id"] for i in stores.vectors.get("turns", user))
    return turns


def test_one_users_messages_to_two_replicas_at_once_are_all_kept_in_order(replicas, tmp_path,
                                                                          embedder):
    (a, b), storage = replicas
    sent: dict[str, list[str]] = {a: [], b: []}
    errors: list[str] = []

    def talk(url: str, name: str) -> None:
        with httpx.Client(timeout=60) as client:
            for n in range(8):
                text = f"Message {n} from the {name} side."
                r = client.post(f"{url}/cleo/chat", json={"text": text})
                if r.status_code != 200:
                    errors.append(r.text)
                sent[url].append(text)

    threads = [threading.Thread(target=talk, args=(u, name)) for u, name in ((a, "A"), (b, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Kindred(data_dir=tmp_path / "reader", chat_model="fake", embedder=embedder,
                 storage=storage) as bot:
        turns = _stores_agree(bot, "cleo")
        said = [r.value["text"] for r in turns if r.value["role"] == "user"]
        assert sorted(said) == sorted(sent[a] + sent[b]) and len(said) == 16
        for side in (a, b):  # each side's messages in the order it sent them
            assert [t for t in said if t in sent[side]] == sent[side]
        assert [r.seq for r in turns] == list(range(32))  # one session, no gap, no repeat
        assert all(turns[i].ts <= turns[i + 1].ts for i in range(31))


def test_a_session_closed_on_both_replicas_at_once_is_consolidated_once(replicas, tmp_path,
                                                                        embedder):
    (a, b), storage = replicas
    for n in range(3):
        httpx.post(f"{(a, b)[n % 2]}/dora/chat", json={"text": f"I grow tomatoes, batch {n}.",
                                                       "at": T0 + n}, timeout=60
                   ).raise_for_status()
    results: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda u=u: results.append(httpx.post(
        f"{u}/dora/end_session", json={"at": T0 + 100}, timeout=60))) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200]
    made = [r.json() for r in results if r.json() is not None]
    assert len(made) == 1 and made[0]["session_id"] == "s0001"
    # a session boundary seen by the other replica (a gap longer than beta_s) closes s0002 once
    httpx.post(f"{a}/dora/chat", json={"text": "Back again.", "at": T0 + 200},
               timeout=60).raise_for_status()
    httpx.post(f"{b}/dora/chat", json={"text": "A week later.", "at": T0 + 8 * 86400},
               timeout=60).raise_for_status()
    with Kindred(data_dir=tmp_path / "reader", chat_model="fake", embedder=embedder,
                 storage=storage) as bot:
        events = bot.memory.events.list("dora")
        assert sorted(e.session_id for e in events) == ["s0001", "s0002"]
        assert sorted(i["id"] for i in bot.memory.stores.vectors.get("events", "dora")) == sorted(
            e.id for e in events)


def test_each_replica_sees_what_the_other_stored_and_deleted(replicas):
    (a, b), _ = replicas
    httpx.post(f"{a}/emil/chat", json={"text": "My sister lives in Porto.", "at": T0},
               timeout=60).raise_for_status()

    def found(url: str, query: str) -> list[dict]:
        r = httpx.get(f"{url}/emil/memory/search", params={"q": query, "kind": "turn"},
                      timeout=60)
        r.raise_for_status()
        return [hit for hit in r.json() if hit["kind"] == "turn"]

    assert any("Porto" in h["text"] for h in found(a, "where does my sister live"))  # warm on A
    httpx.post(f"{b}/emil/chat", json={"text": "My dog is called Biscuit.", "at": T0 + 60},
               timeout=60).raise_for_status()
    assert any("Biscuit" in h["text"] for h in found(a, "what is my dog called"))
    porto = next(h for h in found(b, "where does my sister live") if "Porto" in h["text"])
    # an edit keeps the number of items: only the scope's version tells A its copy is stale
    httpx.patch(f"{b}/emil/memory/items/turn/{porto['id']}",
                json={"text": "My sister lives in Lyon."}, timeout=60).raise_for_status()
    on_a, on_b = (found(url, "where does my sister live") for url in (a, b))
    assert "My sister lives in Lyon." in [h["text"] for h in on_a]
    assert not any("Porto" in h["text"] for h in on_a)
    lyon_a, lyon_b = ({h["id"]: h for h in hits}[porto["id"]] for hits in (on_a, on_b))
    assert lyon_a["scores"] == lyon_b["scores"]  # A ranks with the new vector, not its old copy
    httpx.delete(f"{b}/emil/memory/items/turn/{porto['id']}", timeout=60).raise_for_status()
    assert not any("Lyon" in h["text"] for h in found(a, "where does my sister live"))
    recalled = httpx.post(f"{a}/emil/chat", json={  # a week later: a new session recalls
        "text": "Where does my sister live, and what is my dog called?",
        "at": T0 + 8 * 86400}, timeout=60).json()
    turns = [m["text"] for m in recalled["trace"]["retrieved"] if m["kind"] == "turn"]
    assert "My dog is called Biscuit." in turns and not any("Lyon" in t for t in turns)
