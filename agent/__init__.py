"""Kindred's public face: the agent, its settings, its replies and its errors.

    from agent import Kindred

Names are loaded on first use, so an application can run ``apply_process_defaults()`` (thread and
offline defaults that torch reads once, when it loads) before anything heavy is imported.
"""

from __future__ import annotations

from memory._lazy import lazy_exports

_EXPORTS = {
    "BadRequestError": "agent.errors",
    "ConfigurationError": "agent.errors",
    "ConflictError": "agent.errors",
    "Conversation": "memory.conversations",
    "ExportDocument": "agent.transfer",
    "MemoryItem": "agent.memory_api",
    "Scope": "memory.scope",
    "ScoredMemory": "agent.memory_api",
    "FeedbackReceipt": "agent.reply",
    "InvalidInputError": "agent.errors",
    "Kindred": "agent.kindred",
    "KindredError": "agent.errors",
    "LaterChange": "agent.reply",
    "MemoryView": "agent.reply",
    "NotFoundError": "agent.errors",
    "ModelUnavailableError": "agent.errors",
    "Recall": "agent.reply",
    "Reply": "agent.reply",
    "Retraction": "agent.reply",
    "RetrievedMemory": "agent.reply",
    "Settings": "agent.settings",
    "StoreError": "agent.errors",
    "Trace": "agent.reply",
    "UnknownUserError": "agent.errors",
    "Utterance": "agent.reply",
    "apply_process_defaults": "memory.process",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports('agent', _EXPORTS, globals())
