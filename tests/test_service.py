"""The HTTP service, through a real uvicorn server on loopback and a real HTTP client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from agent.service import create_app
from conftest import DAY, T0
from servers import free_port as _free_port


class _Server:
    """uvicorn serving an app in a background thread, on a free loopback port."""

    def __init__(self, app) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve(make_bot):
    servers = []

    def start(token: str | None = None, **overrides) -> httpx.Client:
        bot = make_bot(**overrides)
        server = _Server(create_app(bot, token=token))
        servers.append(server)
        return server.__enter__()

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_chat_remembers_across_sessions_and_explains(serve):
    http = serve()
    first = http.post("/v1/users/alice/chat", json={"text": "My dog is called Biscuit.", "at": T0})
    assert first.status_code == 200
    assert first.json()["session_id"] == "s0001" and first.json()["text"]
    later = http.post("/v1/users/alice/chat",
                      json={"text": "What is my dog called?", "at": T0 + 3 * DAY}).json()
    assert later["session_id"] == "s0002"
    assert any("Biscuit" in m["text"] for m in later["trace"]["retrieved"])
    assert all("dense" in m["scores"] for m in later["trace"]["retrieved"] if m["kind"] == "turn")
    persona = http.get("/v1/users/alice/persona").json()
    assert [t["text"] for t in persona] == ["My dog is called Biscuit."]
    memories = http.get("/v1/users/alice/memories").json()
    assert memories["turn_count"] == 4 and len(memories["events"]) == 1


def test_users_never_see_each_other(serve):
    http = serve()
    http.post("/v1/users/alice/chat", json={"text": "My PIN is hidden under the blue vase.", "at": T0})
    bob = http.post("/v1/users/bob/chat", json={"text": "Where is the PIN hidden? blue vase?",
                                                 "at": T0 + 60}).json()
    assert all("vase" not in m["text"] for m in bob["trace"]["retrieved"])
    bob_memory = http.get("/v1/users/bob/memories").json()
    assert all("vase" not in t["text"] for t in bob_memory["session_turns"] if t["role"] == "agent")
    assert bob_memory["turn_count"] == 2  # bob's own turn and reply only
    assert http.get("/v1/users/carol/memories").status_code == 404


def test_stream_sends_tokens_then_the_reply(serve):
    http = serve()
    with http.stream("POST", "/v1/users/dan/chat/stream", json={"text": "Hello there!", "at": T0}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line]
    tokens = [line["token"] for line in lines[:-1]]
    assert len(tokens) > 1 and "reply" in lines[-1]
    assert "".join(tokens).strip() == lines[-1]["reply"]["text"]


def test_stream_retracts_a_draft_that_contradicted_the_persona(serve):
    from fakes import RecordingChatModel

    http = serve(chat_model=RecordingChatModel(replies=["My name is Bob.", "I am Kindred."]),
                 persona_extractor="rules", summariser="extractive")
    with http.stream("POST", "/v1/users/eli/chat/stream", json={"text": "Who are you?", "at": T0}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    kinds = [next(iter(line)) for line in lines]
    cut = kinds.index("retract")
    assert lines[cut]["retract"] == {"reason": "persona_check"}
    assert "".join(line["token"] for line in lines[:cut]).strip() == "My name is Bob."
    assert "".join(line["token"] for line in lines[cut + 1:-1]).strip() == "I am Kindred."
    assert lines[-1]["reply"]["text"] == "I am Kindred." and kinds.count("retract") == 1


def test_feedback_endpoint_sticks_to_similar_requests_only(serve):
    http = serve()
    http.post("/v1/users/fay/chat", json={"text": "Recommend a restaurant for tonight.", "at": T0})
    receipt = http.post("/v1/users/fay/feedback",
                        json={"text": "I am vegetarian, so no steakhouses.", "at": T0 + 5})
    assert receipt.status_code == 200
    assert receipt.json()["request"] == "Recommend a restaurant for tonight."
    similar = http.post("/v1/users/fay/chat", json={
        "text": "Can you recommend a restaurant for tonight?", "at": T0 + DAY}).json()
    assert similar["trace"]["feedback"]["feedback"].startswith("I am vegetarian")
    unrelated = http.post("/v1/users/fay/chat",
                          json={"text": "What time is it in Tokyo?", "at": T0 + DAY + 5}).json()
    assert unrelated["trace"]["feedback"] is None
    assert http.post("/v1/users/gus/feedback", json={"text": "Wrong."}).status_code == 422


def test_an_implicit_correction_over_http_is_traced(serve):
    http = serve()
    http.post("/v1/users/ana/chat", json={"text": "Show me the blue jacket.", "at": T0})
    reply = http.post("/v1/users/ana/chat",
                      json={"text": "That's not what I asked, I wanted the red one.", "at": T0 + 20})
    implicit = reply.json()["trace"]["implicit_feedback"]
    assert implicit["request"] == "Show me the blue jacket."
    assert [f["feedback"] for f in http.get("/v1/users/ana/memories").json()["feedback"]] == [
        "That's not what I asked, I wanted the red one."]


def test_bad_requests_get_clear_errors_and_store_nothing(serve):
    http = serve(max_message_chars=1000)
    http.post("/v1/users/hal/chat", json={"text": "I live in Oslo.", "at": T0})
    before = http.get("/v1/users/hal/memories").json()
    cases = [
        ({"text": "   "}, "empty"),
        ({"text": "x" * 1001}, "limit"),
        ({"text": "\x00\x01\x02 binary"}, "binary"),
        ({"text": 42}, "string"),
        ({"txt": "typo"}, "text"),
        ({"text": "hi", "at": "yesterday"}, "at"),
        ({"text": "hi", "at": -5}, "non-negative"),
    ]
    for body, hint in cases:
        r = http.post("/v1/users/hal/chat", json=body)
        assert r.status_code == 422, body
        assert hint in r.text, (body, r.text)
    r = http.post("/v1/users/hal/chat", content=b"\xff\xfe not json",
                  headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.text.lower()
    r = http.post("/v1/users/bad%20id!/chat", json={"text": "hi"})
    assert r.status_code == 422 and "user_id" in r.json()["detail"]
    assert http.get("/v1/users/hal/memories").json() == before


def test_traits_can_be_corrected_and_deleted_and_users_forgotten(serve):
    http = serve()
    http.post("/v1/users/ivy/chat", json={"text": "I live in Paris.", "at": T0})
    http.post("/v1/users/ivy/chat", json={"text": "I have two cats.", "at": T0 + 60})
    traits = {t["text"]: t["id"] for t in http.get("/v1/users/ivy/persona").json()}
    corrected = http.put(f"/v1/users/ivy/persona/{traits['I live in Paris.']}",
                         json={"text": "I live in Lyon."})
    assert corrected.status_code == 200 and corrected.json()["text"] == "I live in Lyon."
    history = http.get("/v1/users/ivy/persona", params={"history": True}).json()
    assert {"I live in Paris.", "I live in Lyon."} <= {t["text"] for t in history}
    assert http.delete(f"/v1/users/ivy/persona/{traits['I have two cats.']}").status_code == 204
    assert "I have two cats." not in {t["text"] for t in http.get("/v1/users/ivy/persona").json()}
    assert http.put("/v1/users/ivy/persona/no-such-trait", json={"text": "x"}).status_code in (404, 422)
    assert http.delete("/v1/users/ivy").json() == {"user_id": "ivy", "held_memory": True}
    assert http.get("/v1/users/ivy/memories").status_code == 404
    assert http.delete("/v1/users/ivy").json()["held_memory"] is False


def test_ingest_and_end_session(serve):
    http = serve()
    r = http.post("/v1/users/jo/ingest", json={"utterances": [
        {"speaker": "Jo", "text": "I started learning the cello.", "at": T0},
        {"speaker": "Kindred", "role": "agent", "text": "How exciting!", "at": T0 + 5}]})
    assert r.status_code == 200 and len(r.json()["turn_ids"]) == 2
    event = http.post("/v1/users/jo/end_session", json={"at": T0 + 10}).json()
    assert "cello" in event["summary"]
    assert http.post("/v1/users/jo/ingest", json={"utterances": []}).status_code == 422


def test_token_guards_every_route_but_health(serve):
    http = serve(token="s3cret")
    assert http.get("/health").json()["status"] == "ok"
    assert http.post("/v1/users/kim/chat", json={"text": "hi"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert http.get("/v1/users/kim/memories", headers=wrong).status_code == 401
    ok = http.post("/v1/users/kim/chat", json={"text": "hi", "at": T0},
                   headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


def test_kindred_serve_command(tmp_path):
    """`kindred serve` as a user starts it: a separate process on loopback."""
    port = _free_port()
    exe = str(Path(sys.executable).parent / "kindred")
    proc = subprocess.Popen([exe, "serve", "--model", "fake", "--port", str(port),
                             "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "KINDRED_SERVICE__TOKEN": "tok"})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                health = httpx.get(base + "/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"kindred serve did not start: {proc.stdout.read()}")
                time.sleep(0.5)
        assert health.json()["model"] == "FakeListChatModel"
        headers = {"Authorization": "Bearer tok"}
        reply = httpx.post(base + "/v1/users/lee/chat", json={"text": "I play chess."},
                           headers=headers, timeout=60)
        assert reply.status_code == 200 and reply.json()["text"]
        assert httpx.get(base + "/v1/users/lee/persona", headers=headers).json()[0]["text"] == \
            "I play chess."
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (tmp_path / "data" / "kindred.db").exists()


def test_at_takes_iso_8601_and_a_bad_one_is_a_clear_422(serve):
    client = serve()
    ok = client.post("/v1/users/iso/chat", json={"text": "I play the cello.",
                                                  "at": "2026-11-20T18:00:00Z"})
    assert ok.status_code == 200
    assert ok.json()["trace"]["now"] == 1795197600.0  # 2026-11-20 18:00 UTC
    bad = client.post("/v1/users/iso/chat", json={"text": "Hi.", "at": "next tuesday"})
    assert bad.status_code == 422 and "ISO-8601" in bad.json()["detail"]


def test_the_docs_work_offline(serve):
    """The Swagger UI's assets come from the app itself, not from a CDN."""
    client = serve()
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn." not in page.text
    assets = [src for src in ("swagger-ui-bundle.js", "swagger-ui.css") if src in page.text]
    assert len(assets) == 2
    bundle = client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert client.get("/redoc").status_code == 200
