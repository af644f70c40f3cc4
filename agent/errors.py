"""Kindred's errors, for users of the API: one root, :class:`KindredError`.

They are defined in :mod:`memory.errors` (the bottom layer, so every package can raise them) and
re-exported here so ``from agent.errors import KindredError`` is the one import a user needs.
"""

from memory.errors import (
                           BadRequestError,
                           ConfigurationError,
                           ConflictError,
                           InvalidInputError,
                           KindredError,
                           ModelUnavailableError,
                           NotFoundError,
                           StoreError,
                           UnknownUserError,
)

__all__ = [
                           "BadRequestError",
                           "ConfigurationError",
                           "ConflictError",
                           "InvalidInputError",
                           "KindredError",
                           "ModelUnavailableError",
                           "NotFoundError",
                           "StoreError",
                           "UnknownUserError",
]
