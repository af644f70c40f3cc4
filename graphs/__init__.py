"""The LangGraph state machine behind every turn: state, nodes, prompts and wiring."""

from graphs.build import NODE_NAMES, build_graph, compile_graph, draw_mermaid, thread_config
from graphs.services import PipelineConfig, Services
from graphs.state import RunKind, TurnContext, TurnState

__all__ = [
           "NODE_NAMES",
           "PipelineConfig",
           "RunKind",
           "Services",
           "TurnContext",
           "TurnState",
           "build_graph",
           "compile_graph",
           "draw_mermaid",
           "thread_config",
]
