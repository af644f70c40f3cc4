"""The embedded stores serve one process per data dir: a second process is refused at start with a
message naming the way out, and a killed process leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port as _free_port

from agent import Kindred, StoreError

KINDRED = str(Path(sys.executable).parent / "kindred")


def _start(data_dir: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([KINDRED, "serve", "--model", "fake", "--port", str(port),
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    deadline = time.time() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc, port
        except httpx.TransportError:
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"kindred serve did not start: {proc.stdout.read()}")
            time.sleep(0.5)


def test_a_second_process_on_one_data_dir_is_refused(tmp_path, embedder):
    data = tmp_path / "data"
    first, port = _start(data)
    try:
        httpx.post(f"http://127.0.0.1:{port}/v1/users/ann/chat",
                   json={"text": "I play the cello."}, timeout=60).raise_for_status()
        second = subprocess.run([KINDRED, "serve", "--model", "fake", "--port",
                                 str(_free_port()), "--data-dir", str(data)],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        said = " ".join(second.stderr.split())
        assert f"in use by process {first.pid}" in said and "KINDRED_DATABASE_URL" in said
        with pytest.raises(StoreError, match="serve one process at a time"):
            Kindred(data_dir=data, chat_model="fake", embedder=embedder)
    finally:
        first.send_signal(signal.SIGKILL)  # the kernel drops the lock with the process
        first.wait(timeout=30)
    with Kindred(data_dir=data, chat_model="fake", embedder=embedder) as bot:
        assert [t.text for t in bot.persona("ann")] == ["I play the cello."]
        with Kindred(data_dir=data, chat_model="fake", embedder=embedder) as again:
            assert again.known_user("ann")  # the same process may open a dir twice
