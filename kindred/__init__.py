"""``from kindred import Kindred``: the distribution's own name for the public API of ``agent``.

A thin alias, so that code can import the package by the name it installed
(``pip install kindred``); everything lives in :mod:`agent` and is loaded on first use.
"""

from __future__ import annotations

from typing import Any

import agent as _agent

__all__ = list(_agent.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_agent, name)
