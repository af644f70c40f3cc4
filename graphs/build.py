"""Wiring: the turn graph, built from injected services and compiled with a checkpointer.

One graph, entry points chosen by the run's ``kind``::

    turn:        perceive → [consolidate | capture_feedback] → extract_persona → retrieve
                 → generate → review → check_persona → write_back
                 (capture_feedback: the turn corrects the last reply; review strips copied
                 instructions and regenerates once a reply that repeats an earlier one;
                 check_persona regenerates once when the reply contradicts the agent's card or
                 established traits)
    observe:     perceive → [consolidate] → extract_persona → write_back   (replayed dialogue)
    end_session: close_session → [consolidate]
    feedback:    feedback
    preview:     perceive → extract_persona → retrieve → generate → review → check_persona
                 (the reply a turn would give, storing nothing; compiled without a checkpointer)

All share the user's thread (``thread_id`` = user id) in the checkpointer, so a session, its
short-term memory and "the last request" survive a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.nodes import (
    make_capture_feedback,
    make_check_persona,
    make_close_session,
    make_consolidate,
    make_extract_persona,
    make_feedback,
    make_generate,
    make_perceive,
    make_retrieve,
    make_review,
    make_write_back,
)
from graphs.config import GraphConfig
from graphs.services import Services
from graphs.state import TurnContext, TurnState
from graphs.trace import Trace
from memory.scope import Scope, as_scope

__all__ = ["NODE_NAMES", "build_graph", "compile_graph", "draw_mermaid", "thread_config"]

NODE_NAMES = ("perceive", "consolidate", "capture_feedback", "extract_persona", "retrieve",
              "generate", "review", "check_persona", "write_back", "close_session", "feedback")


def _timed(name: str, fn: Callable[[TurnState, Runtime[TurnContext]], dict[str, Any]]):
    """Wrap a node so its wall time lands in ``trace['timings_ms']`` (for the trace and benchmarks)."""

    def node(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        start = time.perf_counter()
        update = fn(state, runtime)
        trace = update.get("trace") or state.get("trace") or Trace()
        timings = {**trace.timings_ms, name: round((time.perf_counter() - start) * 1000, 3)}
        return {**update, "trace": trace.model_copy(update={"timings_ms": timings})}

    node.__name__ = name
    return node


def _entry(state: TurnState) -> str:
    return {"turn": "perceive", "observe": "perceive", "preview": "perceive",
            "feedback": "feedback", "end_session": "close_session"}[state.get("kind", "turn")]


def _after_perceive(state: TurnState) -> str:
    if state.get("kind") == "preview":  # stores nothing: no consolidation, no correction
        return "extract_persona"
    if state.get("ended_session"):
        return "consolidate"
    return "capture_feedback" if state.get("is_correction") else "extract_persona"


def _after_consolidate(state: TurnState) -> str:
    return END if state.get("kind") == "end_session" else "extract_persona"


def _after_persona(state: TurnState) -> str:
    return "write_back" if state.get("kind") == "observe" else "retrieve"


def _after_check(state: TurnState) -> str:
    return END if state.get("kind") == "preview" else "write_back"


def _after_close(state: TurnState) -> str:
    return "consolidate" if state.get("ended_session") else END


def build_graph(services: Services) -> StateGraph:
    """The uncompiled graph (for drawing, or compiling with another checkpointer)."""
    graph = StateGraph(TurnState, context_schema=TurnContext)
    factories = {"perceive": make_perceive, "consolidate": make_consolidate,
                 "extract_persona": make_extract_persona, "retrieve": make_retrieve,
                 "generate": make_generate, "review": make_review, "write_back": make_write_back,
                 "close_session": make_close_session, "feedback": make_feedback,
                 "capture_feedback": make_capture_feedback, "check_persona": make_check_persona}
    for name in NODE_NAMES:
        graph.add_node(name, _timed(name, factories[name](services)))
    graph.add_conditional_edges(START, _entry, ["perceive", "feedback", "close_session"])
    graph.add_conditional_edges("perceive", _after_perceive,
                                ["consolidate", "capture_feedback", "extract_persona"])
    graph.add_edge("capture_feedback", "extract_persona")
    graph.add_conditional_edges("consolidate", _after_consolidate, ["extract_persona", END])
    graph.add_conditional_edges("close_session", _after_close, ["consolidate", END])
    graph.add_conditional_edges("extract_persona", _after_persona, ["retrieve", "write_back"])
    graph.add_edge("retrieve", "generate")
    graph.add_edge("generate", "review")
    graph.add_edge("review", "check_persona")
    graph.add_conditional_edges("check_persona", _after_check, ["write_back", END])
    graph.add_edge("write_back", END)
    graph.add_edge("feedback", END)
    return graph


def compile_graph(services: Services, checkpointer: Any = None):
    """Compile with a checkpointer (SQLite in Kindred) so each user's thread survives restarts."""
    return build_graph(services).compile(checkpointer=checkpointer)


def thread_config(who: Scope | str, conversation: str = "") -> dict[str, Any]:
    """The run config of one conversation's thread: ``user:<scope key>`` for the user's default
    conversation (the id threads had before conversations existed), ``…#<conversation>`` for
    the others (neither a user id nor a tenant can hold '#')."""
    key = as_scope(who).key
    suffix = f"#{conversation}" if conversation else ""
    return {"configurable": {"thread_id": f"user:{key}{suffix}"}}


def draw_mermaid() -> str:
    """The graph as a Mermaid diagram. Drawing never runs a node, so no stores are opened."""
    placeholder = Services(memory=None, personas=None, user_extractor=None,  # type: ignore[arg-type]
                           agent_extractor=None, summariser=None, chat_model=None,
                           card=None, config=GraphConfig())  # type: ignore[arg-type]
    return build_graph(placeholder).compile().get_graph().draw_mermaid()
