"""Kindred's public face: the agent, its settings, its replies and its errors."""

from agent.errors import (
                          ConfigurationError,
                          InvalidInputError,
                          KindredError,
                          ModelUnavailableError,
                          StoreError,
                          UnknownUserError,
)
from agent.kindred import Kindred
from agent.reply import FeedbackReceipt, MemoryView, Reply, Retraction, Trace, Utterance
from agent.settings import Settings

__all__ = [
                          "ConfigurationError",
                          "FeedbackReceipt",
                          "InvalidInputError",
                          "Kindred",
                          "KindredError",
                          "MemoryView", "Utterance",
                          "ModelUnavailableError",
                          "Reply",
                          "Retraction",
                          "Settings",
                          "StoreError",
                          "Trace",
                          "UnknownUserError",
]
