"""Failures that explain themselves: a model that is down, slow or talks garbage is one clear
error in the API, the terminal chat and the service, and nothing of the turn is stored."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pexpect
import pytest

from conftest import T0
from memory.errors import ModelUnavailableError

KINDRED = str(Path(sys.executable).parent / "kindred")


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


class _Garbage(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"<html>this is not the OpenAI API</html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def garbage_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _stores(bot, user):
    values = bot.graph.get_state({"configurable": {"thread_id": f"user:{user}"}}).values
    return (bot.memory.turns.count(user), len(bot.memory.events.list(user)),
            [t.text for t in bot.personas.list(user, include_history=True)],
            values.get("session_id"), [t.text for t in values.get("stm") or []],
            values.get("last_ts"))


@pytest.mark.parametrize("where", ["dead", "garbage"])
def test_a_failing_model_is_one_error_and_the_turn_is_not_stored(make_bot, where, garbage_url):
    url = _dead_url() if where == "dead" else garbage_url
    bot = make_bot(chat_model="openai:tiny", base_url=url, api_key="k",
                   generation={"timeout_s": 5, "max_retries": 0})
    with pytest.raises(ModelUnavailableError) as caught:
        bot.chat("zoe", "I sail every weekend.", at=T0)
    message = str(caught.value)
    assert "did not answer" in message and "the turn was not stored" in message
    assert "127.0.0.1" in message and len(message.splitlines()) == 1
    assert _stores(bot, "zoe") == (0, 0, [], None, [], None)
    assert not bot.known_user("zoe")


def test_a_failure_after_a_session_ended_leaves_the_thread_as_it_was(make_bot, tmp_path):
    """The turn that starts a new session fails at generation: the old session is not half
    closed (the thread is put back; the event of the ended session may be written, complete)."""
    from fakes import RecordingChatModel

    def respond(messages):
        if "fail now" in messages[-1].content:
            raise ConnectionError("the server went away")
        return "Noted."

    bot = make_bot(chat_model=RecordingChatModel(respond), personas={"extractor": "rules"},
                   generation={"summariser": {"kind": "extractive"}})
    bot.chat("zoe", "My boat is called Wave.", at=T0)
    before = _stores(bot, "zoe")
    with pytest.raises(ModelUnavailableError, match="ConnectionError"):
        bot.chat("zoe", "please fail now", at=T0 + 3 * 86400)
    after = _stores(bot, "zoe")
    assert after[0] == before[0] and after[3:] == before[3:]  # turns and thread unchanged
    reply = bot.chat("zoe", "Are you back?", at=T0 + 3 * 86400 + 5)
    assert reply.text == "Noted." and reply.session_id == "s0002"
    assert [t.text for t in bot.memory.turns.list("zoe")] == [
        "My boat is called Wave.", "Noted.", "Are you back?", "Noted."]


def test_the_terminal_chat_says_one_line_and_goes_on(tmp_path):
    env = {**os.environ, "COLUMNS": "160", "TERM": "dumb", "NO_COLOR": "1",
           "KINDRED_BASE_URL": _dead_url(), "KINDRED_API_KEY": "k",
           "KINDRED_GENERATION__TIMEOUT_S": "5", "KINDRED_GENERATION__MAX_RETRIES": "0"}
    child = pexpect.spawn(KINDRED, ["chat", "--user", "zoe", "--model", "openai:tiny",
                                    "--data-dir", str(tmp_path / "d")],
                          env=env, encoding="utf-8", timeout=120, dimensions=(50, 160))
    child.expect_exact("zoe ›")
    child.sendline("I sail every weekend.")
    child.expect_exact("zoe ›")
    out = child.before
    assert "did not answer" in out and "the turn was not stored" in out
    assert "Traceback" not in out and out.count("\n") < 8
    child.sendline("/memory")
    child.expect_exact("zoe ›")
    assert "don't remember anything" in child.before
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_the_service_answers_a_json_503(make_bot):
    from fastapi.testclient import TestClient

    from agent.service import create_app

    bot = make_bot(chat_model="openai:tiny", base_url=_dead_url(), api_key="k",
                   generation={"timeout_s": 5, "max_retries": 0})
    client = TestClient(create_app(bot))
    res = client.post("/v1/users/zoe/chat", json={"text": "Hello there, I sail."})
    assert res.status_code == 503
    body = res.json()
    assert body["error"] == "ModelUnavailableError" and "did not answer" in body["detail"]
    streamed = client.post("/v1/users/zoe/chat/stream", json={"text": "Hello there, I sail."})
    lines = [json.loads(line) for line in streamed.text.splitlines() if line.strip()]
    assert lines and lines[-1].get("error", {}).get("error") == "ModelUnavailableError"
