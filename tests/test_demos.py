"""The demos run as a user would run them (with the fake model, so they are quick)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_embedding_demo_runs_and_remembers_across_sessions(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "demos" / "embed_in_your_bot.py"),
                          "--model", "fake", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "previous session became an event" in res.stdout
    assert "Lisbon" in res.stdout
    assert res.stdout.strip().endswith("alice's memory stays alice's: []")


def test_the_openai_client_demo_talks_to_kindred_serve(tmp_path):
    import os
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = str(Path(sys.executable).parent / "kindred")
    server = subprocess.Popen([exe, "serve", "--model", "fake", "--port", str(port),
                               "--data-dir", str(tmp_path / "d")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.time() < deadline, "kindred serve died"
                time.sleep(0.5)
        res = subprocess.run([sys.executable, str(ROOT / "demos" / "openai_client.py"),
                              "--base-url", f"http://127.0.0.1:{port}/v1"],
                             capture_output=True, text=True, timeout=300, check=False)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("alice, plain: ") and len(lines[1]) > len("alice, streamed: ")
    assert lines[-1] == "bob recalled: []"


def test_the_five_line_chatbot_remembers(tmp_path):
    import os

    code = [line for line in (ROOT / "demos" / "five_lines.py").read_text().split('"""')[2]
            .splitlines() if line.strip()]
    assert len(code) == 5  # the promise in its name
    res = subprocess.run([sys.executable, str(ROOT / "demos" / "five_lines.py"), "fake"],
                         input="My dog is called Biscuit.\nWhat is my dog called?\n",
                         capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "KINDRED_DATA_DIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.strip().splitlines()) == 2
    from agent import Kindred

    with Kindred(data_dir=tmp_path, chat_model="fake") as bot:
        assert [t.text for t in bot.persona("you")] == ["My dog is called Biscuit."]


def test_kindreds_graph_runs_as_a_subgraph_of_another_app(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "demos" / "subgraph_app.py"),
                          "--model", "fake", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["memory", "orders", "memory"]
    assert lines[1].endswith("Your order ships tomorrow.")
    assert lines[-1] == "Kindred recalled: ['My dog is called Biscuit.']"


def test_langgraph_json_exposes_the_graph(tmp_path, monkeypatch):
    import importlib.util
    import json

    from graphs import TurnContext

    spec = json.loads((ROOT / "langgraph.json").read_text())
    assert spec["dependencies"] == ["."]
    path, _, attr = spec["graphs"]["kindred"].partition(":")
    module_spec = importlib.util.spec_from_file_location("kindred_studio", ROOT / path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    monkeypatch.setenv("KINDRED_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KINDRED_CHAT_MODEL", "fake")
    graph = getattr(module, attr)()
    assert {"perceive", "retrieve", "generate", "write_back"} <= set(graph.get_graph().nodes)
    out = graph.invoke({"kind": "turn", "text": "I play the cello."},
                       context=TurnContext(user_id="studio", now=1_700_000_000.0))
    assert out["reply"] and out["stored_turn_ids"] == ["studio/s0001/0", "studio/s0001/1"]
