"""Schemathesis against the service's own OpenAPI document, on a real server on loopback: no
request it generates gets a 5xx or an answer outside the one error shape, and the stores stay
consistent afterwards. The example count is bounded so the suite stays quick."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from agent import Kindred
from agent.service import create_app
from memory.scope import Scope
from test_service import _Server


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    bot = Kindred(data_dir=tmp_path_factory.mktemp("schemathesis"), chat_model="fake",
                  embedder=embedder)
    bot.chat("alice", "My dog is called Biscuit.")  # a known user for the routes that need one
    server = _Server(create_app(bot))
    client = server.__enter__()
    yield bot, client
    server.__exit__(None, None, None)
    bot.close()


def test_no_request_gets_a_server_error_or_another_error_shape(served):
    """Every operation of the document, up to 25 generated requests each."""
    from hypothesis import given

    _, client = served
    schema = schemathesis.openapi.from_url(f"{client.base_url}/openapi.json")
    failures, checked = [], 0
    def run(operation) -> None:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            nonlocal checked
            response = case.call(timeout=60)
            checked += 1
            shaped = response.status_code < 400 or {"error", "detail"} <= set(response.json())
            if response.status_code >= 500 or not shaped:
                failures.append((operation.label, response.status_code, response.text[:200]))

        check()

    for result in schema.get_all_operations():
        run(result.ok())
    print(f"schemathesis: {checked} requests")
    assert checked > 100 and failures == []


def test_the_stores_agree_after_the_run(served):
    bot, _ = served
    for user in bot.users():
        scope = Scope(user)
        records = {r.id for r in bot.memory.stores.records.list(scope, "turn")}
        vectors = {i["id"] for i in bot.memory.stores.vectors.get("turns", scope)}
        assert records == vectors, user
