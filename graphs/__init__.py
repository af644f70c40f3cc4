"""The LangGraph state machine behind every turn: state, nodes, prompts and wiring."""

from graphs.build import NODE_NAMES, build_graph, compile_graph, draw_mermaid, thread_config
from graphs.config import GenerationConfig, GraphConfig, RetrievalConfig, SessionConfig
from graphs.recall import Recall
from graphs.services import Services
from graphs.state import CHECKPOINT_TYPES, RunKind, StoredFeedback, TurnContext, TurnState
from graphs.trace import Trace

__all__ = [
           "CHECKPOINT_TYPES",
           "NODE_NAMES",
           "GenerationConfig",
           "GraphConfig",
           "Recall",
           "RetrievalConfig",
           "RunKind",
           "Services",
           "SessionConfig",
           "StoredFeedback",
           "Trace",
           "TurnContext",
           "TurnState",
           "build_graph",
           "compile_graph",
           "draw_mermaid",
           "thread_config",
]
