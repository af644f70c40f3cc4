"""Every error Kindred raises, under one root: :class:`KindredError`.

The errors live in the lowest layer (``memory``) so that every package can raise them without
importing upwards; ``agent.errors`` re-exports them for users. Each message says what happened
and what to do about it, so a caller can show it to a person unchanged.
"""

from __future__ import annotations

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


class KindredError(Exception):
    """Root of every error Kindred raises on purpose. Catch this to catch them all."""


class InvalidInputError(KindredError, ValueError):
    """A caller passed something Kindred cannot accept (empty text, a huge message, a bad id...).

    Raised before anything is stored, so a rejected call never changes memory.
    """


class BadRequestError(InvalidInputError):
    """A request lacks what it needs to be taken at all (whose memory it is): HTTP 400."""


class NotFoundError(KindredError, LookupError):
    """Something asked for by name or id does not exist (a model, a trace, an item)."""


class UnknownUserError(NotFoundError):
    """An operation needs a user Kindred has never seen (for example listing their memories)."""


class ConflictError(KindredError):
    """The request clashes with what is stored (a conversation id already taken, an import into
    a user who already has memory): HTTP 409. Nothing was changed."""


class ConfigurationError(KindredError):
    """A setting is missing, malformed or contradicts another one."""


class ModelUnavailableError(KindredError):
    """The chat model asked for cannot be built here (unknown name, missing package or file)."""


class StoreError(KindredError):
    """A store (Chroma, SQLite) failed or holds data this version cannot read."""
