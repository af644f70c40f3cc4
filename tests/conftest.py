"""Shared fixtures: the real embedder and spaCy (loaded once), real Chroma (embedded and server),
real SQLite, and agents on temporary data dirs with langchain-core's fake chat models."""

from __future__ import annotations

import uuid
from pathlib import Path

from memory.process import apply_process_defaults

apply_process_defaults()  # the test run owns its process: thread/offline defaults before torch

import pytest  # noqa: E402
import servers  # noqa: E402

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


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real Chroma server on loopback (``chroma run``), for the client/server backend."""
    try:
        with servers.chroma_server(tmp_path_factory.mktemp("chroma-server")) as address:
            yield address
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server on loopback (Debian's package; ``make services`` installs it)."""
    try:
        with servers.postgres_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def pg_schemas(postgres):
    """Make fresh schemas of the session's PostgreSQL (each URL sets its search_path), so tests,
    and deployments within a test, never see each other's rows; all dropped afterwards."""
    import psycopg

    made: list[str] = []

    def make() -> str:
        schema = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return f"{postgres}?options=-csearch_path%3D{schema}"

    yield make
    with psycopg.connect(postgres, autocommit=True) as conn:
        for schema in made:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def database_url(pg_schemas) -> str:
    """One fresh PostgreSQL schema for the test."""
    return pg_schemas()


# the backend pairs every conformance test runs on: records+words, vectors
BACKENDS = ["sqlite-embedded", "sqlite-server", "postgres-embedded", "postgres-server"]


def storage_for(request, backend: str, *, fresh: bool = False) -> dict:
    """The storage settings of one backend pair (servers started on first use); ``fresh``: a
    deployment of its own (another PostgreSQL schema)."""
    records, vectors = backend.split("-")
    storage: dict = {}
    if records == "postgres":
        storage["database_url"] = (request.getfixturevalue("pg_schemas")() if fresh else
                                   request.getfixturevalue("database_url"))
    if vectors == "server":
        host, port = request.getfixturevalue("chroma_server")
        storage.update(chroma_host=host, chroma_port=port)
    return storage


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


@pytest.fixture(params=["sqlite", "postgres"])
def record_backend(request, tmp_path):
    """Records and words in SQLite and in PostgreSQL: (record store, lexical index)."""
    if request.param == "sqlite":
        database = Database(tmp_path / "kindred.db")
        yield SqliteRecordStore(database), SqliteLexicalIndex(database)
        database.close()
    else:
        from memory.backends.postgres import PgDatabase, PgLexicalIndex, PgRecordStore

        pg = PgDatabase(request.getfixturevalue("database_url"), max_connections=4)
        yield PgRecordStore(pg), PgLexicalIndex(pg)
        pg.close()


@pytest.fixture
def stores(record_backend, index) -> Stores:
    """Every backend pair: records and words in SQLite or PostgreSQL, vectors in embedded Chroma
    or a Chroma server (the conformance suite: each test using it runs on all four)."""
    records, lexical = record_backend
    return Stores(records=records, lexical=lexical, vectors=index)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def hub(request, backend, tmp_path, embedder, topics) -> MemoryHub:
    from memory.backends import StorageConfig

    h = MemoryHub.open(tmp_path / "data", embedder=embedder, topics=topics,
                       storage=StorageConfig(**storage_for(request, backend)))
    if backend.endswith("server"):
        h.stores.vectors.reset()
    yield h
    h.close()


# agent-level modules that also run on every backend pair (their make_bot is parametrised)
CONFORMANCE_MODULES = {"test_memory_api", "test_conversations", "test_pipeline", "test_recall",
                       "test_tenants"}


def pytest_generate_tests(metafunc):
    if ("make_bot" in metafunc.fixturenames and "backend" not in metafunc.fixturenames
            and metafunc.module.__name__.rsplit(".", 1)[-1] in CONFORMANCE_MODULES):
        metafunc.fixturenames.append("bot_backend")
        metafunc.parametrize("bot_backend", BACKENDS, indirect=True)


@pytest.fixture
def bot_backend(request) -> str:
    return getattr(request, "param", "sqlite-embedded")


@pytest.fixture
def make_bot(request, bot_backend, tmp_path, embedder):
    """Build ``Kindred`` agents on a data dir (the same dir again simulates a restart); in the
    conformance modules, once per backend pair."""
    from agent import Kindred

    bots = []
    default_dir = tmp_path / "kindred"
    storages = {default_dir: storage_for(request, bot_backend)}  # a data dir is a deployment
    if bot_backend.endswith("server"):
        host, port = request.getfixturevalue("chroma_server")
        ChromaVectorIndex.server(host, port).reset()

    def build(chat_model="fake", data_dir: Path | None = None, **overrides):
        data_dir = Path(data_dir or default_dir)
        if data_dir not in storages:
            storages[data_dir] = storage_for(request, bot_backend, fresh=True)
        if storages[data_dir] and "storage" not in overrides:
            overrides["storage"] = dict(storages[data_dir])
        bot = Kindred(data_dir=data_dir, chat_model=chat_model,
                      embedder=overrides.pop("embedder", embedder),
                      model_cache_dir=tmp_path / "no-models", **overrides)
        bots.append(bot)
        return bot

    yield build
    for bot in bots:
        bot.close()  # idempotent
