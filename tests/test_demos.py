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
