"""Checks on everything a caller hands Kindred, done before anything is stored.

Why up front: a rejected call must leave memory exactly as it was, and the error must say what to
do. Every public method of :class:`agent.Kindred` validates through here.

The rules, in one place:

* a **user id** is 1-128 ASCII characters, letters, digits and ``_ . @ -``, starting with a letter
  or a digit, matched whole (a trailing newline is not allowed to slip through);
* a **text** is a non-empty ``str`` of valid Unicode within the size limit: an unpaired UTF-16
  surrogate (``"\\ud800"`` in JSON) is refused, not replaced, so what is stored is what was sent;
  NUL and texts that are mostly control characters are refused as binary data. Other control,
  bidirectional and zero-width characters are kept as sent and neutralised where text is shown in
  a terminal (:func:`for_terminal`);
* a **time** is a datetime, an ISO-8601 string or seconds since the epoch, not ahead of this
  server's clock by more than a small tolerance (a setting): one far-future turn would otherwise
  make every later turn of the user "dated before the previous turn".
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from memory.errors import InvalidInputError
from memory.scope import Scope

__all__ = ["USER_ID_PATTERN", "check_scope", "check_text", "check_time", "check_user_id",
           "for_terminal"]

USER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_LATEST_YEAR = 9000  # datetime and time.gmtime stop near 9999: anything later is out of range
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# shown in a terminal, these would move the cursor, recolour the screen or reorder the text
_UNSAFE_FOR_TERMINAL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def check_user_id(user_id: Any) -> str:
    if not isinstance(user_id, str):
        raise InvalidInputError(f"user_id must be a string, got {type(user_id).__name__}.")
    if not USER_ID_PATTERN.fullmatch(user_id):
        raise InvalidInputError(
            f"Invalid user_id {user_id[:40]!r}: use 1-128 characters, letters, digits and _ . @ - "
            "only, starting with a letter or digit (e.g. 'alice' or 'user-42').")
    return user_id


def check_scope(who: Any) -> Scope:
    """A user id (the default tenant) or a :class:`Scope`, both parts checked like a user id."""
    if isinstance(who, Scope):
        check_user_id(who.user)
        if not isinstance(who.tenant, str) or not USER_ID_PATTERN.fullmatch(who.tenant):
            raise InvalidInputError(f"Invalid tenant {str(who.tenant)[:40]!r}: use 1-128 "
                                    "letters, digits and _ . @ -, starting with a letter or digit.")
        return who
    return Scope(user=check_user_id(who))


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
            "Split it into smaller messages, or raise KINDRED_LIMITS__MAX_MESSAGE_CHARS.")
    bad = _SURROGATE.search(text)
    if bad:
        raise InvalidInputError(
            f"The {what} is not valid Unicode: an unpaired surrogate (U+{ord(bad.group()):04X}) "
            f"at character {bad.start()}. Send UTF-8 text (in JSON, surrogates only in pairs).")
    if "\x00" in text or _control_share(text) > 0.1:
        raise InvalidInputError(f"The {what} looks like binary data (control characters): "
                                "send plain text.")
    return text.strip()


def _control_share(text: str) -> float:
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t")
    return controls / len(text)


def check_time(at: Any, *, default: float | None, latest: float | None = None) -> float | None:
    """Seconds since the epoch from ``at`` (None → ``default``), refused when after ``latest``
    (the server clock plus its tolerance) or out of the calendar's range."""
    if at is None:
        return default
    if isinstance(at, bool):
        raise InvalidInputError("`at` must be a datetime or a number of seconds, not a bool.")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip())
        except ValueError:
            raise InvalidInputError(f"`at` {at[:40]!r} is not an ISO-8601 date-time: write it like "
                                    "2026-12-01T09:30:00Z, or give seconds since the epoch."
                                    ) from None
    if isinstance(at, datetime):
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # naive datetimes are taken as UTC
        seconds = at.timestamp()
    elif isinstance(at, (int, float)):
        if not math.isfinite(at) or at < 0:
            raise InvalidInputError(f"`at` must be a finite, non-negative timestamp, got {at!r}.")
        seconds = float(at)
    else:
        raise InvalidInputError(f"`at` must be a datetime, an ISO-8601 string or seconds since "
                                f"the epoch, got {type(at).__name__}.")
    if seconds < 0 or seconds > _year_start(_LATEST_YEAR):
        raise InvalidInputError(f"`at` {at!r} is out of range: give a time between 1970 and "
                                f"{_LATEST_YEAR}.")
    if latest is not None and seconds > latest:
        ahead = seconds - latest
        raise InvalidInputError(
            f"`at` is {ahead:,.0f} s later than this server's clock allows (now plus the "
            "tolerance): send the time the message was written, from a synchronised clock, or "
            "raise KINDRED_LIMITS__FUTURE_TOLERANCE_S.")
    return seconds


def _year_start(year: int) -> float:
    return datetime(year, 1, 1, tzinfo=UTC).timestamp()


def for_terminal(text: str) -> str:
    """``text`` safe to print in a terminal: control, bidirectional and zero-width characters
    (which could move the cursor, recolour the screen or reorder what is shown) as visible
    ``\\u`` escapes; line breaks and tabs kept."""
    return _UNSAFE_FOR_TERMINAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
