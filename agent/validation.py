"""Checks on everything a caller hands Kindred, done before anything is stored.

Why up front: a rejected call must leave memory exactly as it was, and the error must say what to
do. Every public method of :class:`agent.Kindred` validates through here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from memory.errors import InvalidInputError

__all__ = ["USER_ID_PATTERN", "check_text", "check_time", "check_user_id"]

USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def check_user_id(user_id: Any) -> str:
    if not isinstance(user_id, str):
        raise InvalidInputError(f"user_id must be a string, got {type(user_id).__name__}.")
    if not USER_ID_PATTERN.match(user_id):
        raise InvalidInputError(
            f"Invalid user_id {user_id[:40]!r}: use 1-128 characters, letters, digits and _ . @ - "
            "only, starting with a letter or digit (e.g. 'alice' or 'user-42').")
    return user_id


def check_text(text: Any, *, max_chars: int, what: str = "message") -> str:
    if isinstance(text, (bytes, bytearray)):
        raise InvalidInputError(f"The {what} is bytes: decode it to str first "
                                "(e.g. data.decode('utf-8')).")
    if not isinstance(text, str):
        raise InvalidInputError(f"The {what} must be a string, got {type(text).__name__}.")
    if not text.strip():
        raise InvalidInputError(f"The {what} is empty: send some text.")
    if len(text) > max_chars:
        raise InvalidInputError(
            f"The {what} has {len(text):,} characters, more than the limit of {max_chars:,}. "
            "Split it into smaller messages, or raise KINDRED_MAX_MESSAGE_CHARS.")
    if "\x00" in text or _control_share(text) > 0.1:
        raise InvalidInputError(f"The {what} looks like binary data (control characters): "
                                "send plain text.")
    return text.strip()


def _control_share(text: str) -> float:
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t")
    return controls / len(text)


def check_time(at: Any, *, default: float) -> float:
    """Seconds since the epoch from ``at`` (None → ``default``, the caller's wall clock)."""
    if at is None:
        return default
    if isinstance(at, bool):
        raise InvalidInputError("`at` must be a datetime or a number of seconds, not a bool.")
    if isinstance(at, datetime):
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # naive datetimes are taken as UTC
        return at.timestamp()
    if isinstance(at, (int, float)):
        if not math.isfinite(at) or at < 0:
            raise InvalidInputError(f"`at` must be a finite, non-negative timestamp, got {at!r}.")
        return float(at)
    raise InvalidInputError(f"`at` must be a datetime or seconds since the epoch, got "
                            f"{type(at).__name__}.")
