"""Shared fixtures: the real embedder and spaCy (loaded once), real Chroma (embedded and server),
real SQLite, and agents on temporary data dirs with langchain-core's fake chat models."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from memory.process import apply_process_defaults

apply_process_defaults()  # the test run owns its process: thread/offline defaults before torch

import pytest  # noqa: E402

from memory.backends import Stores  # noqa: E402
from memory.backends.chroma import ChromaVectorIndex  # noqa: E402
from memory.backends.sqlite import Database, SqliteLexicalIndex, SqliteRecordStore  # noqa: E402
from memory.embeddings import default_embedder  # noqa: E402
from memory.hub import MemoryHub  # noqa: E402
from memory.topics import TopicExtractor  # noqa: E402

DAY = 86400.0
T0 = 1_700_000_000.0  # a fixed "now" for replayed conversations (2023-11-14)


@pytest.fixture(scope="session")
def embedder():
    """The default embedder (all-MiniLM-L6-v2 on onnxruntime, exported on first use)."""
    return default_embedder("onnx")


@pytest.fixture(scope="session")
def topics() -> TopicExtractor:
    return TopicExtractor.shared()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real Chroma server on loopback (``chroma run``), for the client/server backend."""
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.fail("the `chroma` command is missing: install chromadb (make install)")
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(path), "--port", str(port),
                             "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ,
                                                            "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the Chroma server did not start within 60 s")
    yield ("127.0.0.1", port)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["embedded", "server"])
def index(request, tmp_path) -> ChromaVectorIndex:
    """The same tests run against embedded Chroma and a Chroma server."""
    if request.param == "embedded":
        idx = ChromaVectorIndex.embedded(tmp_path / "chroma")
    else:
        host, port = request.getfixturevalue("chroma_server")
        idx = ChromaVectorIndex.server(host, port)
        idx.reset()  # a server is shared by the session: give each test fresh collections
    yield idx
    idx.close()


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database(tmp_path / "kindred.db")
    yield database
    database.close()


@pytest.fixture
def stores(db, index) -> Stores:
    """Records and words in SQLite, vectors in Chroma (embedded and server)."""
    return Stores(records=SqliteRecordStore(db), lexical=SqliteLexicalIndex(db), vectors=index)


@pytest.fixture
def hub(tmp_path, embedder, topics) -> MemoryHub:
    h = MemoryHub.open(tmp_path / "data", embedder=embedder, topics=topics)
    yield h
    h.close()


@pytest.fixture
def make_bot(tmp_path, embedder):
    """Build ``Kindred`` agents on a data dir (the same dir again simulates a restart)."""
    from agent import Kindred

    bots = []

    def build(chat_model="fake", data_dir: Path | None = None, **overrides):
        bot = Kindred(data_dir=data_dir or tmp_path / "kindred", chat_model=chat_model,
                      embedder=overrides.pop("embedder", embedder),
                      model_cache_dir=tmp_path / "no-models", **overrides)
        bots.append(bot)
        return bot

    yield build
    for bot in bots:
        bot.close()  # idempotent
