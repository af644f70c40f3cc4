"""The base of every component's configuration.

Why a marker class: each component (the hybrid retriever, the feedback memory, the persona bank…)
declares its own constants as a frozen pydantic model next to the code that reads them, and takes
that model directly; ``agent.Settings`` nests the same models, so nothing is copied field by field
and every knob is reachable from ``KINDRED_*`` variables. ``tests/test_settings.py`` finds every
subclass and fails on one that ``Settings`` cannot reach.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ComponentConfig"]


class ComponentConfig(BaseModel):
    """Frozen, and a misspelt field is an error rather than a silently ignored knob."""

    model_config = ConfigDict(frozen=True, extra="forbid")
