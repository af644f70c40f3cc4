"""Tenants and API keys: a key opens one tenant, user ids are scoped by tenant, keys are checked
before the body is read and never shown; with no keys `kindred serve` binds loopback only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import T0
from servers import free_port as _free_port
from fakes import RecordingChatModel
from test_service import _Server

from agent.service import create_app
from agent.service.auth import ApiKeys, digest

KINDRED = str(Path(sys.executable).parent / "kindred")


@pytest.fixture
def tenants(make_bot, tmp_path):
    """A server with a keys file of two tenants, made by `kindred keys add`."""
    keys_file = tmp_path / "keys.json"
    made = {}
    for tenant in ("acme", "globex"):
        out = subprocess.run([KINDRED, "keys", "add", "--tenant", tenant, "--file",
                              str(keys_file)], capture_output=True, text=True, check=True)
        made[tenant] = out.stdout.strip()
    bot = make_bot(chat_model=RecordingChatModel(replies=["Noted."]),
                   personas={"extractor": "rules"},
                   service={"api_keys_file": keys_file})
    server = _Server(create_app(bot))
    http = server.__enter__()
    yield http, made, keys_file, bot
    server.__exit__(None, None, None)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_keys_file_holds_digests_only(tenants):
    _, made, keys_file, _ = tenants
    text = keys_file.read_text()
    stored = json.loads(text)["keys"]
    assert [e["tenant"] for e in stored] == ["acme", "globex"]
    assert [e["sha256"] for e in stored] == [digest(made["acme"]), digest(made["globex"])]
    assert made["acme"] not in text and made["globex"] not in text
    assert oct(keys_file.stat().st_mode)[-3:] == "600"


def test_two_tenants_never_see_each_other(tenants):
    http, made, _, bot = tenants
    a, g = _auth(made["acme"]), _auth(made["globex"])
    http.post("/v1/users/alice/chat", json={"text": "My cat is called Pixel.", "at": T0},
              headers=a).raise_for_status()
    http.post("/v1/users/alice/chat", json={"text": "I live in Oslo.", "at": T0},
              headers=g).raise_for_status()
    acme = openai.OpenAI(base_url=f"{http.base_url}/v1", api_key=made["acme"], max_retries=0)
    asked = acme.chat.completions.create(model="kindred", user="alice", messages=[
        {"role": "user", "content": "Where do I live and what is my cat called?"}])
    trace = http.get(f"/v1/traces/{asked.id}", params={"user": "alice"}, headers=a).json()
    shown = json.dumps(trace)
    assert "Pixel" in shown and "Oslo" not in shown
    assert http.get(f"/v1/traces/{asked.id}", params={"user": "alice"},
                    headers=g).status_code == 404
    assert [t["text"] for t in http.get("/v1/users/alice/persona", headers=g).json()] == \
        ["I live in Oslo."]
    assert "Pixel" not in json.dumps(http.get("/v1/users/alice/export", headers=g).json())
    assert http.get("/v1/users", headers=a).json() == {"tenant": "acme", "users": ["alice"]}
    http.post("/v1/users/bob/chat", json={"text": "Hi.", "at": T0}, headers=g)
    assert http.get("/v1/users", headers=g).json()["users"] == ["alice", "bob"]
    assert http.get("/v1/users/bob/persona", headers=a).status_code == 404
    made = http.post("/v1/users/alice/conversations", json={"id": "trip"}, headers=g)
    assert made.status_code == 201
    assert [c["id"] for c in http.get("/v1/users/alice/conversations", headers=a).json()] == \
        ["default"]
    assert http.post("/v1/users/alice/chat", json={"text": "Hi.", "conversation": "trip"},
                     headers=a).status_code == 404
    # forgetting acme's alice leaves globex's alice as she was
    before = http.get("/v1/users/alice/export", headers=g).json()
    assert http.delete("/v1/users/alice", headers=a).json()["held_memory"] is True
    after = http.get("/v1/users/alice/export", headers=g).json()
    before.pop("exported_at"), after.pop("exported_at")
    assert after == before
    assert bot.users("default") == []


def test_wrong_missing_and_bare_keys_are_refused_and_never_echoed(tenants):
    http, made, _, bot = tenants
    body = {"text": "Hello.", "at": T0}
    none = http.post("/v1/users/kim/chat", json=body)
    assert none.status_code == 401 and "Authorization: Bearer" in none.json()["detail"]
    bare = http.post("/v1/users/kim/chat", json=body, headers={"Authorization": made["acme"]})
    assert bare.status_code == 401 and "bare key" in bare.json()["detail"]
    assert made["acme"] not in bare.text
    wrong = http.post("/v1/users/kim/chat", json=body, headers=_auth("kdr_" + "x" * 40))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    lower = http.post("/v1/users/kim/chat", json=body,
                      headers={"Authorization": f"bearer {made['acme']}"})
    assert lower.status_code == 200  # the scheme is case-insensitive
    client = openai.OpenAI(base_url=f"{http.base_url}/v1", api_key="kdr_wrong-key-000000",
                           max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        client.chat.completions.create(model="kindred", user="kim",
                                       messages=[{"role": "user", "content": "Hi"}])
    assert http.get("/health").status_code == 200 and http.get("/").status_code == 200
    assert bot.users("default") == [] and bot.users("acme") == ["kim"]


def test_the_key_is_checked_before_the_body_is_read(tenants):
    """A 200 MB Content-Length with a wrong key: answered 401 at once, with no body sent."""
    http, *_ = tenants
    port = int(http.base_url.port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/users/kim/chat HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer kdr_not-a-real-key-0000\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n")
        started = time.perf_counter()
        answer = sock.recv(4096).decode()
        waited = time.perf_counter() - started
    assert answer.startswith("HTTP/1.1 401") and waited < 5


def test_keys_from_the_environment_map_to_tenants(make_bot):
    keys = ApiKeys()
    keys.add_pairs("acme:key-of-acme-000000000, globex:key-of-globex-0000000")
    assert keys.tenant_of("key-of-acme-000000000") == "acme"
    assert keys.tenant_of("key-of-globex-0000000") == "globex"
    assert keys.tenant_of("key-of-nobody-0000000") is None
    from agent import ConfigurationError

    with pytest.raises(ConfigurationError, match="tenant:key"):
        ApiKeys().add_pairs("just-a-key-without-a-tenant")
    with pytest.raises(ConfigurationError, match="shorter than 16"):
        ApiKeys().add_pairs("acme:short")


def _serve(args, env=None, wait=True):
    port = _free_port()
    proc = subprocess.Popen([KINDRED, "serve", "--model", "fake", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    return proc, port


def _started(proc, port) -> str:
    """Wait for the server, stop it, return what it printed."""
    deadline = time.time() + 120
    try:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"kindred serve did not start: {proc.stdout.read()}")
                time.sleep(0.5)
    finally:
        proc.terminate()
    return proc.communicate(timeout=30)[0]


def test_serve_binds_loopback_only_without_keys(tmp_path):
    proc, _ = _serve(["--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")])
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no API keys" in out and "--insecure" in out
    said = _started(*_serve(["--data-dir", str(tmp_path / "d")]))
    assert "No API keys configured: serving on loopback only" in said
    said = _started(*_serve(["--host", "0.0.0.0", "--insecure", "--data-dir",
                             str(tmp_path / "d")]))
    assert "--insecure: serving on 0.0.0.0 with no API keys" in said


def test_serve_with_a_keys_file_says_so_and_never_logs_a_key(tmp_path):
    keys_file = tmp_path / "keys.json"
    key = subprocess.run([KINDRED, "keys", "add", "--tenant", "acme", "--file", str(keys_file)],
                         capture_output=True, text=True, check=True).stdout.strip()
    proc, port = _serve(["--data-dir", str(tmp_path / "d")],
                        env={"KINDRED_API_KEYS_FILE": str(keys_file)})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(base + "/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"kindred serve did not start: {proc.stdout.read()}")
                time.sleep(0.5)
        ok = httpx.post(base + "/v1/users/lee/chat", json={"text": "I play chess."},
                        headers=_auth(key), timeout=60)
        assert ok.status_code == 200
        assert httpx.post(base + "/v1/users/lee/chat", json={"text": "x"},
                          headers=_auth(key + "0"), timeout=60).status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "1 API key(s) for tenant(s) acme" in out
    assert key not in out
