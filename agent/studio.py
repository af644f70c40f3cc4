"""Kindred's graph for LangGraph's own tooling (``langgraph.json``: LangGraph Studio, the
LangGraph server, ``langgraph dev``).

Why a factory: the graph needs Kindred's memory and model, built from the ``KINDRED_*``
settings of the process that loads it; LangGraph calls :func:`make_graph` once and supplies its
own checkpointer, so the graph is compiled without one. A run takes the turn as input
(``{"kind": "turn", "text": "..."}``) and whose memory it is as its context
(``{"user_id": "alice", "now": <seconds>}``, :class:`graphs.TurnContext`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_graph"]

_bots: list[Any] = []


def make_graph(config: Any = None) -> Any:
    """The compiled turn graph over a Kindred made from the environment's settings."""
    from agent.kindred import Kindred
    from memory.process import apply_process_defaults

    apply_process_defaults()  # LangGraph's server owns the process, as `kindred serve` does
    if not _bots:
        _bots.append(Kindred())
    return _bots[0].build_graph()
